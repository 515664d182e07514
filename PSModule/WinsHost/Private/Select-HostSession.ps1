function Select-HostSession {
    <#
    .SYNOPSIS
    Picks sessions by name patterns or ids; returns @{ Found = sessions; Missing = names or ids matched by none }.

    .DESCRIPTION
    Names match case-insensitively with wildcards; each session is returned once, in the broker's order of
    -Session. A pattern without wildcards (or an id) that matches nothing is listed in Missing, so the
    cmdlets can report it as Get-Process does; a wildcard pattern that matches nothing is not.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [psobject[]] $Session,

        [string[]] $Name,

        [string[]] $Id
    )

    $found = New-Object System.Collections.Generic.List[psobject]
    $missing = New-Object System.Collections.Generic.List[string]
    $seen = New-Object System.Collections.Generic.HashSet[string]
    if ($PSBoundParameters.ContainsKey('Id')) {
        foreach ($wanted in $Id) {
            $hits = @($Session | Where-Object { [string]$_.Id -ceq $wanted })
            if ($hits.Count -eq 0) {
                $missing.Add($wanted)
            }
            foreach ($item in $hits) {
                if ($seen.Add([string]$item.Id)) {
                    $found.Add($item)
                }
            }
        }
    }
    else {
        foreach ($pattern in $Name) {
            $wildcard = New-Object System.Management.Automation.WildcardPattern $pattern, ([System.Management.Automation.WildcardOptions]::IgnoreCase)
            $hits = @($Session | Where-Object { $wildcard.IsMatch([string]$_.Name) })
            if ($hits.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($pattern)) {
                $missing.Add($pattern)
            }
            foreach ($item in $hits) {
                if ($seen.Add([string]$item.Id)) {
                    $found.Add($item)
                }
            }
        }
    }
    @{ Found = $found.ToArray(); Missing = $missing.ToArray() }
}
