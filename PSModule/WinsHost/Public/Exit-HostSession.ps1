function Exit-HostSession {
    <#
    .SYNOPSIS
    Leaves the interactive host session started by Enter-HostSession, like Exit-PSSession.

    .DESCRIPTION
    Typed at the prompt of Enter-HostSession, it ends the loop (as 'exit' does); a session Enter-HostSession
    opened itself is then removed, an existing one stays open. Outside a host session it is an error:
    WinsHost.NotInHostSession (InvalidOperation).

    .EXAMPLE
    [host]: PS /root> Exit-HostSession

    Leaves the host session and returns to the local prompt.

    .INPUTS
    None.

    .OUTPUTS
    None.

    .LINK
    Enter-HostSession

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param()

    end {
        if ($null -eq $script:HostSessionInteractive) {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorId 'NotInHostSession' -Category InvalidOperation `
                        -Message 'Exit-HostSession leaves the interactive session Enter-HostSession starts; this PowerShell is not in one.'))
        }
        $script:HostSessionInteractive.ExitRequested = $true
    }
}
