function ConvertFrom-HostSessionErrorRecord {
    <#
    .SYNOPSIS
    Rebuilds an ErrorRecord from the CliXml a session sent, keeping its FullyQualifiedErrorId and category.

    .DESCRIPTION
    ErrorRecord.FromPSObjectForRemoting (non-public, present on Windows PowerShell 5.1 and PowerShell 7) is
    what Invoke-Command uses for remote errors: it gives a RemoteException with the original message, the
    original FullyQualifiedErrorId, category, target and invocation info. Where the method is missing or
    fails, an ErrorRecord with a RemoteException is built from the deserialized properties instead. CliXml
    that is not an error record at all becomes WinsHost.SessionOutputInvalid.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string] $CliXml
    )

    $deserialized = $null
    try {
        $deserialized = [System.Management.Automation.PSSerializer]::Deserialize($CliXml)
    }
    catch {
        return (New-HostBrokerErrorRecord -ErrorId 'SessionOutputInvalid' -Category InvalidData -ExceptionType InvalidData `
                -Message ('The session sent an error record that is not valid CliXml: {0}' -f (Get-HostBrokerInnerException -Exception $_.Exception).Message))
    }
    if ($deserialized -is [System.Management.Automation.ErrorRecord]) {
        return $deserialized
    }
    $source = [System.Management.Automation.PSObject]::AsPSObject($deserialized)

    $fromRemoting = [System.Management.Automation.ErrorRecord].GetMethod('FromPSObjectForRemoting', [System.Reflection.BindingFlags]'NonPublic,Static')
    if ($null -ne $fromRemoting) {
        try {
            $record = $fromRemoting.Invoke($null, @(, $source))
            if ($null -ne $record) {
                return $record
            }
        }
        catch {
            Write-Debug ('WinsHost: FromPSObjectForRemoting failed: {0}' -f (Get-HostBrokerInnerException -Exception $_.Exception).Message)
        }
    }

    # The fallback reads what PSSerializer writes for an ErrorRecord; anything else is shown by its text.
    $properties = $source.PSObject.Properties
    $message = $null
    foreach ($name in @('ErrorDetails_Message', 'Exception_Message')) {
        if ($null -ne $properties[$name] -and $properties[$name].Value) {
            $message = [string]$properties[$name].Value
            break
        }
    }
    if (-not $message -and $null -ne $properties['Exception'] -and $null -ne $properties['Exception'].Value) {
        $exceptionProperties = [System.Management.Automation.PSObject]::AsPSObject($properties['Exception'].Value).PSObject.Properties
        if ($null -ne $exceptionProperties['Message']) {
            $message = [string]$exceptionProperties['Message'].Value
        }
    }
    if (-not $message) {
        $message = [string]$source
    }
    $errorId = 'RemoteError'
    if ($null -ne $properties['FullyQualifiedErrorId'] -and $properties['FullyQualifiedErrorId'].Value) {
        $errorId = [string]$properties['FullyQualifiedErrorId'].Value
    }
    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    foreach ($name in @('ErrorCategory_Category', 'CategoryInfo_Category')) {
        if ($null -ne $properties[$name] -and $null -ne $properties[$name].Value) {
            $parsed = [System.Management.Automation.ErrorCategory]::NotSpecified
            if ([System.Enum]::TryParse([string]$properties[$name].Value, [ref]$parsed)) {
                $category = $parsed
            }
            break
        }
    }
    $target = $null
    if ($null -ne $properties['TargetObject']) {
        $target = $properties['TargetObject'].Value
    }
    $exception = New-Object System.Management.Automation.RemoteException $message
    New-Object System.Management.Automation.ErrorRecord $exception, $errorId, $category, $target
}
