function Start-HostProcess {
    <#
    .SYNOPSIS
    Starts a program on the container host, optionally waiting for it with its output streamed to the pipeline.

    .DESCRIPTION
    Asks the WinsHost broker to start a program on the host (the 'process/start' method); this is what
    'wins cli prc run' did. The broker runs it without a shell, only if the policy of your profile lists the
    program: its canonical path (links and '..' are refused, not resolved), optionally its SHA-256, the
    arguments and environment variable names it may get, the working directories, the ports it may expose,
    and whether it may be detached. Anything else is refused with WinsHost.PolicyDenied, and the message names
    the policy rule that decided (see about_WinsHost). A profile already running as many processes as its
    limit allows gets WinsHost.LimitExceeded.

    Without -Wait the cmdlet returns as soon as the process has started and, like Start-Process, outputs
    nothing unless -PassThru is given. Unless -Detach is given, the process is tied to this session's broker
    connection: the broker ends it (with its child processes) when the connection closes - when this
    PowerShell session ends, Disconnect-HostBroker runs, or another pipe is chosen.

    With -Wait the output of the process streams into the pipeline as it arrives: each line of its standard
    output is written as a string, each line of its standard error as a non-terminating error
    WinsHost.ProcessStandardError (category NotSpecified, TargetObject the process id), the way PowerShell 7
    treats the stderr of native commands. Redirect it with 2>&1 or collect it with -ErrorVariable. Unlike
    the stderr of a native command, such a line is an error of this cmdlet: under -ErrorAction Stop or
    $ErrorActionPreference = 'Stop' the first one ends the command (and the process is stopped). For programs
    that log to stderr, give -ErrorAction Continue: broker errors such as WinsHost.PolicyDenied stay
    terminating. Output is decoded as UTF-8, lines end at LF (a CR before it is removed), and a last line without a newline is
    written when the process exits. Then $LASTEXITCODE is set to the process's exit code; for a process ended
    by a signal (Linux hosts) to 128 + the signal number as shells report it (SIGKILL 137, SIGTERM 143); to
    -1 when the exit code is unknown. With -PassThru the final WinsHost.Process object is written last.

    Pressing Ctrl+C (or a downstream command such as 'Select-Object -First 1' that stops the pipeline)
    abandons the wait and asks the broker to stop the process (process/stop), unless -Detach was given: a
    detached process keeps running, and Get-HostProcess, Receive-HostProcessOutput, Wait-HostProcess and
    Stop-HostProcess still find it.

    .PARAMETER FilePath
    The program to run, as its absolute path on the host in the host's syntax (c:\nginx\nginx.exe,
    /usr/sbin/nginx). It must be the canonical path the policy lists: the broker does not search PATH, and
    refuses symbolic links and '..' instead of resolving them.

    .PARAMETER ArgumentList
    The arguments, one string per argument. They are passed to the program as they are, without a shell,
    and must match the arguments the policy rule allows.

    .PARAMETER WorkingDirectory
    The working directory of the process: an absolute host path under one of the working directories of the
    policy rule. Without it the process starts in the directory of the program.

    .PARAMETER Environment
    Environment variables to set for the process, as a hashtable of names and values. Only names the policy
    rule lists may be set; the broker's own environment is not passed on.

    .PARAMETER Expose
    Ports the process listens on that the host firewall should open while it runs, as 'tcp/80' or, as wins
    wrote them, 'TCP:80' (tcp or udp, any case). They are sent as 'tcp/80'; the policy rule must list them.
    Any other form is refused before anything is sent.

    .PARAMETER Wait
    Waits for the process to exit, writing its output to the pipeline as it arrives, then sets
    $LASTEXITCODE.

    .PARAMETER PassThru
    Outputs a WinsHost.Process object for the process: after it started, or with -Wait after it exited.

    .PARAMETER Detach
    Asks the broker to keep the process running after this session's connection closes (and across broker
    restarts). The policy rule must allow it. With -Wait, Ctrl+C then leaves the process running.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .PARAMETER WhatIf
    Shows what would be started without asking the broker.

    .PARAMETER Confirm
    Asks for confirmation before starting the process.

    .EXAMPLE
    Start-HostProcess -FilePath c:\nginx\nginx.exe -Expose tcp/80 -Wait

    Runs nginx on the Windows host with TCP port 80 opened, shows its output until it exits and sets
    $LASTEXITCODE; Ctrl+C stops it. This replaces 'wins cli prc run --path c:\nginx\nginx.exe --exposes TCP:80'
    (-Expose TCP:80 is accepted as well).

    .EXAMPLE
    Start-HostProcess -FilePath /usr/sbin/nginx -ArgumentList '-g', 'daemon off;' -Expose tcp/8080 -Detach -PassThru

    Starts nginx on a Linux host, detached so that it keeps running after this container exits, and shows its
    process id and state.

    .EXAMPLE
    Start-HostProcess -FilePath /usr/bin/journalctl -ArgumentList '--no-pager', '-n', '100' -Wait 2>&1 | Select-String -Pattern 'error'

    Runs a host command and searches its output, stderr included, while it is still running.

    .EXAMPLE
    Start-HostProcess -FilePath C:\tools\setup.exe -ArgumentList '/quiet' -Environment @{ SETUP_LOG = 'C:\logs\setup.log' } -WorkingDirectory C:\tools -Wait
    if ($LASTEXITCODE -ne 0) { throw "setup failed with exit code $LASTEXITCODE" }

    Runs an installer on the host and checks its exit code.

    .EXAMPLE
    $process = Start-HostProcess -FilePath /opt/agent/bin/agent -PassThru
    Receive-HostProcessOutput -Id $process.Id -Wait

    Starts a program, does other work, then collects its output until it exits.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.Process with -PassThru; System.String (stdout lines) with -Wait.

    .LINK
    Get-HostProcess

    .LINK
    Wait-HostProcess

    .LINK
    Receive-HostProcessOutput

    .LINK
    Stop-HostProcess

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('WinsHost.Process')]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)]
        [Alias('Path')]
        [ValidateNotNullOrEmpty()]
        [string] $FilePath,

        [Parameter(Position = 1)]
        [AllowEmptyCollection()]
        [AllowEmptyString()]
        [string[]] $ArgumentList,

        [ValidateNotNullOrEmpty()]
        [string] $WorkingDirectory,

        [System.Collections.IDictionary] $Environment,

        [ValidateScript({
                foreach ($item in $_) {
                    if ($null -eq (ConvertTo-HostExposedPort -Value ([string]$item))) {
                        throw "'$item' is not a port to expose. Use protocol/port or protocol:port with tcp or udp and a port from 1 to 65535, for example tcp/80 or TCP:80."
                    }
                }
                $true
            })]
        [string[]] $Expose,

        [switch] $Wait,

        [switch] $PassThru,

        [switch] $Detach,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    end {
        $params = [ordered]@{ path = $FilePath }
        if ($PSBoundParameters.ContainsKey('ArgumentList')) {
            $arguments = New-Object System.Collections.Generic.List[string]
            # foreach, not @(): -ArgumentList $null sends no argument rather than one empty one.
            foreach ($argument in $ArgumentList) {
                $arguments.Add([string]$argument)
            }
            $params['args'] = $arguments.ToArray()
        }
        if ($PSBoundParameters.ContainsKey('Environment') -and $null -ne $Environment) {
            $variables = [ordered]@{}
            foreach ($key in $Environment.Keys) {
                $value = $Environment[$key]
                if ($null -eq $value) {
                    $value = ''
                }
                $variables[[string]$key] = [string]$value
            }
            $params['env'] = $variables
        }
        if ($PSBoundParameters.ContainsKey('WorkingDirectory')) {
            $params['cwd'] = $WorkingDirectory
        }
        if ($PSBoundParameters.ContainsKey('Expose')) {
            $ports = New-Object System.Collections.Generic.List[string]
            foreach ($item in @($Expose)) {
                $port = ConvertTo-HostExposedPort -Value ([string]$item)
                if (-not $ports.Contains($port)) {
                    $ports.Add($port)
                }
            }
            $params['exposes'] = $ports.ToArray()
        }
        $params['detach'] = [bool]$Detach
        $params['stream'] = [bool]$Wait

        $target = $FilePath
        if ($ArgumentList) {
            $target = '{0} {1}' -f $FilePath, ($ArgumentList -join ' ')
        }
        if (-not $PSCmdlet.ShouldProcess($target, 'Start host process')) {
            return
        }

        $reader = $null
        $onNotification = $null
        if ($Wait) {
            $reader = New-HostProcessOutputReader -Cmdlet $PSCmdlet
            # Captured by the notification callback, which runs inside the client while it waits.
            $addNotification = Get-Command -Name 'Add-HostProcessNotification' -CommandType Function
            # A closure, not a plain script block: the client calls it from its own functions, where $reader
            # would name another variable or none.
            $onNotification = {
                param([string] $NotificationMethod, $NotificationParams)
                & $addNotification -Reader $reader -Method $NotificationMethod -Params $NotificationParams
            }.GetNewClosure()
        }

        try {
            $started = Invoke-HostRpc -Method 'process/start' -Params $params -OnNotification $onNotification -Pipe $Pipe
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }
        $process = ConvertTo-HostProcessInfo -InputObject $started
        Write-Verbose ("WinsHost: started host process {0} ({1})." -f $process.Id, $process.Path)

        if (-not $Wait) {
            if ($PassThru) {
                $process
            }
            return
        }

        # Set once the wait has its answer: in the finally block, false means it was abandoned (Ctrl+C, a
        # stopped pipeline, an error), and the process is stopped unless it was detached.
        $completed = $false
        try {
            Set-HostProcessOutputReaderId -Reader $reader -ProcessId $process.Id
            try {
                $exited = Invoke-HostRpc -Method 'process/wait' -Params @{ processId = $process.Id; stream = $true } -OnNotification $onNotification -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            $completed = $true
        }
        finally {
            if (-not $completed -and -not $Detach) {
                Stop-HostProcessAfterInterrupt -ProcessId $process.Id -Pipe $Pipe
            }
        }

        Complete-HostProcessOutputReader -Reader $reader
        $final = ConvertTo-HostProcessInfo -InputObject $exited
        if ($null -eq $final.ExitCode -and $null -eq $final.Signal -and $null -ne $reader.Exited) {
            # A broker that answered the wait without the exit status sent it in process/exited.
            $final.ExitCode = ConvertTo-HostProcessExitCode -Value (Get-HostBrokerMember -InputObject $reader.Exited -Path 'exitCode')
            $final.Signal = Get-HostBrokerMember -InputObject $reader.Exited -Path 'signal'
        }
        $global:LASTEXITCODE = Get-HostProcessLastExitCode -Process $final
        if ($PassThru) {
            $final
        }
    }
}
