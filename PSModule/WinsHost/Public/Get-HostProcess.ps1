function Get-HostProcess {
    <#
    .SYNOPSIS
    Gets the host processes started through the broker that your profile can see.

    .DESCRIPTION
    Asks the WinsHost broker for the processes it started (the 'process/list' method): running ones, those
    that exited and were not collected yet, and detached ones that survived a broker restart. These are not
    all the processes of the host, only those started with Start-HostProcess.

    Each is a WinsHost.Process: Id (the host process id), Path, Arguments, WorkingDirectory, State (Running
    or Exited), ExitCode, Signal (the signal that ended it, Linux hosts), Detached, Exposes (ports opened for
    it), StartTime, ExitTime, and Rule (the policy rule that allowed it).

    With -Id only those processes are returned; an Id the broker does not list is reported as the
    non-terminating error WinsHost.ProcessNotFound (category ObjectNotFound).

    .PARAMETER Id
    The host process ids to get. Without it, every process is returned.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostProcess

    Lists the host processes started through the broker, with their state and exit code.

    .EXAMPLE
    Get-HostProcess | Where-Object State -eq Running | Stop-HostProcess -WhatIf

    Shows which running host processes Stop-HostProcess would stop.

    .EXAMPLE
    Get-HostProcess -Id 4120 | Format-List *

    Shows everything the broker knows about one process, including the policy rule that allowed it.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.Process

    .LINK
    Start-HostProcess

    .LINK
    Stop-HostProcess

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Process')]
    param(
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty()]
        [int[]] $Id,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    try {
        $result = Invoke-HostRpc -Method 'process/list' -Pipe $Pipe
    }
    catch {
        $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
    }

    # Assigned first: the helper returns the list as one object, and @() then holds its items.
    $list = Get-HostBrokerMember -InputObject $result -Path 'processes'
    $processes = @(foreach ($item in @($list)) {
            if ($null -ne $item) {
                ConvertTo-HostProcessInfo -InputObject $item
            }
        })

    if (-not $PSBoundParameters.ContainsKey('Id')) {
        $processes
        return
    }

    $seen = @{}
    foreach ($processId in $Id) {
        $matched = @($processes | Where-Object { $_.Id -eq $processId })
        if ($matched.Count -eq 0) {
            $record = New-HostBrokerErrorRecord -ErrorId 'ProcessNotFound' -Category ObjectNotFound -ExceptionType ItemNotFound `
                -Message "The broker has no host process with id $processId that your profile can see." -TargetObject $processId `
                -RecommendedAction 'Run Get-HostProcess to list the host processes started through the broker.'
            $PSCmdlet.WriteError($record)
            continue
        }
        if (-not $seen.ContainsKey($processId)) {
            $seen[$processId] = $true
            $matched
        }
    }
}
