function Write-HostRpcMessage {
    <#
    .SYNOPSIS
    Writes one JSON-RPC message with LSP framing: 'Content-Length: N' CRLF CRLF, then N bytes of UTF-8 JSON.

    .DESCRIPTION
    Header and body go out in one Write so that a broker never sees a header without its body because of
    our own scheduling. A failed write throws a ConnectionError marked SendFailed: the broker dispatches only
    complete frames and drops a connection whose frame was cut, so the message was not acted on.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection,

        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $Message
    )

    # Depth 10 because ConvertTo-Json silently flattens anything deeper (default depth 2) into strings.
    $json = ConvertTo-Json -InputObject $Message -Depth 10 -Compress
    $body = [System.Text.Encoding]::UTF8.GetBytes($json)
    $header = [System.Text.Encoding]::ASCII.GetBytes(('Content-Length: {0}' -f $body.Length) + "`r`n`r`n")
    $frame = New-Object byte[] ($header.Length + $body.Length)
    [System.Array]::Copy($header, 0, $frame, 0, $header.Length)
    [System.Array]::Copy($body, 0, $frame, $header.Length, $body.Length)

    $method = ''
    if ($Message.Contains('method')) {
        $method = [string]$Message['method']
    }

    if (-not $Connection.IsOpen -or $null -eq $Connection.Stream) {
        throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity "Cannot send '$method' to the WinsHost broker" -Reason 'the connection is closed' -SendFailed)
    }
    try {
        $Connection.Stream.Write($frame, 0, $frame.Length)
        $Connection.Stream.Flush()
    }
    catch {
        $inner = Get-HostBrokerInnerException -Exception $_.Exception
        throw (New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity "Cannot send '$method' to the WinsHost broker" -Reason $inner.Message -InnerException $inner -SendFailed)
    }
}
