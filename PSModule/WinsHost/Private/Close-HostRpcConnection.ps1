function Close-HostRpcConnection {
    <#
    .SYNOPSIS
    Closes the connection's stream; the connection object stays, so the next call can reopen the same pipe.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [psobject] $Connection
    )

    if ($null -eq $Connection) {
        return
    }
    $stream = $Connection.Stream
    $Connection.Stream = $null
    $Connection.IsOpen = $false
    $Connection.BufferOffset = 0
    $Connection.BufferCount = 0
    if ($null -ne $stream) {
        try {
            $stream.Dispose()
        }
        catch {
            # Disposing a pipe whose peer is gone can throw; the handle is released either way.
            Write-Debug "WinsHost: closing the pipe stream failed: $($_.Exception.Message)"
        }
    }
}
