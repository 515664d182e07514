function Get-HostSessionExitCommand {
    <#
    .SYNOPSIS
    Says whether a line typed in Enter-HostSession leaves the session: 'exit', 'Exit-HostSession' or 'Exit-PSSession'.

    .DESCRIPTION
    These run here, not in the session: the session would otherwise be asked to exit itself. Returns 'exit',
    the command's name, or $null for anything else (sent to the session). Only a whole line that is exactly
    that one statement counts, so 'exit' inside a script block still goes to the session.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $Text
    )

    $errors = $null
    $tokens = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseInput($Text, [ref]$tokens, [ref]$errors)
    if (@($errors | Where-Object { $null -ne $_ }).Count -gt 0 -or $null -eq $ast.EndBlock) {
        return $null
    }
    $statements = @($ast.EndBlock.Statements)
    if ($statements.Count -ne 1 -or $null -ne $ast.BeginBlock -or $null -ne $ast.ProcessBlock) {
        return $null
    }
    $statement = $statements[0]
    if ($statement -is [System.Management.Automation.Language.ExitStatementAst]) {
        return 'exit'
    }
    if ($statement -is [System.Management.Automation.Language.PipelineAst] -and @($statement.PipelineElements).Count -eq 1) {
        $command = $statement.PipelineElements[0]
        if ($command -is [System.Management.Automation.Language.CommandAst] -and @($command.CommandElements).Count -eq 1) {
            $name = $command.GetCommandName()
            foreach ($known in @('Exit-HostSession', 'Exit-PSSession')) {
                if ($name -eq $known) {
                    return $known
                }
            }
        }
    }
    $null
}
