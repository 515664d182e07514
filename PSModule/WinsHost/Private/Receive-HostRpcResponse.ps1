function Receive-HostRpcResponse {
    <#
    .SYNOPSIS
    Waits for the response to request -Id, handing notifications that arrive first to -OnNotification.

    .DESCRIPTION
    Returns the response's result (as one object, even when it is an array) or throws the JSON-RPC error as
    an exception from New-HostRpcErrorException.

    -OnNotification is called as  & $OnNotification <method> <params>  for every message that has a method and
    no id, in the order they arrive. Its output is discarded, so that the only thing this function returns is
    the result; a callback that wants to write to a cmdlet's pipeline captures that cmdlet's $PSCmdlet in a
    closure and calls WriteObject. -NotificationSink, a compiled WinsHost.IRpcNotificationSink, takes them
    instead (sessions: WinsHost.SessionOutputSink), without a script call per message.

    If the wait ends without the response - Ctrl+C, a broken stream, a framing error, a callback that throws -
    the connection is closed: the rest of that response would otherwise be read as the answer to the next
    request. With -KeepOpen it stays open unless the stream itself failed (ConnectionError, ProtocolError): the
    caller then owes the connection the end of that request, by cancelling it and calling this function again
    for the same id (Stop-HostRpcRequest), or closes it.

    The connection (WinsHost.RpcConnection.ReceiveResponse) is asked in slices of 100 ms: PowerShell can stop
    a command (Ctrl+C) only between statements, and a slice that ends without the response leaves the read
    pending in the connection, so an abandoned wait loses nothing. -OnWait is called after each empty slice
    (Enter-HostSession watches the keyboard there), and -Deadline is checked there. -Request, a hashtable,
    gets Answered = $true once the response (a result or an error) was read.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory)]
        [WinsHost.RpcConnection] $Connection,

        [Parameter(Mandatory)]
        [long] $Id,

        [Parameter(Mandatory)]
        [string] $Method,

        [scriptblock] $OnNotification,

        [WinsHost.IRpcNotificationSink] $NotificationSink,

        [datetime] $Deadline = [datetime]::MaxValue,

        [scriptblock] $OnWait,

        [switch] $KeepOpen,

        [System.Collections.IDictionary] $Request
    )

    $sink = $NotificationSink
    if ($null -eq $sink -and $OnNotification) {
        $sink = [WinsHost.ScriptBlockNotificationSink]::new($OnNotification)
    }
    $completed = $false
    $streamFailed = $false
    try {
        $response = $null
        while ($null -eq $response) {
            try {
                $response = $Connection.ReceiveResponse($Id, $Method, 100, $sink)
            }
            catch {
                # A .NET call wraps what it throws; callers (and -ErrorAction Stop in a callback) expect the real one.
                $failure = Get-HostBrokerInnerException -Exception $_.Exception
                if ($failure -is [WinsHost.RpcTransportException]) {
                    throw (ConvertFrom-HostRpcTransportException -Failure $failure -Connection $Connection -Method $Method)
                }
                throw $failure
            }
            if ($null -eq $response) {
                if ([datetime]::UtcNow -gt $Deadline) {
                    $timeout = New-Object System.TimeoutException "No response to '$Method' before the deadline."
                    throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity "The WinsHost broker did not answer '$Method'" -Reason ('no response within {0} seconds' -f $Connection.TimeoutSec) -InnerException $timeout)
                }
                if ($OnWait) {
                    $null = & $OnWait
                }
            }
        }

        $completed = $true
        if ($null -ne $Request) {
            $Request['Answered'] = $true
        }
        if ($null -ne $response.Error) {
            throw (New-HostRpcErrorException -Method $Method -RpcError $response.Error -Pipe $Connection.Endpoint.Pipe)
        }
        if (-not $response.HasResult) {
            $completed = $false
            throw (New-HostBrokerException -ErrorId 'ProtocolError' -Category ProtocolError -ExceptionType InvalidData `
                    -Message ("The WinsHost broker at '{0}' answered '{1}' with neither a result nor an error." -f $Connection.Endpoint.Pipe, $Method) `
                    -Data @{ Pipe = [string]$Connection.Endpoint.Pipe; Method = $Method })
        }
        return , $response.Result
    }
    catch {
        $failure = Get-HostBrokerInnerException -Exception $_.Exception
        if ($failure.Data.Contains('WinsHost.ErrorId') -and @('ConnectionError', 'ProtocolError') -contains [string]$failure.Data['WinsHost.ErrorId']) {
            $streamFailed = $true
        }
        throw
    }
    finally {
        if (-not $completed -and (-not $KeepOpen -or $streamFailed)) {
            Close-HostRpcConnection -Connection $Connection
        }
    }
}
