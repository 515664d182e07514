function Stop-HostProcess {
    <#
    .SYNOPSIS
    Stops host processes started through the broker, with their child processes.

    .DESCRIPTION
    Asks the WinsHost broker to stop a process (the 'process/stop' method). The broker first asks politely
    (SIGTERM to the process group on Linux, CTRL_BREAK on Windows), and ends the whole process tree by force
    when it has not exited after -Timeout seconds (5 by default). It answers once the process has exited.

    Only processes your profile started can be stopped. An unknown process id is WinsHost.NotFound; errors
    the broker returns for one process are non-terminating, so that the others are still stopped, and a lost
    connection ends the command. Stopping a process that has already exited is not an error.

    .PARAMETER Id
    The host process ids to stop. The Id property of piped objects (Get-HostProcess, Start-HostProcess
    -PassThru) binds to it.

    .PARAMETER Timeout
    Seconds between the polite request to exit and the forced end of the process tree, at most 600. Without it
    the broker's default (5 seconds) applies; 0 ends it by force at once.

    .PARAMETER PassThru
    Outputs a WinsHost.Process object for each stopped process, as it is after it exited.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .PARAMETER WhatIf
    Shows which processes would be stopped without asking the broker.

    .PARAMETER Confirm
    Asks for confirmation before stopping each process.

    .EXAMPLE
    Stop-HostProcess -Id 4120

    Stops host process 4120 and its child processes.

    .EXAMPLE
    Get-HostProcess | Where-Object Path -like '*nginx*' | Stop-HostProcess -WhatIf

    Shows which nginx processes on the host would be stopped.

    .EXAMPLE
    Stop-HostProcess -Id 4120 -Timeout 30 -PassThru | Select-Object Id, State, ExitCode, Signal

    Gives the process 30 seconds to shut down cleanly, then shows how it ended.

    .INPUTS
    System.Int32. The Id property of piped objects binds to -Id.

    .OUTPUTS
    WinsHost.Process with -PassThru; otherwise none.

    .LINK
    Start-HostProcess

    .LINK
    Get-HostProcess

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('WinsHost.Process')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [int[]] $Id,

        [Alias('TimeoutSec')]
        [ValidateRange(0, 600)]
        [int] $Timeout,

        [switch] $PassThru,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        foreach ($processId in $Id) {
            if (-not $PSCmdlet.ShouldProcess("host process $processId", 'Stop')) {
                continue
            }
            $params = [ordered]@{ processId = $processId }
            if ($PSBoundParameters.ContainsKey('Timeout')) {
                $params['timeoutMs'] = [long]$Timeout * 1000
            }

            try {
                $result = Invoke-HostRpc -Method 'process/stop' -Params $params -Pipe $Pipe
            }
            catch {
                $record = New-HostBrokerErrorRecord -ErrorRecord $_
                if (@('WinsHost.ConnectionError', 'WinsHost.ProtocolError') -contains $record.FullyQualifiedErrorId -or
                    $record.FullyQualifiedErrorId -notlike 'WinsHost.*') {
                    $PSCmdlet.ThrowTerminatingError($record)
                }
                $PSCmdlet.WriteError($record)
                continue
            }

            if ($PassThru) {
                ConvertTo-HostProcessInfo -InputObject $result
            }
        }
    }
}
