function Read-HostRpcStream {
    <#
    .SYNOPSIS
    Reads up to -Count bytes from the connection; returns how many were read, 0 at end of stream.

    .DESCRIPTION
    A synchronous Read on a pipe blocks in native code, where Ctrl+C (StopProcessing) cannot reach it. The
    read is therefore started asynchronously and waited for in short slices: PowerShell checks for a stop
    request between statements, and the caller's finally block closes the stream, which cancels the read.
    The same loop enforces -Deadline (used for the initialize handshake).
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection,

        [Parameter(Mandatory)]
        [byte[]] $Buffer,

        [Parameter(Mandatory)]
        [int] $Offset,

        [Parameter(Mandatory)]
        [int] $Count,

        [Parameter(Mandatory)]
        [string] $Method,

        [datetime] $Deadline = [datetime]::MaxValue
    )

    $activity = "The connection to the WinsHost broker was lost while waiting for the response to '$Method'"
    if ($null -eq $Connection.Stream) {
        throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity $activity -Reason 'the connection is closed')
    }

    try {
        $task = $Connection.Stream.ReadAsync($Buffer, $Offset, $Count)
    }
    catch {
        $inner = Get-HostBrokerInnerException -Exception $_.Exception
        throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity $activity -Reason $inner.Message -InnerException $inner)
    }

    $tasks = [System.Threading.Tasks.Task[]]@($task)
    while (-not $task.IsCompleted) {
        if ([datetime]::UtcNow -gt $Deadline) {
            $timeout = New-Object System.TimeoutException "No response to '$Method' before the deadline."
            throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity "The WinsHost broker did not answer '$Method'" -Reason ('no response within {0} seconds' -f $Connection.TimeoutSec) -InnerException $timeout)
        }
        # WaitAny, unlike Task.Wait, does not throw for a faulted task; the state is inspected below.
        $null = [System.Threading.Tasks.Task]::WaitAny($tasks, 100)
    }

    if ($task.IsFaulted -or $task.IsCanceled) {
        $inner = $null
        if ($task.Exception) {
            $inner = Get-HostBrokerInnerException -Exception $task.Exception
        }
        $reason = 'the read was cancelled'
        if ($inner) {
            $reason = $inner.Message
        }
        throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity $activity -Reason $reason -InnerException $inner)
    }
    $task.Result
}
