function Test-WinsHostTestWindows {
    <#
    .SYNOPSIS
    True on Windows, in Windows PowerShell 5.1 (which has no $IsWindows) and in PowerShell 7 alike.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}
