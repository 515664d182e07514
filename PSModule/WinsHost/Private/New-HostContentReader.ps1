function New-HostContentReader {
    <#
    .SYNOPSIS
    Creates the state of one Get-HostContent read: decoder, running hash, partial line, counters.

    .DESCRIPTION
    A file/read streams the file as file/data notifications before its response. Add-HostContentChunk takes
    each chunk as it arrives and writes finished lines straight to the cmdlet's pipeline (through -Cmdlet),
    Get-HostContentMismatch checks what arrived against the response, and Complete-HostContentReader writes
    what is left (the last line without a newline, or the whole text for -Raw).

    The text is decoded with one System.Text.Decoder for the whole read, so a character whose bytes are split
    across two chunks decodes as that character. The SHA-256 is computed incrementally with
    TransformBlock/TransformFinalBlock, which .NET Framework 4.5 (Windows PowerShell 5.1) has as well.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        # The cmdlet whose pipeline receives the output ($PSCmdlet of Get-HostContent).
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        # The file/read token: notifications with another token belong to another read.
        [Parameter(Mandatory)]
        [string] $Token,

        [ValidateSet('UTF8', 'ASCII', 'Unicode')]
        [string] $Encoding = 'UTF8',

        [switch] $Raw,

        [switch] $AsByteStream
    )

    # Invalid bytes become U+FFFD instead of failing the read, as with Get-Content.
    $textEncoding = switch ($Encoding) {
        'ASCII' { [System.Text.Encoding]::ASCII }
        'Unicode' { New-Object System.Text.UnicodeEncoding $false, $true }
        default { New-Object System.Text.UTF8Encoding $false }
    }

    $whole = $null
    if ($Raw -and $AsByteStream) {
        $whole = New-Object System.IO.MemoryStream
    }
    elseif ($Raw) {
        $whole = New-Object System.Text.StringBuilder
    }

    [pscustomobject]@{
        Cmdlet       = $Cmdlet
        Token        = $Token
        Encoding     = $textEncoding
        Decoder      = $textEncoding.GetDecoder()
        Hash         = [System.Security.Cryptography.SHA256]::Create()
        Raw          = [bool]$Raw
        AsByteStream = [bool]$AsByteStream
        # The text of the line being read (no newline seen yet), or for -Raw everything.
        Pending      = New-Object System.Text.StringBuilder
        Whole        = $whole
        # File offset of the first chunk ($null until one arrives) and where the next one must start.
        FirstOffset  = $null
        NextOffset   = [long]0
        Received     = [long]0
        Chunks       = 0
        # True until the first character is decoded: a byte order mark there is dropped, as Get-Content does.
        AtStart      = $true
        # Why the data cannot be trusted (a gap, bad base64); once set, further chunks are ignored.
        Problem      = $null
    }
}
