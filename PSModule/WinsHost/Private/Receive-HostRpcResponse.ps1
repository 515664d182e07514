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
    closure and calls WriteObject.

    If the wait ends without the response - Ctrl+C, a broken stream, a framing error, a callback that throws -
    the connection is closed: the rest of that response would otherwise be read as the answer to the next
    request. With -KeepOpen it stays open unless the stream itself failed (ConnectionError, ProtocolError): the
    caller then owes the connection the end of that request, by cancelling it and calling this function again
    for the same id (Stop-HostRpcRequest), or closes it.

    -OnWait is called about every 100 ms while no bytes arrive (see Read-HostRpcStream). -Request, a hashtable,
    gets Answered = $true once the response (a result or an error) was read.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection,

        [Parameter(Mandatory)]
        [long] $Id,

        [Parameter(Mandatory)]
        [string] $Method,

        [scriptblock] $OnNotification,

        [datetime] $Deadline = [datetime]::MaxValue,

        [scriptblock] $OnWait,

        [switch] $KeepOpen,

        [System.Collections.IDictionary] $Request
    )

    $completed = $false
    $streamFailed = $false
    try {
        while ($true) {
            $message = Read-HostRpcMessage -Connection $Connection -Method $Method -Deadline $Deadline -OnWait $OnWait
            $properties = $message.PSObject.Properties
            $methodProperty = $properties['method']
            $idProperty = $properties['id']

            if ($null -ne $methodProperty) {
                if ($null -eq $idProperty -or $null -eq $idProperty.Value) {
                    if ($OnNotification) {
                        $notificationParams = $null
                        if ($null -ne $properties['params']) {
                            $notificationParams = $properties['params'].Value
                        }
                        $null = & $OnNotification ([string]$methodProperty.Value) $notificationParams
                    }
                    else {
                        Write-Debug "WinsHost: ignoring notification '$($methodProperty.Value)' while waiting for '$Method'."
                    }
                }
                else {
                    # The client serves no methods; answering keeps a broker that asks from waiting forever.
                    $reply = [ordered]@{
                        jsonrpc = '2.0'
                        id      = $idProperty.Value
                        error   = [ordered]@{ code = -32601; message = "The WinsHost PowerShell client does not serve '$($methodProperty.Value)'." }
                    }
                    Write-HostRpcMessage -Connection $Connection -Message $reply
                }
                continue
            }

            $errorProperty = $properties['error']
            $resultProperty = $properties['result']
            # id null is how JSON-RPC answers a request it could not read the id of; only one is outstanding.
            $isOurs = ($null -ne $idProperty) -and (
                ($null -ne $idProperty.Value -and [string]$idProperty.Value -ceq [string]$Id) -or
                ($null -eq $idProperty.Value -and $null -ne $errorProperty))
            if (-not $isOurs) {
                $shownId = 'none'
                if ($null -ne $idProperty) {
                    $shownId = [string]$idProperty.Value
                }
                throw (New-HostBrokerException -ErrorId 'ProtocolError' -Category ProtocolError -ExceptionType InvalidData `
                        -Message ("The WinsHost broker at '{0}' sent a response with id {1} while request {2} ('{3}') was outstanding." -f $Connection.Endpoint.Pipe, $shownId, $Id, $Method) `
                        -Data @{ Pipe = [string]$Connection.Endpoint.Pipe; Method = $Method })
            }

            $completed = $true
            if ($null -ne $Request) {
                $Request['Answered'] = $true
            }
            if ($null -ne $errorProperty -and $null -ne $errorProperty.Value) {
                throw (New-HostRpcErrorException -Method $Method -RpcError $errorProperty.Value -Pipe $Connection.Endpoint.Pipe)
            }
            if ($null -eq $resultProperty) {
                $completed = $false
                throw (New-HostBrokerException -ErrorId 'ProtocolError' -Category ProtocolError -ExceptionType InvalidData `
                        -Message ("The WinsHost broker at '{0}' answered '{1}' with neither a result nor an error." -f $Connection.Endpoint.Pipe, $Method) `
                        -Data @{ Pipe = [string]$Connection.Endpoint.Pipe; Method = $Method })
            }
            # The comma keeps an array result as one object instead of unrolling it into the pipeline.
            return , $resultProperty.Value
        }
    }
    catch {
        # A stop (PipelineStoppedException) never reaches a catch block; what does is either the stream
        # failing, after which nothing on it can be trusted, or a callback's own error.
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
