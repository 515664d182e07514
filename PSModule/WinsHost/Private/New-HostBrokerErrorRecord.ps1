function New-HostBrokerErrorRecord {
    <#
    .SYNOPSIS
    Builds every ErrorRecord the module's cmdlets write or throw.

    .DESCRIPTION
    Ids are 'WinsHost.<Name>'; $PSCmdlet.WriteError and ThrowTerminatingError append ',<CmdletName>', which
    gives the documented FullyQualifiedErrorIds such as 'WinsHost.PolicyDenied,Get-HostNetwork'.

    -ErrorRecord takes what a cmdlet caught from the private client: exceptions tagged by
    New-HostBrokerException become the record they describe, and so does a failure of the connection
    (WinsHost.RpcTransportException, see ConvertFrom-HostRpcTransportException); anything else (a bug, or an error thrown by a
    notification callback) is returned untouched so that its own id and position survive.
    #>
    [CmdletBinding(DefaultParameterSetName = 'New')]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory, ParameterSetName = 'FromCaught')]
        [System.Management.Automation.ErrorRecord] $ErrorRecord,

        # The id without the 'WinsHost.' prefix, e.g. 'AdapterNotFound'.
        [Parameter(Mandatory, ParameterSetName = 'New')]
        [string] $ErrorId,

        [Parameter(Mandatory, ParameterSetName = 'New')]
        [System.Management.Automation.ErrorCategory] $Category,

        [Parameter(Mandatory, ParameterSetName = 'New')]
        [string] $Message,

        [Parameter(ParameterSetName = 'New')]
        [ValidateSet('IO', 'InvalidData', 'InvalidOperation', 'Argument', 'Timeout', 'ItemNotFound')]
        [string] $ExceptionType = 'InvalidOperation',

        [Parameter(ParameterSetName = 'New')]
        [object] $TargetObject,

        [Parameter(ParameterSetName = 'New')]
        [string] $RecommendedAction
    )

    if ($PSCmdlet.ParameterSetName -eq 'New') {
        if ($ExceptionType -eq 'ItemNotFound') {
            $exception = New-Object System.Management.Automation.ItemNotFoundException $Message
            $exception.Data['WinsHost.ErrorId'] = $ErrorId
            $exception.Data['WinsHost.Category'] = [string]$Category
        }
        else {
            $exception = New-HostBrokerException -ErrorId $ErrorId -Category $Category -Message $Message -ExceptionType $ExceptionType
        }
        $record = New-Object System.Management.Automation.ErrorRecord $exception, "WinsHost.$ErrorId", $Category, $TargetObject
        if ($RecommendedAction) {
            $record.ErrorDetails = New-Object System.Management.Automation.ErrorDetails $Message
            $record.ErrorDetails.RecommendedAction = $RecommendedAction
        }
        return $record
    }

    $exception = Get-HostBrokerInnerException -Exception $ErrorRecord.Exception
    if ($exception -is [WinsHost.RpcTransportException]) {
        # Thrown by a compiled session invocation, which no Invoke-HostRpc stood between.
        $exception = ConvertFrom-HostRpcTransportException -Failure $exception
    }
    if (-not $exception.Data.Contains('WinsHost.ErrorId')) {
        return $ErrorRecord
    }

    $id = [string]$exception.Data['WinsHost.ErrorId']
    $category = [System.Management.Automation.ErrorCategory][string]$exception.Data['WinsHost.Category']
    $target = $null
    if ($exception.Data.Contains('Method')) {
        $target = $exception.Data['Method']
    }
    elseif ($exception.Data.Contains('Pipe')) {
        $target = $exception.Data['Pipe']
    }

    $record = New-Object System.Management.Automation.ErrorRecord $exception, "WinsHost.$id", $category, $target

    $action = $null
    switch ($id) {
        'PolicyDenied' {
            $action = 'Ask the host administrator to allow this in the broker policy for your profile (Connect-HostBroker -PassThru shows the profile).'
        }
        'ConnectionError' {
            $action = 'Check that the broker runs on the host and that its pipe or socket is mounted into this container.'
        }
        'ProtocolError' {
            $action = 'Check that the pipe belongs to a WinsHost broker of a compatible version.'
        }
    }
    if ($action) {
        $record.ErrorDetails = New-Object System.Management.Automation.ErrorDetails $exception.Message
        $record.ErrorDetails.RecommendedAction = $action
    }
    $record
}
