function Write-HostProcessText {
    <#
    .SYNOPSIS
    Writes the complete lines in a piece of decoded process output and keeps the rest for the next piece.

    .DESCRIPTION
    Lines end at LF; a CR before it is removed, so Windows and Unix programs give the same lines (as
    Get-HostContent, and as PowerShell reads native commands). A CRLF split between two chunks still ends one
    line. -Flush writes what is left as a last line (a program that did not end its output with a newline).

    stdout lines are written as strings. stderr lines are written as non-terminating errors, like the stderr
    of a native command in PowerShell 7: FullyQualifiedErrorId WinsHost.ProcessStandardError,<cmdlet>,
    category NotSpecified, TargetObject the host process id, the line as the message.

    Searches use [char] arguments: String.IndexOf(string) compares culturally, and under ICU (PowerShell 7 on
    Linux) a culture comparison does not find "`n" inside "`r`n".
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        # One of $Reader.Streams.
        [Parameter(Mandatory)]
        [psobject] $Stream,

        [AllowEmptyString()]
        [string] $Text = '',

        [switch] $Flush
    )

    $lines = New-Object System.Collections.Generic.List[string]
    $lineFeed = [char]10
    $pending = $Stream.Pending
    $start = 0
    $end = $Text.IndexOf($lineFeed)
    while ($end -ge 0) {
        $line = $Text.Substring($start, $end - $start)
        if ($pending.Length -gt 0) {
            $line = $pending.ToString() + $line
            $pending.Length = 0
        }
        $lines.Add($line)
        $start = $end + 1
        $end = $Text.IndexOf($lineFeed, $start)
    }
    if ($start -lt $Text.Length) {
        $null = $pending.Append($Text, $start, $Text.Length - $start)
    }
    if ($Flush -and $pending.Length -gt 0) {
        $lines.Add($pending.ToString())
        $pending.Length = 0
    }

    $cmdlet = $Reader.Cmdlet
    foreach ($line in $lines) {
        if ($line.Length -gt 0 -and $line[$line.Length - 1] -eq [char]13) {
            $line = $line.Substring(0, $line.Length - 1)
        }
        if (-not $Stream.IsError) {
            $cmdlet.WriteObject($line)
            continue
        }
        $exception = New-Object System.Management.Automation.RemoteException $line
        $exception.Data['WinsHost.ErrorId'] = 'ProcessStandardError'
        $exception.Data['WinsHost.Category'] = 'NotSpecified'
        $record = New-Object System.Management.Automation.ErrorRecord $exception, 'WinsHost.ProcessStandardError', ([System.Management.Automation.ErrorCategory]::NotSpecified), $Reader.ProcessId
        $cmdlet.WriteError($record)
    }
}
