function Add-HostContentChunk {
    <#
    .SYNOPSIS
    Takes one file/data notification of a Get-HostContent read: hashes, decodes and writes its lines.

    .DESCRIPTION
    Notifications with another token (another read on the same connection) are ignored. A chunk that does
    not start where the previous one ended, or whose data is not base64, makes the read untrustworthy: the
    problem is recorded for Get-HostContentMismatch and later chunks are ignored. Nothing is thrown here, so
    the response of the read is still consumed and the connection stays usable.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        # The notification's params: { token, offset, data }.
        [Parameter(Mandatory)]
        [AllowNull()]
        [psobject] $Params
    )

    if ($null -ne $Reader.Problem -or $null -eq $Params) {
        return
    }
    $properties = $Params.PSObject.Properties
    $tokenProperty = $properties['token']
    if ($null -eq $tokenProperty -or [string]$tokenProperty.Value -cne $Reader.Token) {
        Write-Debug 'WinsHost: ignoring file/data of another read.'
        return
    }

    $offsetProperty = $properties['offset']
    $dataProperty = $properties['data']
    $offset = [long]-1
    if ($null -eq $offsetProperty -or -not [long]::TryParse([string]$offsetProperty.Value, [ref]$offset)) {
        $Reader.Problem = 'a file/data notification has no offset'
        return
    }
    try {
        $bytes = [System.Convert]::FromBase64String([string]$dataProperty.Value)
    }
    catch {
        $Reader.Problem = 'the data of the chunk at offset {0} is not base64' -f $offset
        return
    }

    if ($null -eq $Reader.FirstOffset) {
        $Reader.FirstOffset = $offset
        $Reader.NextOffset = $offset
    }
    if ($offset -ne $Reader.NextOffset) {
        $Reader.Problem = 'a chunk starts at offset {0} where {1} was expected' -f $offset, $Reader.NextOffset
        return
    }
    $count = $bytes.Length
    $Reader.NextOffset += $count
    $Reader.Received += $count
    $Reader.Chunks += 1
    if ($count -eq 0) {
        return
    }
    $null = $Reader.Hash.TransformBlock($bytes, 0, $count, $null, 0)

    if ($Reader.AsByteStream) {
        if ($Reader.Raw) {
            $Reader.Whole.Write($bytes, 0, $count)
        }
        else {
            # One [byte] per object, as Get-Content -AsByteStream writes them.
            $Reader.Cmdlet.WriteObject($bytes, $true)
        }
        return
    }

    $chars = New-Object char[] ($Reader.Encoding.GetMaxCharCount($count))
    $decoded = $Reader.Decoder.GetChars($bytes, 0, $count, $chars, 0)
    Write-HostContentText -Reader $Reader -Text ([string]::new($chars, 0, $decoded))
}
