function Read-HostRpcStream {
    <#
    .SYNOPSIS
    Reads more bytes from the broker into the connection's buffer; returns how many, 0 at end of stream.

    .DESCRIPTION
    A synchronous Read on a pipe blocks in native code, where Ctrl+C (StopProcessing) cannot reach it. The
    read is therefore started asynchronously and waited for in short slices: PowerShell checks for a stop
    request between statements, and the same loop enforces -Deadline (used for the initialize handshake) and
    calls -OnWait between slices (Enter-HostSession watches the keyboard for Ctrl+C there).

    The read always lands in the connection's buffer, behind the bytes it already holds, and is remembered in
    Connection.PendingRead until its bytes are counted. A stop can only interrupt PowerShell at a command call
    or a loop turn, never between two plain statements, so when the wait is abandoned (Ctrl+C while waiting for
    a session/invoke response) the pending read is adopted by the next call instead of being lost: the caller
    can still send '$/cancelRequest' and read the rest of the response on the same connection.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection,

        [Parameter(Mandatory)]
        [string] $Method,

        [datetime] $Deadline = [datetime]::MaxValue,

        [scriptblock] $OnWait
    )

    $activity = "The connection to the WinsHost broker was lost while waiting for the response to '$Method'"
    if ($null -eq $Connection.Stream) {
        throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity $activity -Reason 'the connection is closed')
    }

    if ($null -eq $Connection.PendingRead) {
        # Room behind the buffered bytes: move them to the front when the tail is full. Nothing reads into the
        # buffer while no read is pending, so moving is safe here.
        if ($Connection.BufferCount -eq 0) {
            $Connection.BufferOffset = 0
        }
        elseif ($Connection.BufferOffset + $Connection.BufferCount -ge $Connection.Buffer.Length) {
            [System.Array]::Copy($Connection.Buffer, $Connection.BufferOffset, $Connection.Buffer, 0, $Connection.BufferCount)
            $Connection.BufferOffset = 0
        }
        $start = $Connection.BufferOffset + $Connection.BufferCount
        try {
            $Connection.PendingRead = $Connection.Stream.ReadAsync($Connection.Buffer, $start, $Connection.Buffer.Length - $start)
        }
        catch {
            $inner = Get-HostBrokerInnerException -Exception $_.Exception
            throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity $activity -Reason $inner.Message -InnerException $inner)
        }
    }
    $task = $Connection.PendingRead

    $tasks = [System.Threading.Tasks.Task[]]@($task)
    while (-not $task.IsCompleted) {
        if ([datetime]::UtcNow -gt $Deadline) {
            $timeout = New-Object System.TimeoutException "No response to '$Method' before the deadline."
            throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity "The WinsHost broker did not answer '$Method'" -Reason ('no response within {0} seconds' -f $Connection.TimeoutSec) -InnerException $timeout)
        }
        # WaitAny, unlike Task.Wait, does not throw for a faulted task; the state is inspected below.
        $null = [System.Threading.Tasks.Task]::WaitAny($tasks, 100)
        if ($OnWait -and -not $task.IsCompleted) {
            $null = & $OnWait
        }
    }

    if ($task.IsFaulted -or $task.IsCanceled) {
        $Connection.PendingRead = $null
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
    # Two plain statements, no command between them: a stop cannot separate counting the bytes from
    # forgetting the read.
    $read = $task.Result
    $Connection.BufferCount += $read
    $Connection.PendingRead = $null
    $read
}
