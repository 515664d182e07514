function Invoke-HostCommand {
    <#
    .SYNOPSIS
    Runs a script block in a restricted PowerShell session on the container host, like Invoke-Command.

    .DESCRIPTION
    Sends the text of the script block to the WinsHost broker (the 'session/invoke' method), which runs it in a
    host session: a PowerShell runspace the policy of your profile builds (language mode, visible commands,
    providers, programs; see about_WinsHost). Without -Session a temporary session is opened on the host, or in
    the container named by -ContainerName, and closed after the command; with -Session the command runs in
    that session, which keeps its variables and location between commands.

    Output streams back while the command runs, as Invoke-Command gives it: strings, numbers and other
    primitive values as themselves, other objects as Deserialized.* property bags (a Get-Process on the host
    gives Deserialized.System.Diagnostics.Process objects) serialized to -Depth levels. Errors keep their
    FullyQualifiedErrorId and category (the exception is a RemoteException); warnings, verbose, debug,
    information (Write-Host) and progress records go to the same streams here, so -WarningAction,
    -InformationVariable, 2>&1 and the preference variables work as for a local command. A terminating error
    in the session (a throw, a parse error, a command the session does not show) is written as an error, as
    Invoke-Command does; under -ErrorAction Stop it ends this command.

    Values never become code: -ArgumentList, the objects piped in and the values of $using: references are
    serialized as CliXml data and bound in the session to the script block's param() block, to $input and to
    the $using: references. As with Invoke-Command, $using:name is the value the variable has here, where the
    script block was written, when the command starts; a variable that is not set is refused with
    WinsHost.UsingVariableNotSet, a provider path ($using:env:PATH) with WinsHost.UsingPathNotSupported. Other variables of this session are not visible in the host session. A
    NoLanguage session takes $using: or -ArgumentList, not both in one command.

    Pressing Ctrl+C, or a downstream command that stops the pipeline, stops the command in the host session
    (a '$/cancelRequest' for the invocation); the session stays usable for the next command. A command that
    runs longer than -TimeoutSeconds (or the profile's invocationTimeoutSeconds) is stopped and reported as
    WinsHost.InvocationTimedOut. A profile without sessions gets WinsHost.PolicyDenied.

    .PARAMETER ScriptBlock
    The commands to run in the host session. Only its text is sent; it runs in the session's language mode and
    sees only the commands the policy shows.

    .PARAMETER ArgumentList
    Values for the param() block of the script block (or $args), in order. They are sent as CliXml.

    .PARAMETER Session
    A session from New-HostSession or Get-HostSession to run the command in. Without it a temporary session is
    used.

    .PARAMETER ContainerName
    Without -Session: run the temporary session in this container instead of on the host. The name must be a
    container of the broker policy that your profile's sessions.targets lists.

    .PARAMETER InputObject
    Objects for the script block's $input. Piped objects are collected and sent together when the pipeline
    ends.

    .PARAMETER Depth
    How many levels of properties of output objects are serialized; the default and the maximum come from your
    profile (remoting's default is 1).

    .PARAMETER TimeoutSeconds
    Stop the command after this many seconds; at most the profile's invocationTimeoutSeconds.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Invoke-HostCommand { Get-Service -Name docker }

    Shows the docker service of the host, if the policy of your profile shows Get-Service.

    .EXAMPLE
    $session = New-HostSession -Name ops
    Invoke-HostCommand -Session $session -ScriptBlock { param($name) Restart-Service -Name $name -PassThru } -ArgumentList 'nginx'

    Restarts a host service whose name is passed as data, not spliced into the script text.

    .EXAMPLE
    $service = 'docker'
    Invoke-HostCommand -Session $session -ScriptBlock { Get-Service -Name $using:service }

    Uses a value of this session in the host session, as Invoke-Command does; the value travels as data.

    .EXAMPLE
    'web1', 'web2' | Invoke-HostCommand { $input | ForEach-Object { Test-Path -Path "/srv/$_" } }

    Pipes values into the host session, where they are $input.

    .EXAMPLE
    Invoke-HostCommand -ContainerName web { Get-NetIPAddress } -TimeoutSeconds 30

    Runs a command in the container the policy names 'web', from this container, through the host.

    .INPUTS
    System.Management.Automation.PSObject. Piped objects become $input of the script block.

    .OUTPUTS
    System.Management.Automation.PSObject. What the script block outputs, deserialized.

    .LINK
    New-HostSession

    .LINK
    Enter-HostSession

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'Temporary')]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory, Position = 0)]
        [ValidateNotNull()]
        [scriptblock] $ScriptBlock,

        [Alias('Args')]
        [AllowEmptyCollection()]
        [AllowNull()]
        [object[]] $ArgumentList,

        [Parameter(Mandatory, ParameterSetName = 'Session')]
        [ValidateNotNull()]
        [PSTypeName('WinsHost.Session')]
        [psobject] $Session,

        [Parameter(ParameterSetName = 'Temporary')]
        [ValidateNotNullOrEmpty()]
        [string] $ContainerName,

        [Parameter(ValueFromPipeline)]
        [AllowNull()]
        [psobject] $InputObject,

        [ValidateRange(1, 10)]
        [int] $Depth,

        [ValidateRange(1, 604800)]
        [int] $TimeoutSeconds,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    begin {
        $collected = [System.Collections.Generic.List[object]]::new()
        $hasInput = $false
    }

    process {
        # Without piped input PowerShell still runs process once, with $InputObject unbound.
        if ($PSBoundParameters.ContainsKey('InputObject')) {
            $hasInput = $true
            $collected.Add($InputObject)
        }
    }

    end {
        # One level more than the output depth: the array around the values is a level of its own.
        $serializationDepth = 2
        if ($PSBoundParameters.ContainsKey('Depth')) {
            $serializationDepth = $Depth + 1
        }
        $argumentsCliXml = $null
        if ($PSBoundParameters.ContainsKey('ArgumentList') -and $null -ne $ArgumentList) {
            $argumentsCliXml = [System.Management.Automation.PSSerializer]::Serialize([object[]]$ArgumentList, $serializationDepth)
        }
        $inputCliXml = $null
        if ($hasInput) {
            $inputCliXml = [System.Management.Automation.PSSerializer]::Serialize($collected.ToArray(), $serializationDepth)
        }

        $params = [ordered]@{}
        $sessionId = $null
        if ($PSCmdlet.ParameterSetName -eq 'Session') {
            $sessionId = [string]$Session.Id
            $params['sessionId'] = $sessionId
        }
        elseif ($ContainerName) {
            $params['target'] = $ContainerName
        }
        else {
            $params['target'] = 'host'
        }
        $params['script'] = $ScriptBlock.ToString()
        if ($null -ne $argumentsCliXml) {
            $params['arguments'] = $argumentsCliXml
        }
        if ($null -ne $inputCliXml) {
            $params['input'] = $inputCliXml
        }
        if ($PSBoundParameters.ContainsKey('Depth')) {
            $params['depth'] = $Depth
        }
        if ($PSBoundParameters.ContainsKey('TimeoutSeconds')) {
            $params['timeoutSeconds'] = $TimeoutSeconds
        }

        # Compiled from here to the response (WinsHost.SessionInvocation): no script function stands between
        # this cmdlet and the connection, since each costs a noticeable part of a warm `{ 1 }`. The current
        # connection goes as it is; the compiled side reopens it through Get-HostRpcConnection when it is closed.
        $invocation = [WinsHost.SessionInvocation]::new($PSCmdlet, $sessionId, $null, $script:HostSessionRecordWriter)
        try {
            # A text search first: reading the values walks the script block's syntax tree.
            if ($params['script'].IndexOf('using:', [System.StringComparison]::OrdinalIgnoreCase) -ge 0) {
                $usingValues = Get-HostSessionUsingValue -ScriptBlock $ScriptBlock
                if ($usingValues.Count -gt 0) {
                    $params['using'] = [System.Management.Automation.PSSerializer]::Serialize($usingValues, $serializationDepth)
                }
            }
            $connection = $script:HostBrokerConnection
            if ($Pipe) {
                $connection = Get-HostRpcConnection -Pipe $Pipe
            }
            $response = $invocation.Invoke($connection, $script:HostRpcReconnect, 'session/invoke', $params, $false)
            if ($null -ne $response.Error) {
                throw (New-HostRpcErrorException -Method 'session/invoke' -RpcError $response.Error -Pipe $response.Connection.Endpoint.Pipe)
            }
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }
        if ($invocation.State -ne 'Completed') {
            Write-HostSessionOutcome -Cmdlet $PSCmdlet -Invocation $invocation -SessionId $sessionId -TimeoutSeconds $TimeoutSeconds
        }
        if ($null -ne $sessionId -and $null -ne $invocation.Location -and $null -ne $Session.PSObject.Properties['Location']) {
            # The prompt of Enter-HostSession and scripts that look at the object see where the session is now.
            $Session.Location = $invocation.Location
        }
    }
}
