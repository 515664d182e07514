function Start-WinsHostTestBroker {
    <#
    .SYNOPSIS
    Starts a throw-away WinsHost broker on a temporary pipe, with a given policy and a fake host, for tests.

    .DESCRIPTION
    Runs the real WinsHost broker ('node cli.js serve --fixture ...') in a new temporary directory: its own
    socket (Linux: <temp dir>/broker.sock) or pipe (Windows: \\.\pipe\winshost-test-<guid>), state directory
    and audit log. The broker checks the policy, audits and answers exactly as in production; only the host
    under it is played from a fixture:

      - host facts, network adapters and routes are the fixture's;
      - programs are scripted: Start-HostProcess of a path listed under the fixture's 'processes' plays back
        its stdout, stderr and exit code (after delayMs) without running anything. The program file must still
        exist, since the broker opens and checks it as always (canonical path, sha256 pin); a file in TestDrive
        does. A program the policy allows but the fixture does not script fails with reason NotScripted;
      - proxy policies (Add-ProxyPolicy) are applied to memory and read back by Get-ProxyPolicy;
      - files and credential specs are the real host's: point the policy's roots at a test directory.

    When the broker listens, $env:WINSHOST_PIPE is set to its pipe (the previous value is kept and restored by
    Stop-WinsHostTestBroker) and a connection the WinsHost module holds is closed, so the next WinsHost cmdlet
    in this session talks to the test broker.

    .PARAMETER Policy
    The broker policy: a path to a YAML (or JSON) policy file, or a hashtable in the same shape. A hashtable
    without 'listeners' gets one listener that offers all its profiles, in key order (use [ordered]@{} when
    the order matters). The first listener's path is replaced by the temporary socket or pipe.

    .PARAMETER Fixture
    The fake host: a path to a fixture JSON file (complete, e.g. from 'winshost-broker record-fixture'), or a
    hashtable whose top-level keys (host, network, processes) replace those of the module's default fixture
    (a Windows Server 2022 host, Fixtures/DefaultFixture.psd1). Without it the default fixture is used.

    .PARAMETER BrokerPath
    The broker bundle cli.js. By default the one of the package or checkout this module is in (broker/cli.js
    or dist/broker/cli.js in a folder above the module, e.g. the repository's dist/broker/cli.js), else the
    installed broker (/opt/winshost, %ProgramFiles%\WinsHost).

    .PARAMETER NodePath
    The Node.js (20 or later) executable; default 'node' from PATH.

    .PARAMETER TimeoutSec
    How long to wait for the broker to listen before giving up; default 30.

    .EXAMPLE
    $broker = Start-WinsHostTestBroker -Policy @{ profiles = @{ app = @{ host = @{ read = $true }; network = @{ read = $true } } } }
    (Get-HostNetwork).Name
    Stop-WinsHostTestBroker -TestBroker $broker

    Starts a broker whose one profile may read host facts and networks, gets the default adapter of the
    default fixture ('Ethernet') through WinsHost, and stops the broker again.

    .EXAMPLE
    BeforeAll {
        New-Item -ItemType File -Path TestDrive:/bin/configure-proxy -Force
        $tool = (Resolve-Path TestDrive:/bin/configure-proxy).ProviderPath
        $script:broker = Start-WinsHostTestBroker -Policy ./test/policy.yaml -Fixture @{
            processes = @{ $tool = @{ stdout = "ok`n"; exitCode = 0 } }
        }
    }
    AfterAll { Stop-WinsHostTestBroker }

    In a Pester suite: a scripted program in TestDrive that the policy file allows; every test in the block
    talks to the broker through $env:WINSHOST_PIPE.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.TestBroker. Pipe, ProcessId, AuditPath, StateDirectory, Directory (the temporary directory),
    PolicyPath, FixturePath, LogPath (the broker's stderr) and PreviousPipe.

    .LINK
    Stop-WinsHostTestBroker

    .LINK
    Get-WinsHostTestAuditLog
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.TestBroker')]
    param(
        [Parameter(Mandatory, Position = 0)]
        [ValidateNotNull()]
        [object] $Policy,

        [Parameter(Position = 1)]
        [ValidateNotNull()]
        [object] $Fixture,

        [ValidateNotNullOrEmpty()]
        [string] $BrokerPath,

        [ValidateNotNullOrEmpty()]
        [string] $NodePath = 'node',

        [ValidateRange(1, 600)]
        [int] $TimeoutSec = $script:WinsHostTestStartTimeoutSec
    )

    $onWindows = Test-WinsHostTestWindows

    $node = @(Get-Command -Name $NodePath -CommandType Application -ErrorAction SilentlyContinue) | Select-Object -First 1
    if (-not $node) {
        $PSCmdlet.ThrowTerminatingError((New-WinsHostTestErrorRecord -ErrorId 'NodeNotFound' -Category ObjectNotFound -ExceptionType FileNotFound `
                    -Message "Node.js was not found as '$NodePath'. Install Node.js 20 or later, or give its path with -NodePath." -TargetObject $NodePath))
    }
    if ($PSBoundParameters.ContainsKey('BrokerPath')) {
        $bundle = $PSCmdlet.GetUnresolvedProviderPathFromPSPath($BrokerPath)
        if (-not (Test-Path -LiteralPath $bundle -PathType Leaf)) {
            $PSCmdlet.ThrowTerminatingError((New-WinsHostTestErrorRecord -ErrorId 'BrokerNotFound' -Category ObjectNotFound -ExceptionType FileNotFound `
                        -Message "The broker bundle '$bundle' does not exist." -TargetObject $bundle))
        }
    }
    else {
        $bundle = Find-WinsHostTestBrokerBundle -ModuleBase (Split-Path -Path $PSScriptRoot -Parent)
        if (-not $bundle) {
            $PSCmdlet.ThrowTerminatingError((New-WinsHostTestErrorRecord -ErrorId 'BrokerNotFound' -Category ObjectNotFound -ExceptionType FileNotFound `
                        -Message "The WinsHost broker bundle (cli.js) was found neither beside this module (broker/cli.js or dist/broker/cli.js in a folder above it; in a repository checkout run 'npm run setup') nor in the default broker directory. Give it with -BrokerPath." -TargetObject $null))
        }
    }

    $id = [guid]::NewGuid().ToString('n')
    $tempRoot = [System.IO.Path]::GetTempPath()
    # A Unix socket path has at most 107 bytes; a long $TMPDIR falls back to /tmp.
    if (-not $onWindows -and ($tempRoot.Length + 40) -gt 100) {
        $tempRoot = '/tmp'
    }
    $directory = Join-Path -Path $tempRoot -ChildPath ('winshost-test-' + $id.Substring(0, 12))
    $null = New-Item -ItemType Directory -Path $directory -Force
    $directory = (Resolve-Path -LiteralPath $directory).ProviderPath
    if ($onWindows) {
        $pipe = '\\.\pipe\winshost-test-' + $id
    }
    else {
        $pipe = Join-Path -Path $directory -ChildPath 'broker.sock'
    }
    $stateDirectory = Join-Path -Path $directory -ChildPath 'state'
    $auditPath = Join-Path -Path $directory -ChildPath 'audit.log'
    $logPath = Join-Path -Path $directory -ChildPath 'broker.stderr.log'
    $outPath = Join-Path -Path $directory -ChildPath 'broker.stdout.log'

    $process = $null
    try {
        if ($Policy -is [System.Collections.IDictionary]) {
            $Policy = ConvertTo-WinsHostTestPolicy -Policy $Policy
        }
        $policyPath = Resolve-WinsHostTestInputFile -Kind Policy -Value $Policy -Directory $directory -Cmdlet $PSCmdlet
        if (-not $PSBoundParameters.ContainsKey('Fixture')) {
            $Fixture = Merge-WinsHostTestFixture
        }
        elseif ($Fixture -is [System.Collections.IDictionary]) {
            $Fixture = Merge-WinsHostTestFixture -Fixture $Fixture
        }
        $fixturePath = Resolve-WinsHostTestInputFile -Kind Fixture -Value $Fixture -Directory $directory -Cmdlet $PSCmdlet

        $arguments = ConvertTo-WinsHostTestArgument -Argument @(
            $bundle, 'serve', '--policy', $policyPath, '--fixture', $fixturePath, '--listen', $pipe,
            '--state-dir', $stateDirectory, '--audit', $auditPath)
        Write-Verbose ("Starting the test broker: {0} {1}" -f $node.Path, $arguments)
        $process = Start-Process -FilePath $node.Path -ArgumentList $arguments -PassThru -NoNewWindow `
            -RedirectStandardError $logPath -RedirectStandardOutput $outPath
        # On Windows the exit code is only kept for a Process whose handle was taken while it ran.
        $null = $process.Handle

        $deadline = (Get-Date).AddSeconds($TimeoutSec)
        while (-not (Test-WinsHostTestBrokerListening -Pipe $pipe)) {
            if ($process.HasExited) {
                $process.WaitForExit()
                $log = ''
                if (Test-Path -LiteralPath $logPath) {
                    $log = ([System.IO.File]::ReadAllText($logPath)).Trim()
                }
                # Exit code 1 is a policy or fixture the broker refused, 2 a usage error: the input is at fault.
                $category = [System.Management.Automation.ErrorCategory]::OpenError
                if ($process.ExitCode -eq 1 -or $process.ExitCode -eq 2) {
                    $category = [System.Management.Automation.ErrorCategory]::InvalidData
                }
                throw (New-WinsHostTestErrorRecord -ErrorId 'BrokerStartFailed' -Category $category `
                        -Message ("The test broker exited with code {0} before listening:`n{1}" -f $process.ExitCode, $log) -TargetObject $pipe)
            }
            if ((Get-Date) -gt $deadline) {
                throw (New-WinsHostTestErrorRecord -ErrorId 'BrokerStartTimeout' -Category OperationTimeout -ExceptionType Timeout `
                        -Message ("The test broker did not listen on {0} within {1} s; its log is {2}." -f $pipe, $TimeoutSec, $logPath) -TargetObject $pipe)
            }
            Start-Sleep -Milliseconds 50
        }
    }
    catch {
        if ($process -and -not $process.HasExited) {
            $process.Kill()
            $null = $process.WaitForExit(5000)
        }
        Remove-Item -LiteralPath $directory -Recurse -Force -ErrorAction SilentlyContinue
        $PSCmdlet.ThrowTerminatingError($_)
    }

    $broker = [pscustomobject]@{
        PSTypeName     = 'WinsHost.TestBroker'
        Pipe           = $pipe
        ProcessId      = $process.Id
        AuditPath      = $auditPath
        StateDirectory = $stateDirectory
        Directory      = $directory
        PolicyPath     = $policyPath
        FixturePath    = $fixturePath
        LogPath        = $logPath
        PreviousPipe   = $env:WINSHOST_PIPE
        Process        = $process
        Stopped        = $false
    }
    [void]$script:WinsHostTestBrokers.Add($broker)

    $env:WINSHOST_PIPE = $pipe
    # WinsHost keeps using the pipe of an open connection whatever $env:WINSHOST_PIPE says; closing it makes
    # the next cmdlet connect here.
    $disconnect = Get-Command -Name Disconnect-HostBroker -CommandType Function -ErrorAction SilentlyContinue
    if ($disconnect) {
        Disconnect-HostBroker
    }
    $broker
}
