function Read-HostRpcMessage {
    <#
    .SYNOPSIS
    Reads one LSP-framed JSON-RPC message from the connection and returns it parsed.

    .DESCRIPTION
    Bytes read past the end of a message (the broker may write a notification and the response in one go)
    stay in the connection's buffer for the next call. The framing rules match the broker's, so that a
    desynchronised or hostile stream is refused instead of being guessed at:

      - only Content-Length and Content-Type headers; the header block (with its blank line) <= 8 KiB;
      - Content-Length is digits only and <= MaxMessageBytes;
      - the body is strict UTF-8 holding one JSON object with jsonrpc = "2.0".

    Violations throw 'ProtocolError'; the caller then drops the connection, since nothing after a bad frame
    can be trusted to start at a message boundary.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection,

        # The method being waited for, for messages.
        [Parameter(Mandatory)]
        [string] $Method,

        [datetime] $Deadline = [datetime]::MaxValue,

        # Called about every 100 ms while waiting for bytes; see Read-HostRpcStream.
        [scriptblock] $OnWait
    )

    $maxHeaderBytes = 8192
    $maxMessageBytes = 64MB
    $terminator = "`r`n`r`n"

    $protocolError = {
        param([string] $Reason, [System.Exception] $Inner)
        $text = "The WinsHost broker at '{0}' broke the JSON-RPC framing while answering '{1}': {2}." -f $Connection.Endpoint.Pipe, $Method, $Reason
        $splat = @{
            ErrorId       = 'ProtocolError'
            Category      = [System.Management.Automation.ErrorCategory]::ProtocolError
            Message       = $text
            ExceptionType = 'InvalidData'
            Data          = @{ Pipe = [string]$Connection.Endpoint.Pipe; Method = $Method }
        }
        if ($Inner) {
            $splat['InnerException'] = $Inner
        }
        New-HostBrokerException @splat
    }
    $lostError = {
        param([string] $Reason)
        New-HostBrokerConnectionException -Endpoint $Connection.Endpoint -Activity "The connection to the WinsHost broker was lost while waiting for the response to '$Method'" -Reason $Reason
    }

    # A message whose body was being read when a stop abandoned the previous call continues where it was.
    if ($null -eq $Connection.PartialBody) {
        # Header block.
        $headerEnd = -1
        while ($true) {
            if ($Connection.BufferCount -gt 0) {
                # ASCII decoding maps every byte to one char, so string indexes are byte offsets.
                $scan = [System.Math]::Min($Connection.BufferCount, $maxHeaderBytes)
                $text = [System.Text.Encoding]::ASCII.GetString($Connection.Buffer, $Connection.BufferOffset, $scan)
                $headerEnd = $text.IndexOf($terminator, [System.StringComparison]::Ordinal)
                if ($headerEnd -ge 0) {
                    break
                }
            }
            if ($Connection.BufferCount -ge $maxHeaderBytes) {
                throw (& $protocolError "the header block is longer than $maxHeaderBytes bytes")
            }
            $read = Read-HostRpcStream -Connection $Connection -Method $Method -Deadline $Deadline -OnWait $OnWait
            if ($read -le 0) {
                if ($Connection.BufferCount -gt 0) {
                    throw (& $lostError 'the broker closed the connection in the middle of a message')
                }
                throw (& $lostError 'the broker closed the connection')
            }
        }

        $contentLength = -1
        foreach ($line in ($text.Substring(0, $headerEnd) -split "`r`n")) {
            if ($line -notmatch '^([A-Za-z0-9-]+):[ \t]*(.*?)[ \t]*$') {
                throw (& $protocolError "malformed header line '$line'")
            }
            $name = $Matches[1]
            $value = $Matches[2]
            if ($name -eq 'Content-Length') {
                if ($contentLength -ge 0) {
                    throw (& $protocolError 'Content-Length appears twice')
                }
                if ($value -cnotmatch '^[0-9]{1,10}$') {
                    throw (& $protocolError "Content-Length '$value' is not a decimal number")
                }
                $length = [long]$value
                if ($length -gt $maxMessageBytes) {
                    throw (& $protocolError "Content-Length $length exceeds $maxMessageBytes bytes")
                }
                $contentLength = [int]$length
            }
            elseif ($name -ne 'Content-Type') {
                throw (& $protocolError "unexpected header '$name'")
            }
        }
        if ($contentLength -lt 0) {
            throw (& $protocolError 'the Content-Length header is missing')
        }
        $newBody = New-Object byte[] $contentLength
        # Plain statements only from here to the end of the block, so a stop cannot leave the header consumed
        # without the body being remembered (see Read-HostRpcStream).
        $Connection.PartialHave = 0
        $Connection.BufferOffset += $headerEnd + $terminator.Length
        $Connection.BufferCount -= $headerEnd + $terminator.Length
        $Connection.PartialBody = $newBody
    }

    # Body: copied out of the buffer, which Read-HostRpcStream refills, never past the body's end.
    while ($Connection.PartialHave -lt $Connection.PartialBody.Length) {
        if ($Connection.BufferCount -eq 0) {
            $read = Read-HostRpcStream -Connection $Connection -Method $Method -Deadline $Deadline -OnWait $OnWait
            if ($read -le 0) {
                throw (& $lostError ('the broker closed the connection after {0} of {1} body bytes' -f $Connection.PartialHave, $Connection.PartialBody.Length))
            }
            continue
        }
        $take = [System.Math]::Min($Connection.BufferCount, $Connection.PartialBody.Length - $Connection.PartialHave)
        [System.Array]::Copy($Connection.Buffer, $Connection.BufferOffset, $Connection.PartialBody, $Connection.PartialHave, $take)
        $Connection.PartialHave += $take
        $Connection.BufferOffset += $take
        $Connection.BufferCount -= $take
    }
    $body = $Connection.PartialBody

    try {
        $strictUtf8 = New-Object System.Text.UTF8Encoding $false, $true
        $json = $strictUtf8.GetString($body)
    }
    catch {
        throw (& $protocolError 'the body is not valid UTF-8' (Get-HostBrokerInnerException -Exception $_.Exception))
    }

    $message = $null
    try {
        $message = ConvertFrom-Json -InputObject $json -ErrorAction Stop
    }
    catch {
        throw (& $protocolError 'the body is not valid JSON' (Get-HostBrokerInnerException -Exception $_.Exception))
    }
    if ($message -isnot [System.Management.Automation.PSCustomObject]) {
        throw (& $protocolError 'the body is not a JSON object')
    }
    $version = $message.PSObject.Properties['jsonrpc']
    if ($null -eq $version -or [string]$version.Value -cne '2.0') {
        throw (& $protocolError 'the message is not JSON-RPC 2.0')
    }
    # Forgotten only now: a stop during decoding leaves the whole body to be parsed again by the next call.
    $Connection.PartialBody = $null
    $message
}
