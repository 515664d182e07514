function Get-HostBrokerErrorInfo {
    <#
    .SYNOPSIS
    Maps a JSON-RPC error code to its WinsHost name and PowerShell ErrorCategory.

    .DESCRIPTION
    The table mirrors ErrorCodes and ErrorCategories in typings/protocol.ts; Module.Tests.ps1 reads that file
    and fails when the two disagree. Codes the module does not know (a newer broker may add some within the
    same protocol major) become 'RpcError' so that callers can still catch them by one id.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Hashtable])]
    param(
        [Parameter(Mandatory)]
        [long] $Code
    )

    $table = @{
        '-32700' = @('ParseError', 'ParserError')
        '-32600' = @('InvalidRequest', 'InvalidData')
        '-32601' = @('MethodNotFound', 'NotImplemented')
        '-32602' = @('InvalidParams', 'InvalidArgument')
        '-32603' = @('InternalError', 'NotSpecified')
        '-32800' = @('RequestCancelled', 'OperationStopped')
        '-32001' = @('PolicyDenied', 'PermissionDenied')
        '-32002' = @('ServerNotInitialized', 'InvalidOperation')
        '-32003' = @('NotFound', 'ObjectNotFound')
        '-32004' = @('Conflict', 'ResourceExists')
        '-32005' = @('LimitExceeded', 'LimitsExceeded')
        '-32006' = @('NotSupportedOnPlatform', 'NotImplemented')
        '-32007' = @('HostOperationFailed', 'InvalidOperation')
    }

    $key = [string]$Code
    if ($table.ContainsKey($key)) {
        $entry = $table[$key]
        return @{ Name = $entry[0]; Category = [System.Management.Automation.ErrorCategory]$entry[1] }
    }
    @{ Name = 'RpcError'; Category = [System.Management.Automation.ErrorCategory]::NotSpecified }
}
