function Wait-HostProcess {
    <#
    .SYNOPSIS
    Waits for host processes started through the broker to exit, like Wait-Process.

    .DESCRIPTION
    Asks the WinsHost broker to answer when a process has exited (the 'process/wait' method), one process
    after the other. The output of the processes is not streamed; collect it with Receive-HostProcessOutput.

    -Timeout limits the whole wait, as with Wait-Process: each process gets the time that is left. A process
    still running when it runs out is reported as the non-terminating error WinsHost.WaitTimeout (category
    OperationTimeout, TargetObject the process id), and the next one is waited for with no time left, so it
    is only checked. An unknown process id is WinsHost.NotFound; errors the broker returns for one process
    are non-terminating, so that the others are still waited for, and a lost connection ends the command.

    Ctrl+C stops waiting; the processes keep running.

    .PARAMETER Id
    The host process ids to wait for. The Id property of piped objects (Get-HostProcess, Start-HostProcess
    -PassThru) binds to it.

    .PARAMETER Timeout
    The most time, in seconds, to wait for all the processes together. Without it, the cmdlet waits until
    they have exited. 0 only checks.

    .PARAMETER PassThru
    Outputs a WinsHost.Process object for each process, as it is after the wait (also when it timed out).

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    $process = Start-HostProcess -FilePath C:\tools\setup.exe -ArgumentList '/quiet' -PassThru
    Wait-HostProcess -Id $process.Id -Timeout 600 -PassThru | Select-Object Id, State, ExitCode

    Starts an installer on the host, waits up to 10 minutes for it and shows its exit code.

    .EXAMPLE
    Get-HostProcess | Where-Object State -eq Running | Wait-HostProcess

    Waits until every running host process started through the broker has exited.

    .EXAMPLE
    Wait-HostProcess -Id 4120 -Timeout 0 -ErrorAction SilentlyContinue -ErrorVariable stillRunning

    Checks without waiting whether process 4120 has exited; $stillRunning holds a WinsHost.WaitTimeout error
    if not.

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
    [CmdletBinding()]
    [OutputType('WinsHost.Process')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [int[]] $Id,

        [Alias('TimeoutSec')]
        [ValidateRange(0, 2147483)]
        [int] $Timeout,

        [switch] $PassThru,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    begin {
        # One deadline for everything this command waits for, piped ids included.
        $deadline = $null
        if ($PSBoundParameters.ContainsKey('Timeout')) {
            $deadline = [datetime]::UtcNow.AddSeconds($Timeout)
        }
    }

    process {
        foreach ($processId in $Id) {
            $params = [ordered]@{ processId = $processId }
            if ($null -ne $deadline) {
                $remaining = [long][System.Math]::Ceiling(($deadline - [datetime]::UtcNow).TotalMilliseconds)
                if ($remaining -lt 0) {
                    $remaining = 0
                }
                $params['timeoutMs'] = $remaining
            }
            $params['stream'] = $false

            try {
                $result = Invoke-HostRpc -Method 'process/wait' -Params $params -Pipe $Pipe
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

            $process = ConvertTo-HostProcessInfo -InputObject $result
            if ($process.State -eq 'Running') {
                $seconds = 0
                if ($PSBoundParameters.ContainsKey('Timeout')) {
                    $seconds = $Timeout
                }
                $record = New-HostBrokerErrorRecord -ErrorId 'WaitTimeout' -Category OperationTimeout -ExceptionType Timeout `
                    -Message ("Host process {0} ({1}) is still running after the timeout of {2} seconds." -f $processId, $process.Path, $seconds) `
                    -TargetObject $processId -RecommendedAction 'Wait longer with a larger -Timeout, or end the process with Stop-HostProcess.'
                $PSCmdlet.WriteError($record)
            }
            if ($PassThru) {
                $process
            }
        }
    }
}
