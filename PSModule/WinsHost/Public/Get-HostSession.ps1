function Get-HostSession {
    <#
    .SYNOPSIS
    Gets your open host sessions, like Get-PSSession.

    .DESCRIPTION
    Asks the WinsHost broker for the sessions you opened (the 'session/list' method) - with New-HostSession,
    from any connection of your profile - and outputs them as WinsHost.Session objects: Id, Name, Target (host
    or the container), State (Opened, Busy while a command runs, Broken once its session host has gone),
    LanguageMode, Location, and with Format-List the PowerShell version, process id, creation and last use
    time, idle timeout and the policy rule that allowed it.

    -Name takes wildcards. A name or id without wildcards that matches no session is reported as a
    non-terminating WinsHost.SessionNotFound error (category ObjectNotFound), as Get-Process does.

    .PARAMETER Name
    Names of the sessions to get; wildcards are allowed. Without it every session is returned.

    .PARAMETER Id
    Ids of the sessions to get, such as s-3f9c2a1b.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostSession

    Lists your host sessions.

    .EXAMPLE
    Get-HostSession -Name ops* | Format-List

    Shows every detail of the sessions whose names start with 'ops'.

    .EXAMPLE
    Get-HostSession | Where-Object State -EQ Broken | Remove-HostSession

    Removes the sessions whose session host has gone.

    .INPUTS
    System.String. The Name property of piped objects binds to -Name, their Id to -Id.

    .OUTPUTS
    WinsHost.Session

    .LINK
    New-HostSession

    .LINK
    Remove-HostSession

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    [OutputType('WinsHost.Session')]
    param(
        [Parameter(Position = 0, ParameterSetName = 'Name', ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [SupportsWildcards()]
        [string[]] $Name,

        [Parameter(Mandatory, ParameterSetName = 'Id', ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        $selection = @{ Cmdlet = $PSCmdlet; Pipe = $Pipe }
        if ($PSCmdlet.ParameterSetName -eq 'Id') {
            $selection['Id'] = $Id
        }
        elseif ($PSBoundParameters.ContainsKey('Name')) {
            $selection['Name'] = $Name
        }
        Find-HostSession @selection
    }
}
