function New-HostSession {
    <#
    .SYNOPSIS
    Opens a persistent, restricted PowerShell session on the container host (or in another container).

    .DESCRIPTION
    Asks the WinsHost broker for a host session (the 'session/new' method): a PowerShell runspace in a session
    host process the broker starts, built from the policy of your profile - its language mode (NoLanguage by
    default, as JEA), the commands it shows, its providers and programs (see about_WinsHost). Variables and the
    location persist between the commands you run in it with Invoke-HostCommand -Session or Enter-HostSession.

    The session belongs to the broker, not to this PowerShell: close it with Remove-HostSession. The broker
    closes a session that ran nothing for the profile's idleTimeoutSeconds (900 by default); Get-HostSession
    shows what is left. A profile without sessions gets WinsHost.PolicyDenied, one at its limit of open
    sessions WinsHost.LimitExceeded.

    .PARAMETER Name
    A name for the session, unique among your sessions. Without it the broker names it Session<N>, as
    New-PSSession does.

    .PARAMETER ContainerName
    Open the session in this container instead of on the host: a container of the broker policy that your
    profile's sessions.targets lists. On Linux hosts the session host runs in the container's namespaces; on
    Windows hosts through PowerShell Direct.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .PARAMETER WhatIf
    Shows the session that would be opened without asking the broker.

    .PARAMETER Confirm
    Asks for confirmation before opening the session.

    .EXAMPLE
    $session = New-HostSession -Name ops
    Invoke-HostCommand -Session $session { Get-Service -Name kubelet }

    Opens a session on the host and runs a command in it.

    .EXAMPLE
    New-HostSession -ContainerName web | Enter-HostSession

    Opens a session in the container the policy names 'web' and works in it interactively.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.Session

    .LINK
    Get-HostSession

    .LINK
    Remove-HostSession

    .LINK
    Invoke-HostCommand

    .LINK
    Enter-HostSession

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('WinsHost.Session')]
    param(
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string] $Name,

        [ValidateNotNullOrEmpty()]
        [string] $ContainerName,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    end {
        $target = 'host'
        if ($ContainerName) {
            $target = $ContainerName
        }
        $shownName = '(named by the broker)'
        if ($Name) {
            $shownName = $Name
        }
        if (-not $PSCmdlet.ShouldProcess(('{0} on {1}' -f $shownName, $target), 'Open host session')) {
            return
        }
        try {
            $session = Open-HostSessionOnBroker -Name $Name -Target $ContainerName -Pipe $Pipe
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }
        Write-Verbose ("WinsHost: opened host session {0} ({1}) on {2}." -f $session.Name, $session.Id, $session.Target)
        $session
    }
}
