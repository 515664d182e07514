function Complete-HostContentReader {
    <#
    .SYNOPSIS
    Ends a Get-HostContent read: writes the last line, or everything for -Raw, and releases the hash.

    .DESCRIPTION
    The decoder is flushed first, so bytes of an incomplete character at the end of the read come out as
    U+FFFD instead of being dropped. A last line without a newline is written; a file that ends with a newline
    gives no extra empty line, as with Get-Content. -Raw writes one string (or one byte[] with -AsByteStream),
    nothing for an empty read.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader
    )

    if (-not $Reader.AsByteStream) {
        $chars = New-Object char[] 16
        $decoded = $Reader.Decoder.GetChars((New-Object byte[] 0), 0, 0, $chars, 0, $true)
        if ($decoded -gt 0) {
            Write-HostContentText -Reader $Reader -Text ([string]::new($chars, 0, $decoded))
        }
    }

    if ($Reader.Raw) {
        if ($Reader.AsByteStream) {
            if ($Reader.Whole.Length -gt 0) {
                $Reader.Cmdlet.WriteObject($Reader.Whole.ToArray(), $false)
            }
        }
        elseif ($Reader.Whole.Length -gt 0) {
            $Reader.Cmdlet.WriteObject($Reader.Whole.ToString())
        }
    }
    elseif (-not $Reader.AsByteStream -and $Reader.Pending.Length -gt 0) {
        $line = $Reader.Pending.ToString()
        $Reader.Pending.Length = 0
        if ($line[$line.Length - 1] -eq [char]13) {
            $line = $line.Substring(0, $line.Length - 1)
        }
        $Reader.Cmdlet.WriteObject($line)
    }
    Close-HostContentReader -Reader $Reader
}
