function New-HostBrokerException {
    <#
    .SYNOPSIS
    Creates the exception the private client throws, tagged with the error id and category it stands for.

    .DESCRIPTION
    The client runs below the public cmdlets, so it cannot write ErrorRecords for them; it throws an exception
    that carries the id and category in Exception.Data instead, and New-HostBrokerErrorRecord turns that into
    the cmdlet's ErrorRecord. Plain .NET exception types keep the module free of Add-Type (slow to load on
    Windows PowerShell 5.1) and of PowerShell classes (which do not survive dot-sourcing well).

    Data values must be serializable on .NET Framework (Exception.Data rejects others there); callers pass
    strings, numbers and hashtables.
    #>
    [CmdletBinding()]
    [OutputType([System.Exception])]
    param(
        # The id without the 'WinsHost.' prefix, e.g. 'ConnectionError', 'ProtocolError', 'PolicyDenied'.
        [Parameter(Mandatory)]
        [string] $ErrorId,

        [Parameter(Mandatory)]
        [System.Management.Automation.ErrorCategory] $Category,

        [Parameter(Mandatory)]
        [string] $Message,

        [ValidateSet('IO', 'InvalidData', 'InvalidOperation', 'Argument', 'Timeout')]
        [string] $ExceptionType = 'InvalidOperation',

        [System.Exception] $InnerException,

        [System.Collections.IDictionary] $Data
    )

    $typeName = @{
        IO               = 'System.IO.IOException'
        InvalidData      = 'System.IO.InvalidDataException'
        InvalidOperation = 'System.InvalidOperationException'
        Argument         = 'System.ArgumentException'
        Timeout          = 'System.TimeoutException'
    }[$ExceptionType]

    if ($InnerException) {
        $exception = New-Object -TypeName $typeName -ArgumentList $Message, $InnerException
    }
    else {
        $exception = New-Object -TypeName $typeName -ArgumentList $Message
    }

    $exception.Data['WinsHost.ErrorId'] = $ErrorId
    $exception.Data['WinsHost.Category'] = [string]$Category
    if ($Data) {
        foreach ($key in $Data.Keys) {
            $exception.Data[$key] = $Data[$key]
        }
    }
    $exception
}
