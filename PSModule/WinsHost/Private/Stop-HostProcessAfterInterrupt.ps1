function Stop-HostProcessAfterInterrupt {
    <#
    .SYNOPSIS
    Asks the broker to stop a process whose Start-HostProcess -Wait was interrupted; never throws.

    .DESCRIPTION
    Called from the finally block of Start-HostProcess when its wait did not complete: Ctrl+C, a downstream
    'Select-Object -First N' that stopped the pipeline, or a wait that failed. The connection the wait used
    was closed by the client (the rest of the wait's response would otherwise be read as the next answer), so
    Invoke-HostRpc opens a fresh one to the same pipe.

    The broker also ends a process tied to a connection when that connection closes; asking explicitly makes
    the stop not depend on when the broker notices the close, and works the same for a process whose
    connection outlives the wait. Failures are only written to the verbose stream: this runs while the
    pipeline is being stopped, or while another error is already on its way to the caller.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [int] $ProcessId,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    try {
        $null = Invoke-HostRpc -Method 'process/stop' -Params @{ processId = $ProcessId } -Pipe $Pipe
        Write-Verbose "WinsHost: stopped host process $ProcessId after the wait for it was interrupted."
    }
    catch {
        Write-Verbose ("WinsHost: could not stop host process {0} after the wait for it was interrupted: {1}" -f $ProcessId, $_.Exception.Message)
    }
}
