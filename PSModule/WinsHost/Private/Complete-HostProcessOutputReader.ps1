function Complete-HostProcessOutputReader {
    <#
    .SYNOPSIS
    Ends a host process's output: flushes both decoders and writes the partial last lines.

    .DESCRIPTION
    Bytes of an incomplete character at the very end come out as U+FFFD instead of being dropped. stdout is
    flushed before stderr. Calling it again does nothing.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader
    )

    if ($Reader.Completed) {
        return
    }
    $Reader.Completed = $true
    foreach ($name in @('stdout', 'stderr')) {
        $state = $Reader.Streams[$name]
        $chars = New-Object char[] 16
        $decoded = $state.Decoder.GetChars((New-Object byte[] 0), 0, 0, $chars, 0, $true)
        $text = ''
        if ($decoded -gt 0) {
            $text = [string]::new($chars, 0, $decoded)
        }
        Write-HostProcessText -Reader $Reader -Stream $state -Text $text -Flush
    }
}
