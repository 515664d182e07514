function Find-HostSession {
    <#
    .SYNOPSIS
    The caller's host sessions picked by name patterns or ids, with a SessionNotFound error for each miss.

    .DESCRIPTION
    Asks the broker for the caller's sessions ('session/list'), then picks them: names match case-insensitively
    with wildcards, ids exactly; each session is returned once, in the broker's order. A pattern without
    wildcards (or an id) that matches nothing is written as a non-terminating WinsHost.SessionNotFound error
    through -Cmdlet, as Get-Process does; a wildcard pattern that matches nothing is not. Without -Name and
    -Id every session is returned. A broker error ends the cmdlet (ThrowTerminatingError).
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [string[]] $Name,

        [string[]] $Id,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    try {
        $sessions = @(Get-HostSessionFromBroker -Pipe $Pipe)
    }
    catch {
        $Cmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
    }
    $byId = $PSBoundParameters.ContainsKey('Id')
    if (-not $byId -and -not $PSBoundParameters.ContainsKey('Name')) {
        return $sessions
    }
    $wantedList = $Name
    if ($byId) {
        $wantedList = $Id
    }
    $seen = New-Object System.Collections.Generic.HashSet[string]
    foreach ($wanted in $wantedList) {
        if ($byId) {
            $hits = @($sessions | Where-Object { [string]$_.Id -ceq $wanted })
            $what = "with the id '$wanted'"
        }
        else {
            $wildcard = New-Object System.Management.Automation.WildcardPattern $wanted, ([System.Management.Automation.WildcardOptions]::IgnoreCase)
            $hits = @($sessions | Where-Object { $wildcard.IsMatch([string]$_.Name) })
            $what = "named '$wanted'"
        }
        if ($hits.Count -eq 0 -and ($byId -or -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($wanted))) {
            $Cmdlet.WriteError((New-HostBrokerErrorRecord -ErrorId 'SessionNotFound' -Category ObjectNotFound -ExceptionType ItemNotFound -TargetObject $wanted `
                        -Message "You have no host session $what."))
        }
        foreach ($item in $hits) {
            if ($seen.Add([string]$item.Id)) {
                $item
            }
        }
    }
}
