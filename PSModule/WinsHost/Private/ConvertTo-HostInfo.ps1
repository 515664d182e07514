function ConvertTo-HostInfo {
    <#
    .SYNOPSIS
    Shapes a host/info result (typings/host.ts) as a WinsHost.HostInfo.

    .DESCRIPTION
    BootTime becomes a [datetime] in local time: PowerShell 7's ConvertFrom-Json already turns ISO 8601 strings
    into DateTime values and Windows PowerShell 5.1's does not, so without this the type would depend on the
    edition.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.HostInfo')]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [psobject] $InputObject
    )

    $toDateTime = {
        param($value)
        if ($value -is [datetime]) {
            return $value.ToLocalTime()
        }
        if ($value -is [string] -and $value) {
            $parsed = [datetimeoffset]::MinValue
            if ([datetimeoffset]::TryParse($value, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::AssumeUniversal, [ref]$parsed)) {
                return $parsed.LocalDateTime
            }
        }
        $value
    }
    $windowsVersion = {
        param($value)
        if ($null -eq $value) {
            return $null
        }
        ConvertTo-HostBrokerObject -InputObject $value -TypeName 'WinsHost.WindowsVersionInfo' -Property @(
            'CurrentMajorVersionNumber'
            'CurrentMinorVersionNumber'
            'CurrentBuildNumber'
            'UBR'
            'ReleaseId'
            'BuildLabEx'
            'CurrentBuild'
            'ProductName'
            'DisplayVersion'
        ) -Integer @('CurrentMajorVersionNumber', 'CurrentMinorVersionNumber', 'UBR')
    }

    ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.HostInfo' -Property @(
        'HostName'
        'Platform'
        'OSName'
        'OSVersion'
        'OSBuild'
        'KernelVersion'
        'Architecture'
        'UptimeSeconds'
        'BootTime'
        'BrokerVersion'
        'WindowsVersion'
    ) -Transform @{
        BootTime       = $toDateTime
        WindowsVersion = $windowsVersion
    }
}
