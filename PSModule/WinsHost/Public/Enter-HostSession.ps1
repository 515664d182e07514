function Enter-HostSession {
    <#
    .SYNOPSIS
    Starts an interactive session on the container host (or in another container), like Enter-PSSession.

    .DESCRIPTION
    Runs a read-run loop against a host session: the prompt '[host]: PS /root> ' (the target, then the
    session's location; '[host]: PS> ' when the session has no location) reads a command, which runs in the
    session through the same path as Invoke-HostCommand, and its output is formatted here with Out-Default as
    the console formats a local command's. Errors, warnings, verbose and information records show as they do
    for local commands.

    Lines are read with PSReadLine when it is loaded. A command that is not complete yet (an open brace,
    quote or pipe) continues on the next line with the prompt '>> '; an empty line ends it, as in the console.
    'exit', Exit-HostSession (and Exit-PSSession) leave the loop.

    Ctrl+C while a command runs stops that command in the session and returns to the prompt, without leaving
    the session; if the session does not report the stop, a second Ctrl+C abandons the command and its
    connection. At the prompt, Ctrl+C clears the line (PSReadLine).

    With -Session, -Name or -Id an existing session is entered and stays open on exit. With -ContainerName, or
    with no parameter, a new session is opened on that container (or on the host) and removed on exit.

    .PARAMETER Session
    The session to enter, from New-HostSession or Get-HostSession.

    .PARAMETER Name
    The name of one of your sessions to enter.

    .PARAMETER Id
    The id of one of your sessions to enter.

    .PARAMETER ContainerName
    Open a new session in this container (a container of the broker policy that your profile's
    sessions.targets lists) and remove it on exit. Without it, and without -Session, -Name or -Id, the new
    session runs on the host.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Enter-HostSession

    Opens a session on the host, works in it interactively and removes it on 'exit'.

    .EXAMPLE
    Get-HostSession -Name ops | Enter-HostSession

    Enters an existing session; it keeps running after 'exit'.

    .EXAMPLE
    Enter-HostSession -ContainerName web

    Works interactively in the container the policy names 'web', from this container, through the host.

    .INPUTS
    WinsHost.Session

    .OUTPUTS
    None. Output is formatted to the host.

    .LINK
    Exit-HostSession

    .LINK
    Invoke-HostCommand

    .LINK
    New-HostSession

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'New')]
    [OutputType([void])]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'Session', ValueFromPipeline)]
        [ValidateNotNull()]
        [PSTypeName('WinsHost.Session')]
        [psobject] $Session,

        [Parameter(Mandatory, ParameterSetName = 'Name')]
        [ValidateNotNullOrEmpty()]
        [string] $Name,

        [Parameter(Mandatory, ParameterSetName = 'Id')]
        [ValidateNotNullOrEmpty()]
        [string] $Id,

        [Parameter(ParameterSetName = 'New')]
        [ValidateNotNullOrEmpty()]
        [string] $ContainerName,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        if ($null -ne $script:HostSessionInteractive) {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorId 'AlreadyInHostSession' -Category InvalidOperation `
                        -Message 'This PowerShell is already in a host session; leave it with exit or Exit-HostSession first.'))
        }

        $temporary = $false
        $entered = $null
        try {
            switch ($PSCmdlet.ParameterSetName) {
                'Session' {
                    $entered = $Session
                }
                'New' {
                    $entered = Open-HostSessionOnBroker -Target $ContainerName -Pipe $Pipe
                    $temporary = $true
                }
                default {
                    $entered = @(Get-HostSessionFromBroker -Pipe $Pipe | Where-Object {
                            ($PSCmdlet.ParameterSetName -eq 'Name' -and $_.Name -eq $Name) -or ($PSCmdlet.ParameterSetName -eq 'Id' -and $_.Id -eq $Id)
                        }) | Select-Object -First 1
                }
            }
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }
        if ($null -eq $entered) {
            $wanted = $Name
            if ($PSCmdlet.ParameterSetName -eq 'Id') {
                $wanted = $Id
            }
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorId 'SessionNotFound' -Category ObjectNotFound -ExceptionType ItemNotFound -TargetObject $wanted `
                        -Message "You have no host session '$wanted'."))
        }

        $sessionId = [string]$entered.Id
        $target = [string]$entered.Target
        if (-not $target) {
            $target = 'host'
        }
        $location = $entered.Location
        # Ctrl+C can be read as a key only on a real console; elsewhere it stops this command as usual.
        $watchControlC = $false
        try {
            $watchControlC = -not [System.Console]::IsInputRedirected -and $Host.Name -eq 'ConsoleHost'
        }
        catch {
            $watchControlC = $false
        }

        $script:HostSessionInteractive = @{ SessionId = $sessionId; ExitRequested = $false }
        try {
            while (-not $script:HostSessionInteractive.ExitRequested) {
                $text = Read-HostSessionCommand -HostInterface $Host -Target $target -Location $location
                if ($null -eq $text) {
                    break
                }
                if ($text.Trim().Length -eq 0) {
                    continue
                }
                $exitCommand = Get-HostSessionExitCommand -Text $text
                if ($exitCommand -eq 'Exit-HostSession') {
                    Exit-HostSession
                    break
                }
                if ($exitCommand) {
                    break
                }

                $outDefault = { Out-Default }.GetSteppablePipeline()
                $outDefault.Begin($true)
                $treatControlC = $false
                $leave = $false
                try {
                    if ($watchControlC) {
                        try {
                            $treatControlC = [System.Console]::TreatControlCAsInput
                            [System.Console]::TreatControlCAsInput = $true
                        }
                        catch {
                            $watchControlC = $false
                        }
                    }
                    $invocation = [WinsHost.SessionInvocation]::new($PSCmdlet, $sessionId, $outDefault, $script:HostSessionRecordWriter)
                    $params = [ordered]@{ sessionId = $sessionId; script = $text }
                    $response = $invocation.Invoke((Get-HostRpcConnection -Pipe $Pipe), $script:HostRpcReconnect, 'session/invoke', $params, $watchControlC)
                    # Null: the invocation ended as the Ctrl+C read while waiting asked.
                    if ($null -ne $response) {
                        if ($null -ne $response.Error) {
                            throw (New-HostRpcErrorException -Method 'session/invoke' -RpcError $response.Error -Pipe $response.Connection.Endpoint.Pipe)
                        }
                        if ($invocation.State -ne 'Completed') {
                            Write-HostSessionOutcome -Cmdlet $PSCmdlet -Invocation $invocation -SessionId $sessionId -OutputPipeline $outDefault
                        }
                        if ($null -ne $invocation.Location) {
                            $location = $invocation.Location
                        }
                    }
                }
                catch {
                    $record = New-HostBrokerErrorRecord -ErrorRecord $_
                    $outDefault.Process($record)
                    # A session the broker no longer has (idle timeout, removed elsewhere) cannot be used again.
                    if ($record.FullyQualifiedErrorId -like 'WinsHost.NotFound*') {
                        $leave = $true
                    }
                }
                finally {
                    if ($watchControlC) {
                        try {
                            [System.Console]::TreatControlCAsInput = $treatControlC
                        }
                        catch {
                            Write-Debug "WinsHost: could not restore Console.TreatControlCAsInput: $($_.Exception.Message)"
                        }
                    }
                    $outDefault.End()
                }
                if ($leave) {
                    break
                }
            }
        }
        finally {
            $script:HostSessionInteractive = $null
            if ($temporary) {
                try {
                    $null = Close-HostSessionOnBroker -SessionId $sessionId -Pipe $Pipe
                }
                catch {
                    Write-Verbose ("WinsHost: could not remove the temporary host session {0}: {1}" -f $sessionId, $_.Exception.Message)
                }
            }
        }
    }
}
