function Get-HostSessionUsingValue {
    <#
    .SYNOPSIS
    The values of a script block's $using: references, read where the script block was written.

    .DESCRIPTION
    As with Invoke-Command, every $using:name in the script block (nested script blocks included) stands for
    the value the variable has in the caller's scope now. A module function runs in its module's session state
    and cannot see its caller's variables by name, so a small reader is bound to the script block's own session
    state (the internal ScriptBlock.SessionStateInternal, which Pester binds the same way for InModuleScope) and
    asked there, from the caller's current scope outwards.

    Returns a hashtable from variable name to value, empty without $using:. A variable that is not set is
    refused with WinsHost.UsingVariableNotSet, as Invoke-Command refuses it. A provider path ($using:env:PATH)
    is not a variable and is refused with WinsHost.UsingPathNotSupported, which says to copy it into one.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)]
        [scriptblock] $ScriptBlock
    )

    $values = @{}
    $references = @($ScriptBlock.Ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.UsingExpressionAst] }, $true))
    if ($references.Count -eq 0) {
        return $values
    }
    $sessionStateProperty = [scriptblock].GetProperty('SessionStateInternal', [System.Reflection.BindingFlags]'Instance, NonPublic')
    $reader = [scriptblock]::Create('$ExecutionContext.SessionState.PSVariable.Get($args[0])')
    $sessionStateProperty.SetValue($reader, $sessionStateProperty.GetValue($ScriptBlock, $null), $null)
    foreach ($reference in $references) {
        $path = [System.Management.Automation.Language.UsingExpressionAst]::ExtractUsingVariable($reference).VariablePath
        $name = $path.UserPath
        if ($values.ContainsKey($name)) {
            continue
        }
        if ($path.IsDriveQualified -and -not $path.IsVariable) {
            throw (New-HostBrokerException -ErrorId 'UsingPathNotSupported' -Category InvalidArgument -ExceptionType Argument `
                    -Message ("`$using:{0} reads a provider path, which cannot be sent to the host session; copy it into a variable first (`$value = `${{{0}}}) and use `$using:value." -f $name) `
                    -Data @{ Variable = $name })
        }
        $variable = $null
        try {
            $variable = & $reader $name
        }
        catch {
            Write-Debug ("WinsHost: reading `$using:{0} failed: {1}" -f $name, $_.Exception.Message)
        }
        if ($null -eq $variable) {
            throw (New-HostBrokerException -ErrorId 'UsingVariableNotSet' -Category InvalidArgument -ExceptionType Argument `
                    -Message ("The value of `$using:{0} cannot be sent to the host session: no variable '{0}' is set where the script block was written." -f $name) `
                    -Data @{ Variable = $name })
        }
        $values[$name] = $variable.Value
    }
    $values
}
