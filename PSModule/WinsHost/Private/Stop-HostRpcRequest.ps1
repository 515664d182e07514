function Stop-HostRpcRequest {
    <#
    .SYNOPSIS
    Cancels a request whose wait was abandoned and reads its end, so that the connection stays usable.

    .DESCRIPTION
    -Request is the hashtable Invoke-HostRpc -KeepOpen -Request filled. When the request is still unanswered
    on an open connection, '$/cancelRequest' is sent for its id (vscode-jsonrpc's cancellation, which the broker
    honours for session/invoke by stopping the pipeline) and the response is read - notifications before it
    are dropped - for up to -WaitSeconds. A response that does not come in time, or a broken stream, closes the
    connection, as an abandoned wait always did: the next request then opens a fresh one.

    Called from finally blocks while a pipeline is being stopped, so it never throws; what went wrong goes to
    the verbose stream. Returns $true when the connection is still open and in step.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $Request,

        [ValidateRange(1, 300)]
        [int] $WaitSeconds = 5
    )

    if (-not $Request.Contains('Connection') -or $Request['Answered']) {
        return $true
    }
    $connection = $Request['Connection']
    if ($null -eq $connection -or -not $connection.IsOpen) {
        return $false
    }
    $id = [long]$Request['Id']
    $method = [string]$Request['Method']
    try {
        $cancel = [ordered]@{
            jsonrpc = '2.0'
            method  = '$/cancelRequest'
            params  = @{ id = $id }
        }
        Write-HostRpcMessage -Connection $connection -Message $cancel
        $deadline = [datetime]::UtcNow.AddSeconds($WaitSeconds)
        # Any answer ends the request; RequestCancelled (-32800) is the usual one. No cmdlet to watch for
        # stopping: this runs in finally blocks while the pipeline is being stopped.
        $null = $connection.Wait($id, $method, $null, $null, $null, $deadline, $Request, $false)
    }
    catch {
        $failure = Get-HostBrokerInnerException -Exception $_.Exception
        Write-Verbose ("WinsHost: cancelling '{0}' (request {1}) did not end cleanly: {2}" -f $method, $id, $failure.Message)
    }
    if (-not $Request['Answered'] -and $connection.IsOpen) {
        Close-HostRpcConnection -Connection $connection
    }
    [bool]$connection.IsOpen
}
