function Invoke-HostRpc {
    <#
    .SYNOPSIS
    Calls a broker method and returns its result; the entry point of the public cmdlets other than the
    session invocations (Invoke-HostCommand and Enter-HostSession use WinsHost.SessionInvocation).

    .DESCRIPTION
    Uses (and opens when needed) this runspace's connection; see Get-HostRpcConnection for which pipe.
    -Connection uses that connection instead (Open-HostRpcConnection's initialize), without the retry below.

    A request whose send fails - the broker restarted, or the pipe broke since the last call - is sent once
    more on a fresh connection (WinsHost.RpcExchange, which the session invocations use too). Only the send
    is retried: once a request went out, the broker may have acted on it (started a process, changed a rule),
    so losing the response is reported, never replayed.

    The exchange itself is compiled (WinsHost.RpcConnection.Call): it waits in slices of 100 ms, ends when
    this command is stopped (Ctrl+C, a downstream Select-Object -First) and gives up at -Deadline (UTC). A
    wait that ends without the response closes the connection, since the rest of that response would be read
    as the answer to the next request.

    Errors are thrown as exceptions tagged for New-HostBrokerErrorRecord: ConnectionError, ProtocolError, or
    the JSON-RPC error's name (PolicyDenied, NotFound, ...). Notifications that arrive before the response go
    to -OnNotification, called as  & $OnNotification <method> <params>  with its output discarded: a callback
    that writes to a cmdlet's pipeline captures that cmdlet's $PSCmdlet and calls WriteObject.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        # A method string declared in typings/ (Module.Tests.ps1 checks every literal passed here).
        [Parameter(Mandatory)]
        [string] $Method,

        [System.Collections.IDictionary] $Params,

        [scriptblock] $OnNotification,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe,

        [WinsHost.RpcConnection] $Connection,

        [datetime] $Deadline = [datetime]::MaxValue
    )

    $sink = $null
    if ($OnNotification) {
        $sink = [WinsHost.ScriptBlockNotificationSink]::new($OnNotification)
    }
    $current = $Connection
    $reopen = $null
    if ($null -eq $current) {
        $current = Get-HostRpcConnection -Pipe $Pipe
        $reopen = $script:HostRpcReconnect
    }
    try {
        $response = [WinsHost.RpcExchange]::Call($current, $reopen, $Method, $Params, $sink, $PSCmdlet, $null, $Deadline, $null, $false)
    }
    catch {
        $failure = Get-HostBrokerInnerException -Exception $_.Exception
        if ($failure -is [WinsHost.RpcTransportException]) {
            throw (ConvertFrom-HostRpcTransportException -Failure $failure)
        }
        # What -OnNotification or the reconnect threw, without the MethodInvocationException of the compiled call.
        throw $failure
    }
    if ($null -ne $response.Error) {
        throw (New-HostRpcErrorException -Method $Method -RpcError $response.Error -Pipe $response.Connection.Endpoint.Pipe)
    }
    , $response.Result
}
