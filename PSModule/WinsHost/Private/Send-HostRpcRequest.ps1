function Send-HostRpcRequest {
    <#
    .SYNOPSIS
    Sends a JSON-RPC request on the connection and returns its id.

    .DESCRIPTION
    Ids increase per connection, starting at 1 with initialize, so a response can only ever match the request
    that is being waited for.
    #>
    [CmdletBinding()]
    [OutputType([long])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection,

        [Parameter(Mandatory)]
        [string] $Method,

        [System.Collections.IDictionary] $Params
    )

    $id = [long]$Connection.NextId
    $Connection.NextId = $id + 1

    # Always an object: the broker validates params against an object schema, also for methods without any.
    if ($null -eq $Params) {
        $Params = @{}
    }
    $request = [ordered]@{
        jsonrpc = '2.0'
        id      = $id
        method  = $Method
        params  = $Params
    }
    Write-HostRpcMessage -Connection $Connection -Message $request
    $id
}
