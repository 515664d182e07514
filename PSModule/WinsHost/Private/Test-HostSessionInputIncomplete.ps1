function Test-HostSessionInputIncomplete {
    <#
    .SYNOPSIS
    True when the text is the start of a command that continues on the next line (the console's '>>' case).

    .DESCRIPTION
    The local parser decides, as the console does: the text is incomplete when parsing stops at its end with an
    IncompleteInput error (an unclosed brace, parenthesis, quote or here-string, a trailing pipe). Other parse
    errors are left to the session, which reports them as the parse errors they are.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $Text
    )

    $tokens = $null
    $errors = $null
    $null = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
    foreach ($parseError in @($errors)) {
        if ($null -ne $parseError -and $parseError.IncompleteInput) {
            return $true
        }
    }
    $false
}
