function ConvertTo-HostExposedPort {
    <#
    .SYNOPSIS
    Normalizes a -Expose value to the protocol's form 'tcp/80', or returns $null when it is not a port.

    .DESCRIPTION
    Accepts 'tcp/80' and wins' 'TCP:80', in any case, with the protocol tcp or udp and a port from 1 to
    65535 (leading zeros are dropped). Start-HostProcess validates with this before it sends anything.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $Value
    )

    $match = [regex]::Match($Value.Trim(), '^(?<protocol>tcp|udp)\s*[/:]\s*(?<port>[0-9]{1,5})$', [System.Text.RegularExpressions.RegexOptions]::IgnoreCase)
    if (-not $match.Success) {
        return $null
    }
    $port = [int]$match.Groups['port'].Value
    if ($port -lt 1 -or $port -gt 65535) {
        return $null
    }
    '{0}/{1}' -f $match.Groups['protocol'].Value.ToLowerInvariant(), $port
}
