function Read-HostSessionCommand {
    <#
    .SYNOPSIS
    Shows the host session prompt and reads one command, over several lines when it is incomplete.

    .DESCRIPTION
    The prompt is '[<target>]: PS <location>> ', or '[<target>]: PS> ' when the session has no location, as
    Enter-PSSession shows it. Lines are read with PSReadLine when it is loaded (PSConsoleHostReadLine, which
    handles multi-line input itself), else with $Host.UI.ReadLine(). While the text parses with an
    IncompleteInput error (an open brace, quote or pipe) the prompt '>> ' asks for more, as the console does;
    an empty line then ends the command, and the parser reports what is missing when it runs.

    Returns $null at the end of input (the console was closed), the text otherwise.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.Host.PSHost] $HostInterface,

        [Parameter(Mandatory)]
        [string] $Target,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Location
    )

    $prompt = '[{0}]: PS> ' -f $Target
    if ($Location) {
        $prompt = '[{0}]: PS {1}> ' -f $Target, $Location
    }
    $readLine = Get-Command -Name 'PSConsoleHostReadLine' -CommandType Function -ErrorAction Ignore

    $text = $null
    $currentPrompt = $prompt
    while ($true) {
        $HostInterface.UI.Write($currentPrompt)
        if ($readLine) {
            $line = & $readLine
        }
        else {
            $line = $HostInterface.UI.ReadLine()
        }
        if ($null -eq $line) {
            return $text
        }
        if ($null -eq $text) {
            $text = $line
        }
        else {
            if ($line.Length -eq 0) {
                return $text
            }
            $text = $text + "`n" + $line
        }
        if (-not (Test-HostSessionInputIncomplete -Text $text)) {
            return $text
        }
        $currentPrompt = '>> '
    }
}
