function Get-HostBrokerMember {
    <#
    .SYNOPSIS
    Gets a nested member of a wire object by path, or $null when any step is missing.

    .DESCRIPTION
    The module runs under Set-StrictMode, where reading a property an object does not have is an error; the
    documents the broker passes through (a credential spec) may leave out any of their members.
    #>
    [CmdletBinding()]
    [OutputType([object])]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [object] $InputObject,

        # Property names, outermost first, e.g. 'DomainJoinConfig', 'DnsName'.
        [Parameter(Mandatory)]
        [string[]] $Path
    )

    $current = $InputObject
    foreach ($name in $Path) {
        if ($null -eq $current) {
            return $null
        }
        if ($current -is [System.Collections.IDictionary]) {
            if (-not $current.Contains($name)) {
                return $null
            }
            $current = $current[$name]
            continue
        }
        $property = $current.PSObject.Properties[$name]
        if ($null -eq $property) {
            return $null
        }
        $current = $property.Value
    }
    # The comma keeps an array member as one object.
    , $current
}
