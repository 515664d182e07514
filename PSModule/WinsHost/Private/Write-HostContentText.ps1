function Write-HostContentText {
    <#
    .SYNOPSIS
    Writes the complete lines in a piece of decoded text to the cmdlet's pipeline and keeps the rest.

    .DESCRIPTION
    Lines end at LF; a CR before it is removed, so CRLF and LF files give the same lines (as Get-Content).
    The text after the last LF waits in the reader's Pending buffer for the next piece; a CRLF split between
    two chunks therefore still ends one line. With -Raw the text is only collected.

    Searches use [char] arguments: String.IndexOf(string) compares culturally, and under ICU (PowerShell 7 on
    Linux) a culture comparison does not find "`n" inside "`r`n".
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $Text
    )

    if ($Text.Length -eq 0) {
        return
    }
    if ($Reader.AtStart) {
        $Reader.AtStart = $false
        if ($Text[0] -eq [char]0xFEFF -and $Reader.FirstOffset -eq 0) {
            $Text = $Text.Substring(1)
        }
    }
    if ($Reader.Raw) {
        $null = $Reader.Whole.Append($Text)
        return
    }

    $lineFeed = [char]10
    $carriageReturn = [char]13
    $cmdlet = $Reader.Cmdlet
    $end = $Text.IndexOf($lineFeed)
    if ($end -lt 0) {
        $null = $Reader.Pending.Append($Text)
        return
    }

    # The first line continues what the previous pieces left.
    $line = $Text.Substring(0, $end)
    if ($Reader.Pending.Length -gt 0) {
        $line = $Reader.Pending.ToString() + $line
        $Reader.Pending.Length = 0
    }
    while ($true) {
        if ($line.Length -gt 0 -and $line[$line.Length - 1] -eq $carriageReturn) {
            $line = $line.Substring(0, $line.Length - 1)
        }
        $cmdlet.WriteObject($line)
        $start = $end + 1
        $end = $Text.IndexOf($lineFeed, $start)
        if ($end -lt 0) {
            break
        }
        $line = $Text.Substring($start, $end - $start)
    }
    if ($start -lt $Text.Length) {
        $null = $Reader.Pending.Append($Text, $start, $Text.Length - $start)
    }
}
