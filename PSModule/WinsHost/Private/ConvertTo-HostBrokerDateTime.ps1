function ConvertTo-HostBrokerDateTime {
    <#
    .SYNOPSIS
    Turns an ISO 8601 time from the wire into a local [datetime], the same on every edition.

    .DESCRIPTION
    PowerShell 7's ConvertFrom-Json already turns ISO 8601 strings into DateTime values and Windows PowerShell
    5.1's does not; without this the type of a time property would depend on the edition. Values that are
    neither a DateTime nor a parsable string (a newer broker's format, $null) are returned unchanged.
    #>
    [CmdletBinding()]
    [OutputType([datetime])]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [AllowEmptyString()]
        [object] $Value
    )

    if ($Value -is [datetime]) {
        return $Value.ToLocalTime()
    }
    if ($Value -is [string] -and $Value) {
        $parsed = [datetimeoffset]::MinValue
        if ([datetimeoffset]::TryParse($Value, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::AssumeUniversal, [ref]$parsed)) {
            return $parsed.LocalDateTime
        }
    }
    $Value
}
