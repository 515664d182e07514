function Get-HostInfo {
    <#
    .SYNOPSIS
    Gets information about the container host: name, operating system, kernel, uptime and broker version.

    .DESCRIPTION
    Asks the WinsHost broker for the host's identity and operating system (the 'host/info' method). On Windows
    hosts the result includes the registry version values that 'wins cli hst get-version' reported
    (WindowsVersion: CurrentMajorVersionNumber, CurrentBuildNumber, UBR, ReleaseId, ...), so that a container
    can pick an image or a download that matches the host build.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostInfo

    Shows the host's name, operating system, build, kernel, architecture, uptime and the broker version.

    .EXAMPLE
    (Get-HostInfo).WindowsVersion.CurrentBuildNumber

    On a Windows host, gets the host build number, e.g. to choose a container base image tag that matches it.

    .EXAMPLE
    $bootedFor = New-TimeSpan -Seconds (Get-HostInfo -Pipe /run/winshost/winshost.sock).UptimeSeconds

    Gets the host uptime as a TimeSpan through an explicitly named socket.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.HostInfo

    .LINK
    Get-HostNetwork

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.HostInfo')]
    param(
        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    try {
        $result = Invoke-HostRpc -Method 'host/info' -Pipe $Pipe
    }
    catch {
        $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
    }
    ConvertTo-HostInfo -InputObject $result
}
