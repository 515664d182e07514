function Add-HostProcessOutput {
    <#
    .SYNOPSIS
    Decodes one base64 chunk of a host process's stdout or stderr and writes the lines it completes.

    .DESCRIPTION
    Data that is not base64, or a stream other than stdout and stderr, is dropped with a debug message
    rather than thrown: the response still has to be read for the connection to stay usable.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        [Parameter(Mandatory)]
        [string] $Stream,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $Data
    )

    if ($Data.Length -eq 0) {
        return
    }
    if (-not $Reader.Streams.ContainsKey($Stream)) {
        Write-Debug "WinsHost: ignoring output of unknown stream '$Stream'."
        return
    }
    try {
        $bytes = [System.Convert]::FromBase64String($Data)
    }
    catch {
        Write-Debug "WinsHost: ignoring $Stream output that is not base64."
        return
    }
    if ($bytes.Length -eq 0) {
        return
    }

    $state = $Reader.Streams[$Stream]
    $chars = New-Object char[] ($Reader.Encoding.GetMaxCharCount($bytes.Length))
    $decoded = $state.Decoder.GetChars($bytes, 0, $bytes.Length, $chars, 0)
    if ($decoded -gt 0) {
        Write-HostProcessText -Reader $Reader -Stream $state -Text ([string]::new($chars, 0, $decoded))
    }
}
