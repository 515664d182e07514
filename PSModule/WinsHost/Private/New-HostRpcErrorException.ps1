function New-HostRpcErrorException {
    <#
    .SYNOPSIS
    Creates the exception for a JSON-RPC error response.

    .DESCRIPTION
    The broker's message is kept as it is; for PolicyDenied the deciding policy rule (error.data.rule) is
    appended, because "denied" alone does not tell the user what to ask the host administrator for. error.data
    stays available as Exception.Data['ErrorData'] (a hashtable) for scripts that branch on data.reason.
    #>
    [CmdletBinding()]
    [OutputType([System.InvalidOperationException])]
    param(
        # The method the request called; it becomes the ErrorRecord's TargetObject.
        [Parameter(Mandatory)]
        [string] $Method,

        # The 'error' member of the response: { code, message, data }.
        [Parameter(Mandatory)]
        [psobject] $RpcError,

        [string] $Pipe
    )

    $code = $null
    $brokerMessage = $null
    $errorData = $null
    foreach ($property in $RpcError.PSObject.Properties) {
        switch ($property.Name) {
            'code' { $code = $property.Value }
            'message' { $brokerMessage = [string]$property.Value }
            'data' { $errorData = $property.Value }
        }
    }

    $codeNumber = [long]0
    if ($null -eq $code -or -not [long]::TryParse([string]$code, [ref]$codeNumber)) {
        $codeNumber = [long]0
    }
    $info = Get-HostBrokerErrorInfo -Code $codeNumber

    if ([string]::IsNullOrWhiteSpace($brokerMessage)) {
        $brokerMessage = "The broker failed '$Method' with error $code"
    }

    # Exception.Data on .NET Framework accepts only serializable values: a hashtable is, a PSCustomObject
    # from ConvertFrom-Json may not be, so the top level of error.data is copied into one.
    $dataTable = $null
    $rule = $null
    if ($errorData -is [System.Management.Automation.PSCustomObject]) {
        $dataTable = [ordered]@{}
        foreach ($property in $errorData.PSObject.Properties) {
            $dataTable[$property.Name] = $property.Value
        }
        if ($dataTable.Contains('rule') -and $dataTable['rule']) {
            $rule = [string]$dataTable['rule']
        }
    }
    elseif ($null -ne $errorData) {
        $dataTable = [ordered]@{ value = $errorData }
    }

    $message = $brokerMessage
    # The broker's own message may already name the rule; saying it twice helps nobody.
    if ($info.Name -eq 'PolicyDenied' -and $rule -and -not $brokerMessage.Contains($rule)) {
        $message = '{0} (policy rule: {1})' -f $brokerMessage.TrimEnd('.'), $rule
    }

    $data = @{
        Method    = $Method
        Code      = $codeNumber
        CodeName  = $info.Name
        ErrorData = $dataTable
    }
    if ($Pipe) {
        $data['Pipe'] = $Pipe
    }
    New-HostBrokerException -ErrorId $info.Name -Category $info.Category -Message $message -ExceptionType InvalidOperation -Data $data
}
