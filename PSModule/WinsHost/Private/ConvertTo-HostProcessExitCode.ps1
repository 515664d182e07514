function ConvertTo-HostProcessExitCode {
    <#
    .SYNOPSIS
    Turns an exit code from the wire into an [int] the way Windows reports it, or $null.

    .DESCRIPTION
    Windows exit codes are 32-bit unsigned values on the wire (NTSTATUS codes such as 0xC0000005 are above
    [int]::MaxValue); Windows PowerShell, PowerShell 7 and System.Diagnostics.Process show them as the signed
    32-bit value, so they are wrapped the same way. $null (no exit code yet, or none known) stays $null.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [object] $Value
    )

    if ($null -eq $Value) {
        return $null
    }
    $code = [long]0
    if (-not [long]::TryParse([string]$Value, [System.Globalization.NumberStyles]::Integer, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$code)) {
        return $null
    }
    if ($code -gt [int]::MaxValue -and $code -le [uint32]::MaxValue) {
        $code -= 4294967296
    }
    if ($code -lt [int]::MinValue -or $code -gt [int]::MaxValue) {
        return $null
    }
    [int]$code
}
