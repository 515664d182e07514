function New-WinsHostTestErrorRecord {
    <#
    .SYNOPSIS
    An ErrorRecord with the id 'WinsHost.Testing.<ErrorId>', for $PSCmdlet.ThrowTerminatingError or WriteError.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory)]
        [string] $ErrorId,

        [Parameter(Mandatory)]
        [System.Management.Automation.ErrorCategory] $Category,

        [Parameter(Mandatory)]
        [string] $Message,

        [ValidateSet('Argument', 'FileNotFound', 'InvalidOperation', 'Timeout')]
        [string] $ExceptionType = 'InvalidOperation',

        [AllowNull()]
        [object] $TargetObject
    )

    $typeName = @{
        Argument         = 'System.ArgumentException'
        FileNotFound     = 'System.IO.FileNotFoundException'
        InvalidOperation = 'System.InvalidOperationException'
        Timeout          = 'System.TimeoutException'
    }[$ExceptionType]
    $exception = New-Object -TypeName $typeName -ArgumentList $Message
    New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList $exception, ('WinsHost.Testing.' + $ErrorId), $Category, $TargetObject
}
