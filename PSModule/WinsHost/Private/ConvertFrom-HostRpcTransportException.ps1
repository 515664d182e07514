function ConvertFrom-HostRpcTransportException {
    <#
    .SYNOPSIS
    Turns a failure of the broker connection (WinsHost.RpcTransportException) into the module's ProtocolError
    or ConnectionError exception.

    .DESCRIPTION
    The compiled connection (WinsHost.RpcConnection) knows what broke; the module knows the pipe, where its
    name came from and what was being asked, which is what a user needs in the message:

      - Framing: the bytes broke the framing rules (ProtocolError); nothing after them can be trusted.
      - Protocol: well framed, but not the answer awaited (ProtocolError).
      - Lost: the stream ended or failed while waiting (ConnectionError).
      - TimedOut: no response before the caller's deadline (ConnectionError, a TimeoutException inside).
      - SendFailed: a write failed (ConnectionError marked SendFailed: the broker did not get the whole
        request, so Invoke-HostRpc may send it once more on a new connection).
    #>
    [CmdletBinding()]
    [OutputType([System.Exception])]
    param(
        # Thrown by RpcConnection.Call or Wait, which name the connection and the method in it.
        [Parameter(Mandatory)]
        [WinsHost.RpcTransportException] $Failure
    )

    $connection = $Failure.Connection
    $method = $Failure.Method
    $pipe = [string]$connection.Endpoint.Pipe
    $inner = $Failure.InnerException
    switch ([string]$Failure.Failure) {
        'SendFailed' {
            if ($null -eq $inner) {
                $inner = $Failure
            }
            return New-HostBrokerConnectionException -Endpoint $connection.Endpoint -Activity "Cannot send '$method' to the WinsHost broker" -Reason $Failure.Reason -InnerException $inner -SendFailed
        }
        'TimedOut' {
            return New-HostBrokerConnectionException -Endpoint $connection.Endpoint -Activity "The WinsHost broker did not answer '$method'" -Reason $Failure.Reason -InnerException $inner
        }
        'Lost' {
            $lost = @{
                Endpoint = $connection.Endpoint
                Activity = "The connection to the WinsHost broker was lost while waiting for the response to '$method'"
                Reason   = $Failure.Reason
            }
            if ($null -ne $inner) {
                $lost['InnerException'] = $inner
            }
            return New-HostBrokerConnectionException @lost
        }
    }
    if ([string]$Failure.Failure -eq 'Framing') {
        $text = "The WinsHost broker at '{0}' broke the JSON-RPC framing while answering '{1}': {2}." -f $pipe, $method, $Failure.Reason
    }
    else {
        $text = "The WinsHost broker at '{0}' {1}." -f $pipe, $Failure.Reason
    }
    $protocol = @{
        ErrorId       = 'ProtocolError'
        Category      = [System.Management.Automation.ErrorCategory]::ProtocolError
        Message       = $text
        ExceptionType = 'InvalidData'
        Data          = @{ Pipe = $pipe; Method = $method }
    }
    if ($null -ne $inner) {
        $protocol['InnerException'] = $inner
    }
    New-HostBrokerException @protocol
}
