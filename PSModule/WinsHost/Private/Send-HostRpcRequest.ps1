function Send-HostRpcRequest {
    <#
    .SYNOPSIS
    Sends a JSON-RPC request on the connection and returns its id.

    .DESCRIPTION
    Ids increase per connection, starting at 1 with initialize, so a response can only ever match the request
    that is being waited for. Params are always an object: the broker validates params against an object
    schema, also for methods without any. A failed write throws a ConnectionError marked SendFailed.
    #>
    [CmdletBinding()]
    [OutputType([long])]
    param(
        [Parameter(Mandatory)]
        [WinsHost.RpcConnection] $Connection,

        [Parameter(Mandatory)]
        [string] $Method,

        [System.Collections.IDictionary] $Params
    )

    try {
        $Connection.SendRequest($Method, $Params)
    }
    catch {
        $failure = Get-HostBrokerInnerException -Exception $_.Exception
        if ($failure -isnot [WinsHost.RpcTransportException]) {
            throw
        }
        throw (ConvertFrom-HostRpcTransportException -Failure $failure -Connection $Connection -Method $Method)
    }
}
