function Write-HostRpcMessage {
    <#
    .SYNOPSIS
    Writes one JSON-RPC message with LSP framing: 'Content-Length: N' CRLF CRLF, then N bytes of UTF-8 JSON.

    .DESCRIPTION
    Header and body go out in one Write (WinsHost.RpcConnection.WriteMessage) so that a broker never sees a
    header without its body because of our own scheduling. A failed write throws a ConnectionError marked
    SendFailed: the broker dispatches only complete frames and drops a connection whose frame was cut, so the
    message was not acted on.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [WinsHost.RpcConnection] $Connection,

        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $Message
    )

    try {
        $Connection.WriteMessage($Message)
    }
    catch {
        $failure = Get-HostBrokerInnerException -Exception $_.Exception
        if ($failure -isnot [WinsHost.RpcTransportException]) {
            throw
        }
        $method = ''
        if ($Message.Contains('method')) {
            $method = [string]$Message['method']
        }
        throw (ConvertFrom-HostRpcTransportException -Failure $failure -Connection $Connection -Method $method)
    }
}
