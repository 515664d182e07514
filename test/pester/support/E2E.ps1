# Shared set-up of the end-to-end suites: a caller network namespace joined to the host by veth, the real
# broker bundle with a given policy, and PowerShell callers run inside the namespace as other uids.
# Dot-source it in BeforeAll. Needs root on Linux.

function Test-E2EPrerequisite {
    $IsLinux -and ((id -u) -eq '0')
}

function New-E2EEnvironment {
    <#
    .SYNOPSIS
    Creates the namespace and starts a broker. -Policy is YAML in which {namespace} and {work} are replaced.
    #>
    param(
        [Parameter(Mandatory)][string] $Policy,
        [int[]] $CallerUid = @(4242)
    )
    if (-not (Test-E2EPrerequisite)) {
        throw 'The e2e tests need root on Linux to create network namespaces and switch uids (CI=true makes this a failure).'
    }
    $repo = (Resolve-Path (Join-Path $PSScriptRoot '..' '..' '..')).Path
    $environment = [ordered]@{
        Repo       = $repo
        PwshPath   = Join-Path $repo '.tools' 'pwsh' 'pwsh'
        ModulePath = Join-Path $repo 'PSModule' 'WinsHost' 'WinsHost.psd1'
        Bundle     = Join-Path $repo 'dist' 'broker' 'cli.js'
    }
    foreach ($needed in $environment.PwshPath, $environment.ModulePath, $environment.Bundle) {
        if (-not (Test-Path $needed)) { throw "missing ${needed}: run npm run setup first" }
    }
    $suffix = [Guid]::NewGuid().ToString('n').Substring(0, 6)
    $environment.Namespace = "wh-e2e-$suffix"
    $environment.HostVeth = "whh$suffix"
    $environment.CallerVeth = "whc$suffix"
    $environment.Work = Join-Path ([IO.Path]::GetTempPath()) "winshost-e2e-$suffix"
    New-Item -ItemType Directory -Path $environment.Work | Out-Null
    chmod 0755 $environment.Work
    $environment.Socket = Join-Path $environment.Work 'broker.sock'
    $environment.AuditPath = Join-Path $environment.Work 'audit.log'
    $environment.BrokerLog = Join-Path $environment.Work 'broker.stderr'

    # A clone under a private directory (such as /root) is out of reach of the caller uids: give them
    # copies of PowerShell and the module in the world-readable work directory.
    setpriv --reuid $CallerUid[0] --regid $CallerUid[0] --clear-groups test -x $environment.PwshPath -a -r $environment.ModulePath
    if ($LASTEXITCODE -ne 0) {
        Copy-Item -Recurse -Path (Split-Path $environment.PwshPath) -Destination (Join-Path $environment.Work 'pwsh')
        Copy-Item -Recurse -Path (Split-Path $environment.ModulePath) -Destination (Join-Path $environment.Work 'WinsHost')
        $environment.PwshPath = Join-Path $environment.Work 'pwsh' 'pwsh'
        $environment.ModulePath = Join-Path $environment.Work 'WinsHost' 'WinsHost.psd1'
        chmod -R a+rX $environment.Work
    }

    ip netns add $environment.Namespace
    ip link add $environment.HostVeth type veth peer name $environment.CallerVeth
    ip link set $environment.CallerVeth netns $environment.Namespace
    ip addr add 198.51.100.1/30 dev $environment.HostVeth
    ip link set $environment.HostVeth up
    ip netns exec $environment.Namespace ip addr add 198.51.100.2/30 dev $environment.CallerVeth
    ip netns exec $environment.Namespace ip link set $environment.CallerVeth up
    ip netns exec $environment.Namespace ip link set lo up

    $environment.PolicyPath = Join-Path $environment.Work 'policy.yaml'
    $Policy.Replace('{namespace}', $environment.Namespace).Replace('{work}', $environment.Work) | Set-Content -Path $environment.PolicyPath
    Start-E2EBroker -Environment $environment
    $environment
}

function Start-E2EBroker {
    <#
    .SYNOPSIS
    Starts the broker of an environment (again): same policy, socket, state directory and audit log.
    #>
    param([Parameter(Mandatory)] $Environment)
    $Environment.Broker = Start-Process -FilePath (Get-Command node).Source -PassThru -RedirectStandardError $Environment.BrokerLog `
        -RedirectStandardOutput (Join-Path $Environment.Work 'broker.stdout') -ArgumentList @(
        $Environment.Bundle, 'serve', '--policy', $Environment.PolicyPath, '--listen', $Environment.Socket,
        '--state-dir', (Join-Path $Environment.Work 'state'), '--audit', $Environment.AuditPath)
    $deadline = (Get-Date).AddSeconds(20)
    # After a SIGKILL the old socket file is still there: wait for the new broker to answer on it.
    while (-not (Test-E2EBrokerAnswers -Environment $Environment)) {
        if ($Environment.Broker.HasExited -or (Get-Date) -gt $deadline) {
            throw "the broker did not start: $(Get-Content -Raw $Environment.BrokerLog)"
        }
        Start-Sleep -Milliseconds 100
    }
}

function Test-E2EBrokerAnswers {
    param([Parameter(Mandatory)] $Environment)
    if (-not (Test-Path $Environment.Socket)) { return $false }
    $client = New-Object System.IO.Pipes.NamedPipeClientStream('.', $Environment.Socket, [System.IO.Pipes.PipeDirection]::InOut)
    try {
        $client.Connect(200)
        $true
    }
    catch {
        $false
    }
    finally {
        $client.Dispose()
    }
}

function Invoke-E2ECaller {
    <#
    .SYNOPSIS
    Runs a PowerShell script as -Uid inside the caller namespace and returns its output parsed from JSON.
    #>
    param(
        [Parameter(Mandatory)] $Environment,
        [Parameter(Mandatory)][int] $Uid,
        [Parameter(Mandatory)][string] $Script
    )
    $home_ = Join-Path $Environment.Work "home-$Uid"
    if (-not (Test-Path $home_)) {
        New-Item -ItemType Directory -Path $home_ | Out-Null
        chown "$($Uid):$($Uid)" $home_
    }
    $output = ip netns exec $Environment.Namespace setpriv --reuid $Uid --regid $Uid --clear-groups `
        env "HOME=$home_" "WINSHOST_PIPE=$($Environment.Socket)" "WINSHOST_MODULE=$($Environment.ModulePath)" POWERSHELL_TELEMETRY_OPTOUT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 `
        $Environment.PwshPath -NoLogo -NoProfile -NonInteractive -Command $Script 2>&1
    if ($LASTEXITCODE -ne 0) { throw "caller uid $Uid failed ($LASTEXITCODE): $($output -join "`n")" }
    ($output -join "`n") | ConvertFrom-Json
}

function Get-E2EAuditEntry {
    param([Parameter(Mandatory)] $Environment)
    Get-Content -Path $Environment.AuditPath | ForEach-Object { $_ | ConvertFrom-Json }
}

function Stop-E2EBroker {
    param([Parameter(Mandatory)] $Environment, [ValidateSet('TERM', 'KILL')][string] $Signal = 'TERM')
    if ($Environment.Broker -and -not $Environment.Broker.HasExited) {
        kill "-$Signal" $Environment.Broker.Id
        $Environment.Broker.WaitForExit(10000) | Out-Null
    }
}

function Remove-E2EEnvironment {
    param($Environment)
    if (-not $Environment) { return }
    Stop-E2EBroker -Environment $Environment
    if ($Environment.Namespace) { ip netns del $Environment.Namespace 2>$null }
    if ($Environment.Work) { Remove-Item -Recurse -Force $Environment.Work -ErrorAction SilentlyContinue }
}
