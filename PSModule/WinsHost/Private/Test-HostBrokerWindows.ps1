function Test-HostBrokerWindows {
    <#
    .SYNOPSIS
    True when this PowerShell runs on Windows.

    .DESCRIPTION
    $IsWindows does not exist in Windows PowerShell 5.1 (it reads as $null there, i.e. "not Windows"), so the
    platform is read from the runtime instead. A function rather than an inline test so that tests can mock the
    platform and check the Windows pipe rules on Linux.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()

    [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}
