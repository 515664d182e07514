function Remove-HostSession {
    <#
    .SYNOPSIS
    Closes host sessions, like Remove-PSSession.

    .DESCRIPTION
    Asks the WinsHost broker to close sessions (the 'session/remove' method): a command running in one is
    stopped, its runspace disposed and its session host process ended. Give the sessions as objects (from
    Get-HostSession or New-HostSession, also through the pipeline), by -Name (wildcards allowed) or by -Id. A
    name or id without wildcards that matches none of your sessions is a non-terminating
    WinsHost.SessionNotFound error (ObjectNotFound); so is a session the broker no longer knows
    (WinsHost.NotFound).

    .PARAMETER Session
    The sessions to close, as WinsHost.Session objects.

    .PARAMETER Name
    Names of the sessions to close; wildcards are allowed.

    .PARAMETER Id
    Ids of the sessions to close. The Id property of piped objects binds to it.

    .PARAMETER PassThru
    Outputs each closed session as the broker reported it last.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .PARAMETER WhatIf
    Shows the sessions that would be closed without closing them.

    .PARAMETER Confirm
    Asks for confirmation before closing each session.

    .EXAMPLE
    Get-HostSession | Remove-HostSession

    Closes all your host sessions.

    .EXAMPLE
    Remove-HostSession -Name ops -WhatIf

    Shows which session would be closed.

    .INPUTS
    WinsHost.Session, or objects with an Id property.

    .OUTPUTS
    WinsHost.Session with -PassThru.

    .LINK
    Get-HostSession

    .LINK
    New-HostSession

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(SupportsShouldProcess, DefaultParameterSetName = 'Session', ConfirmImpact = 'Medium')]
    [OutputType('WinsHost.Session')]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'Session', ValueFromPipeline)]
        [ValidateNotNull()]
        [PSTypeName('WinsHost.Session')]
        [psobject[]] $Session,

        [Parameter(Mandatory, ParameterSetName = 'Name')]
        [ValidateNotNullOrEmpty()]
        [SupportsWildcards()]
        [string[]] $Name,

        [Parameter(Mandatory, ParameterSetName = 'Id', ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [switch] $PassThru,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        $targets = New-Object System.Collections.Generic.List[psobject]
        if ($PSCmdlet.ParameterSetName -eq 'Session') {
            foreach ($item in $Session) {
                $targets.Add($item)
            }
        }
        else {
            $selection = @{ Cmdlet = $PSCmdlet; Pipe = $Pipe }
            if ($PSCmdlet.ParameterSetName -eq 'Name') {
                $selection['Name'] = $Name
            }
            else {
                $selection['Id'] = $Id
            }
            foreach ($item in (Find-HostSession @selection)) {
                $targets.Add($item)
            }
        }

        foreach ($item in $targets) {
            $sessionId = [string]$item.Id
            if (-not $PSCmdlet.ShouldProcess(('{0} ({1})' -f $item.Name, $sessionId), 'Remove host session')) {
                continue
            }
            try {
                $removed = Close-HostSessionOnBroker -SessionId $sessionId -Pipe $Pipe
            }
            catch {
                $record = New-HostBrokerErrorRecord -ErrorRecord $_
                if ($record.FullyQualifiedErrorId -like 'WinsHost.NotFound*') {
                    # Already gone (idle timeout, removed elsewhere): not a reason to stop removing the others.
                    $PSCmdlet.WriteError($record)
                    continue
                }
                $PSCmdlet.ThrowTerminatingError($record)
            }
            Write-Verbose ("WinsHost: removed host session {0} ({1})." -f $removed.Name, $removed.Id)
            if ($PassThru) {
                $removed
            }
        }
    }
}
