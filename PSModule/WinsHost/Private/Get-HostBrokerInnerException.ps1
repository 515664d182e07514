function Get-HostBrokerInnerException {
    <#
    .SYNOPSIS
    Unwraps the exception PowerShell or the task library put around the one that says what happened.

    .DESCRIPTION
    A .NET method called from PowerShell fails with a MethodInvocationException, and a faulted Task with an
    AggregateException; neither message tells the user anything about the pipe.
    #>
    [CmdletBinding()]
    [OutputType([System.Exception])]
    param(
        [Parameter(Mandatory)]
        [System.Exception] $Exception
    )

    $wrappers = @(
        [System.Management.Automation.MethodInvocationException]
        [System.Management.Automation.GetValueInvocationException]
        [System.AggregateException]
        [System.Reflection.TargetInvocationException]
    )
    $current = $Exception
    while ($null -ne $current.InnerException) {
        $isWrapper = $false
        foreach ($wrapper in $wrappers) {
            if ($current -is $wrapper) {
                $isWrapper = $true
            }
        }
        if (-not $isWrapper) {
            break
        }
        $current = $current.InnerException
    }
    $current
}
