function Invoke-HostRpc {
    <#
    .SYNOPSIS
    Calls a broker method and returns its result; the one entry point public cmdlets use.

    .DESCRIPTION
    Uses (and opens when needed) this runspace's connection; see Get-HostRpcConnection for which pipe.

    A request whose send fails - the broker restarted, or the pipe broke since the last call - is sent once
    more on a fresh connection. Only the send is retried: once a request went out, the broker may have acted
    on it (started a process, changed a rule), so losing the response is reported, never replayed.

    Errors are thrown as exceptions tagged for New-HostBrokerErrorRecord: ConnectionError, ProtocolError, or
    the JSON-RPC error's name (PolicyDenied, NotFound, ...). Notifications that arrive before the response go
    to -OnNotification (or -NotificationSink); see Receive-HostRpcResponse, which also explains -OnWait and
    -KeepOpen. -Request, a hashtable, receives the Connection and Id of the request once it is sent (and
    Answered once answered), so that a caller can cancel a request whose wait it abandoned (Stop-HostRpcRequest).
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        # A method string declared in typings/ (Module.Tests.ps1 checks every literal passed here).
        [Parameter(Mandatory)]
        [string] $Method,

        [System.Collections.IDictionary] $Params,

        [scriptblock] $OnNotification,

        [WinsHost.IRpcNotificationSink] $NotificationSink,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe,

        [scriptblock] $OnWait,

        [switch] $KeepOpen,

        [System.Collections.IDictionary] $Request
    )

    $connection = Get-HostRpcConnection -Pipe $Pipe
    # Filled before the send (with the id it will take), so that a stop between the send and the wait still
    # leaves the caller what it needs to cancel.
    $remember = {
        if ($null -ne $Request) {
            $Request['Connection'] = $connection
            $Request['Id'] = [long]$connection.NextId
            $Request['Method'] = $Method
            $Request['Answered'] = $false
        }
    }
    . $remember
    try {
        $id = Send-HostRpcRequest -Connection $connection -Method $Method -Params $Params
    }
    catch {
        $failure = Get-HostBrokerInnerException -Exception $_.Exception
        if (-not $failure.Data.Contains('WinsHost.SendFailed')) {
            throw
        }
        Write-Verbose ("WinsHost: sending '{0}' to {1} failed ({2}); reconnecting once." -f $Method, $connection.Endpoint.Pipe, $failure.Message)
        Close-HostRpcConnection -Connection $connection
        # Without -Pipe this reopens the connection just closed: same endpoint, same timeout.
        $connection = Get-HostRpcConnection
        . $remember
        $id = Send-HostRpcRequest -Connection $connection -Method $Method -Params $Params
    }

    $receive = @{
        Connection = $connection
        Id         = $id
        Method     = $Method
        KeepOpen   = $KeepOpen
    }
    if ($OnNotification) {
        $receive['OnNotification'] = $OnNotification
    }
    if ($null -ne $NotificationSink) {
        $receive['NotificationSink'] = $NotificationSink
    }
    if ($OnWait) {
        $receive['OnWait'] = $OnWait
    }
    if ($null -ne $Request) {
        $receive['Request'] = $Request
    }
    $result = Receive-HostRpcResponse @receive
    , $result
}
