<#
.SYNOPSIS
Manual verification of WinsHost on a Windows Server container host: what the Linux test machines cannot run.

.DESCRIPTION
Run as Administrator in Windows PowerShell 5.1 or PowerShell 7 on a Windows Server 2022 (or later) host with
the Containers feature and a running process-isolated container. The script installs the broker and the
module from a package zip (./build.ps1 -Task Package), starts the broker on a pipe of its own with a policy
written for this run, and checks each Windows-only piece against the operating system's own view:

  adapters      Get-HostNetwork -All      vs Get-NetAdapter / Get-NetIPAddress
  routes        Get-HostRoute             vs Get-NetRoute
  host facts    Get-HostInfo              vs HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion
  processes     Start-HostProcess         vs Get-Process; the Job Object kills it when the caller disconnects
  proxy         Add-ProxyPolicy           vs the container's HNS endpoint policies (Get-HnsEndpoint or hnsdiag)
  credspecs     Get-HostCredentialSpec    vs %ProgramData%\docker\CredentialSpecs
  pipe DACL     Get-Acl \\.\pipe\<name>   only the identities the policy names, never Everyone
  service       install-service           vs sc.exe query / qfailure; restarted after its process is killed
  sessions      Invoke-HostCommand -ContainerName (PowerShell Direct) vs the container's own hostname

Prints PASS, FAIL or SKIP per check and a summary; exits 1 when any check failed. Everything it starts or
registers is removed at the end unless -KeepInstalled is given.

.PARAMETER PackagePath
The broker zip for this machine, e.g. winshost-0.1.0-win32-x64.zip.

.PARAMETER ContainerName
A running process-isolated container (docker ps name or id) for the proxy policy and PowerShell Direct checks;
without it those checks are skipped.

.PARAMETER InstallPath
Where the broker is installed for the run. Default: a new folder under %ProgramFiles%\WinsHost-verify.

.PARAMETER KeepInstalled
Leave the broker, module and service in place after the run.

.EXAMPLE
.\Verify-WinsHost.ps1 -PackagePath .\winshost-0.1.0-win32-x64.zip -ContainerName web1
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string] $PackagePath,

    [string] $ContainerName,

    [string] $InstallPath = (Join-Path -Path $env:ProgramFiles -ChildPath 'WinsHost-verify'),

    [switch] $KeepInstalled
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

$script:Results = New-Object System.Collections.Generic.List[object]

function Write-CheckResult {
    param([string] $Name, [ValidateSet('PASS', 'FAIL', 'SKIP')] [string] $Outcome, [string] $Detail)
    $color = @{ PASS = 'Green'; FAIL = 'Red'; SKIP = 'Yellow' }[$Outcome]
    Write-Host ('{0}  {1}' -f $Outcome, $Name) -ForegroundColor $color
    if ($Detail) {
        Write-Host ('      {0}' -f $Detail)
    }
    $script:Results.Add([pscustomobject]@{ Name = $Name; Outcome = $Outcome; Detail = $Detail })
}

# Runs one check: the script block returns $null (pass) or a string saying what differs (fail); it can
# throw a [System.NotSupportedException] to skip. Any other exception fails the check, not the run.
function Invoke-Check {
    param([string] $Name, [scriptblock] $Check)
    try {
        $difference = & $Check
        if ($difference) {
            Write-CheckResult -Name $Name -Outcome 'FAIL' -Detail ($difference -join '; ')
        }
        else {
            Write-CheckResult -Name $Name -Outcome 'PASS'
        }
    }
    catch [System.NotSupportedException] {
        Write-CheckResult -Name $Name -Outcome 'SKIP' -Detail $_.Exception.Message
    }
    catch {
        Write-CheckResult -Name $Name -Outcome 'FAIL' -Detail ('{0} ({1})' -f $_.Exception.Message, $_.InvocationInfo.PositionMessage)
    }
}

function Test-Administrator {
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object System.Security.Principal.WindowsPrincipal -ArgumentList $identity
    $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Wait-Until {
    param([scriptblock] $Condition, [int] $TimeoutSeconds = 30)
    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    while ((Get-Date) -lt $deadline) {
        if (& $Condition) {
            return $true
        }
        Start-Sleep -Milliseconds 250
    }
    return $false
}

function Compare-Set {
    param([string] $What, [object[]] $Expected, [object[]] $Actual)
    $missing = @($Expected | Where-Object { $Actual -notcontains $_ })
    $extra = @($Actual | Where-Object { $Expected -notcontains $_ })
    $differences = @()
    if ($missing.Count -gt 0) { $differences += ('{0} missing from WinsHost: {1}' -f $What, ($missing -join ', ')) }
    if ($extra.Count -gt 0) { $differences += ('{0} only in WinsHost: {1}' -f $What, ($extra -join ', ')) }
    $differences
}

if ([System.Environment]::OSVersion.Platform -ne [System.PlatformID]::Win32NT) {
    Write-Error 'Verify-WinsHost.ps1 runs on a Windows host; the Linux side is covered by npm test.'
    exit 2
}
if (-not (Test-Administrator)) {
    Write-Error 'Run Verify-WinsHost.ps1 as Administrator: it installs a service and reads HNS.'
    exit 2
}
$node = Get-Command -Name node.exe -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
if (-not $node) {
    Write-Error 'node.exe (Node 20 or later) must be on PATH: the broker runs on it.'
    exit 2
}

$pipeName = 'winshost-verify-{0}' -f $PID
$pipePath = '\\.\pipe\' + $pipeName
$workDir = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('winshost-verify-{0}' -f $PID)
$null = New-Item -ItemType Directory -Path $workDir -Force
$brokerProcess = $null
$serviceInstalled = $false
$moduleRoot = $null

try {
    # ------------------------------------------------------------------------------------------ install
    Write-Host "Installing $PackagePath into $InstallPath" -ForegroundColor Cyan
    $unpacked = Join-Path -Path $workDir -ChildPath 'package'
    Expand-Archive -LiteralPath $PackagePath -DestinationPath $unpacked -Force
    $top = @(Get-ChildItem -LiteralPath $unpacked -Directory)
    if ($top.Count -ne 1) {
        throw "$PackagePath should hold one winshost-<version>-<platform> folder"
    }
    if (Test-Path -LiteralPath $InstallPath) {
        Remove-Item -LiteralPath $InstallPath -Recurse -Force
    }
    Copy-Item -LiteralPath $top[0].FullName -Destination $InstallPath -Recurse
    $manifest = Import-PowerShellDataFile -Path (Join-Path -Path $InstallPath -ChildPath 'modules\WinsHost\WinsHost.psd1')
    $moduleRoot = Join-Path -Path (Join-Path -Path $env:ProgramFiles -ChildPath 'WindowsPowerShell\Modules\WinsHost') -ChildPath $manifest.ModuleVersion
    if (Test-Path -LiteralPath $moduleRoot) {
        Remove-Item -LiteralPath $moduleRoot -Recurse -Force
    }
    $null = New-Item -ItemType Directory -Path (Split-Path -Path $moduleRoot -Parent) -Force
    Copy-Item -LiteralPath (Join-Path -Path $InstallPath -ChildPath 'modules\WinsHost') -Destination $moduleRoot -Recurse
    $cli = Join-Path -Path $InstallPath -ChildPath 'dist\broker\cli.js'

    # ------------------------------------------------------------------------------------------ policy
    $ping = Join-Path -Path $env:SystemRoot -ChildPath 'System32\PING.EXE'
    $credspecDir = Join-Path -Path $env:ProgramData -ChildPath 'docker\CredentialSpecs'
    $policyLines = @(
        'listeners:'
        "  - name: $pipeName"
        '    profiles: [verify]'
        'profiles:'
        '  verify:'
        '    host: { read: true }'
        '    network: { read: true }'
        '    processes:'
        "      - path: '$ping'"
        '        args: { any: true }'
        '    credentialSpecs:'
        "      directory: '$credspecDir'"
        "      allow: ['file://*']"
        '    sessions:'
        '      languageMode: FullLanguage'
        "      commands: ['*']"
    )
    if ($ContainerName) {
        $policyLines += @(
            '      targets: [host, verifytarget]'
            '    proxy:'
            '      ports: [15001]'
            "      container: '$ContainerName'"
            'containers:'
        )
        $containerId = (& docker.exe inspect --format '{{.Id}}' $ContainerName 2>$null)
        if ($LASTEXITCODE -ne 0 -or -not $containerId) {
            throw "docker inspect $ContainerName failed: is the container running?"
        }
        $policyLines += @('  verifytarget:', "    containerId: '$containerId'")
    }
    $policyPath = Join-Path -Path $workDir -ChildPath 'policy.yaml'
    [System.IO.File]::WriteAllLines($policyPath, [string[]] $policyLines)
    $auditPath = Join-Path -Path $workDir -ChildPath 'audit.log'

    & $node.Source $cli check-policy $policyPath
    if ($LASTEXITCODE -ne 0) {
        throw "the verification policy $policyPath does not validate"
    }

    # ------------------------------------------------------------------------------------------ broker
    Invoke-Check -Name 'broker starts from the package and listens on its pipe' {
        $arguments = @($cli, 'serve', '--policy', $policyPath, '--audit', $auditPath, '--state-dir', (Join-Path -Path $workDir -ChildPath 'state'))
        $script:brokerProcess = Start-Process -FilePath $node.Source -ArgumentList $arguments -PassThru -WindowStyle Hidden `
            -RedirectStandardOutput (Join-Path -Path $workDir -ChildPath 'broker.out') -RedirectStandardError (Join-Path -Path $workDir -ChildPath 'broker.err')
        if (-not (Wait-Until { [System.IO.Directory]::GetFiles('\\.\pipe\') -contains $pipePath })) {
            return "no pipe $pipePath after 30 s; see $workDir\broker.err"
        }
    }
    $brokerProcess = $script:brokerProcess
    Import-Module -Name WinsHost -RequiredVersion $manifest.ModuleVersion -Force
    $env:WINSHOST_PIPE = $pipePath

    # ------------------------------------------------------------------------------------------ checks
    Invoke-Check -Name 'Get-HostNetwork -All matches Get-NetAdapter and Get-NetIPAddress' {
        $ours = @(Get-HostNetwork -All)
        $differences = @()
        $differences += Compare-Set -What 'interface index' -Expected @(Get-NetAdapter -IncludeHidden | Where-Object { $_.Status -eq 'Up' } | ForEach-Object { [int] $_.ifIndex }) `
            -Actual @($ours | Where-Object { "$($_.Status)" -eq 'Up' } | ForEach-Object { [int] $_.InterfaceIndex })
        foreach ($adapter in $ours) {
            $osAddresses = @(Get-NetIPAddress -InterfaceIndex $adapter.InterfaceIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue |
                    ForEach-Object { '{0}/{1}' -f $_.IPAddress, $_.PrefixLength })
            $ourAddresses = @($adapter.IPv4Addresses | ForEach-Object { $_.AddressCIDR })
            $differences += Compare-Set -What ('IPv4 addresses of interface {0}' -f $adapter.InterfaceIndex) -Expected $osAddresses -Actual $ourAddresses
            $osAdapter = Get-NetAdapter -InterfaceIndex $adapter.InterfaceIndex -IncludeHidden -ErrorAction SilentlyContinue
            if ($osAdapter -and $adapter.MacAddress -and ($osAdapter.MacAddress -replace '-', ':') -ne $adapter.MacAddress.ToUpperInvariant()) {
                $differences += ('MAC of interface {0}: OS {1}, WinsHost {2}' -f $adapter.InterfaceIndex, $osAdapter.MacAddress, $adapter.MacAddress)
            }
        }
        $default = @($ours | Where-Object { $_.IsDefault })
        $osDefault = Get-NetRoute -DestinationPrefix '0.0.0.0/0' -ErrorAction SilentlyContinue | Sort-Object -Property { $_.RouteMetric + $_.InterfaceMetric } | Select-Object -First 1
        if ($osDefault -and ($default.Count -ne 1 -or $default[0].InterfaceIndex -ne $osDefault.ifIndex)) {
            $differences += ('default adapter: OS interface {0}, WinsHost {1}' -f $osDefault.ifIndex, (($default | ForEach-Object { $_.InterfaceIndex }) -join ','))
        }
        $differences
    }

    Invoke-Check -Name 'Get-HostRoute matches Get-NetRoute (IPv4 and IPv6)' {
        $key = { param($prefix, $hop, $index) '{0} via {1} if {2}' -f $prefix, $hop, $index }
        $os = @(Get-NetRoute -PolicyStore ActiveStore | ForEach-Object {
                $hop = $_.NextHop
                if ($hop -eq '0.0.0.0' -or $hop -eq '::') { $hop = '' }
                & $key $_.DestinationPrefix $hop $_.ifIndex
            })
        $ours = @(Get-HostRoute | ForEach-Object {
                $hop = $_.NextHop
                if (-not $hop) { $hop = '' }
                & $key $_.DestinationPrefix $hop $_.InterfaceIndex
            })
        Compare-Set -What 'route' -Expected $os -Actual $ours
    }

    Invoke-Check -Name 'Get-HostInfo matches the CurrentVersion registry key' {
        $info = Get-HostInfo
        $registry = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
        $differences = @()
        foreach ($name in @('CurrentBuild', 'CurrentBuildNumber', 'UBR', 'BuildLabEx', 'ProductName')) {
            $expected = $registry.PSObject.Properties[$name]
            $actual = $info.WindowsVersion.PSObject.Properties[$name]
            if ($expected -and ("$($actual.Value)" -ne "$($expected.Value)")) {
                $differences += ('{0}: registry {1}, WinsHost {2}' -f $name, $expected.Value, $actual.Value)
            }
        }
        if ($info.HostName -ne $env:COMPUTERNAME) {
            $differences += ('HostName: {0} vs {1}' -f $info.HostName, $env:COMPUTERNAME)
        }
        $differences
    }

    Invoke-Check -Name 'Start-HostProcess runs the program and its Job Object kills it when the caller disconnects' {
        $started = Start-HostProcess -FilePath $ping -ArgumentList '-t', '127.0.0.1' -PassThru
        $os = Get-Process -Id $started.Id -ErrorAction SilentlyContinue
        if (-not $os -or $os.Path -ne $ping) {
            return ('process {0} is not {1} in Get-Process' -f $started.Id, $ping)
        }
        Disconnect-HostBroker
        if (-not (Wait-Until { -not (Get-Process -Id $started.Id -ErrorAction SilentlyContinue) } -TimeoutSeconds 15)) {
            return ('process {0} still runs 15 s after the caller disconnected' -f $started.Id)
        }
    }

    Invoke-Check -Name 'Start-HostProcess refuses a program the policy does not list' {
        try {
            Start-HostProcess -FilePath (Join-Path -Path $env:SystemRoot -ChildPath 'System32\cmd.exe') -ArgumentList '/c', 'exit'
            return 'cmd.exe was started'
        }
        catch {
            if ($_.FullyQualifiedErrorId -notlike 'WinsHost.PolicyDenied*') {
                return ('expected WinsHost.PolicyDenied, got {0}' -f $_.FullyQualifiedErrorId)
            }
        }
    }

    Invoke-Check -Name 'Add-ProxyPolicy puts an L4WFPPROXY policy on the container''s HNS endpoint' {
        if (-not $ContainerName) {
            throw (New-Object System.NotSupportedException -ArgumentList 'no -ContainerName given')
        }
        $policy = Add-ProxyPolicy -OutboundProxyPort 15001 -OutboundExceptionPort 15001 -PassThru
        try {
            $endpointPolicies = $null
            if (Get-Command -Name Get-HnsEndpoint -ErrorAction SilentlyContinue) {
                $endpointPolicies = (Get-HnsEndpoint | ConvertTo-Json -Depth 10)
            }
            else {
                $endpointPolicies = (& hnsdiag.exe list endpoints -d) -join "`n"
            }
            if ($endpointPolicies -notmatch 'L4WFPPROXY' -or $endpointPolicies -notmatch '15001') {
                return 'no L4WFPPROXY policy with port 15001 on any HNS endpoint'
            }
        }
        finally {
            Remove-ProxyPolicy -Id $policy.Id
        }
        $after = if (Get-Command -Name Get-HnsEndpoint -ErrorAction SilentlyContinue) { Get-HnsEndpoint | ConvertTo-Json -Depth 10 } else { (& hnsdiag.exe list endpoints -d) -join "`n" }
        if ($after -match 'L4WFPPROXY') {
            return 'the L4WFPPROXY policy is still there after Remove-ProxyPolicy'
        }
    }

    Invoke-Check -Name 'Get-HostCredentialSpec -List matches the CredentialSpecs folder' {
        if (-not (Test-Path -LiteralPath $credspecDir)) {
            throw (New-Object System.NotSupportedException -ArgumentList "$credspecDir does not exist (no gMSA set up)")
        }
        $os = @(Get-ChildItem -LiteralPath $credspecDir -Filter '*.json' -File | ForEach-Object { $_.Name })
        $ours = @(Get-HostCredentialSpec -List | ForEach-Object { $_.Name })
        Compare-Set -What 'credential spec' -Expected $os -Actual $ours
    }

    Invoke-Check -Name 'the pipe''s DACL grants only named identities, never Everyone or Anonymous' {
        $acl = Get-Acl -LiteralPath $pipePath
        $differences = @()
        foreach ($rule in $acl.Access) {
            $who = $rule.IdentityReference.Value
            if ($who -match 'Everyone|ANONYMOUS' -and $rule.AccessControlType -eq 'Allow') {
                $differences += ('{0} is allowed {1}' -f $who, $rule.FileSystemRights)
            }
        }
        if (@($acl.Access).Count -eq 0) {
            $differences += 'the DACL is empty'
        }
        $differences
    }

    Invoke-Check -Name 'Windows PowerShell 5.1 loads the module (WinsHost.Client.dll on .NET Framework) and runs a host session' {
        $windowsPowerShell = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
        $probe = "Import-Module -Name WinsHost -RequiredVersion $($manifest.ModuleVersion) -ErrorAction Stop; " +
            "`$env:WINSHOST_PIPE = '$pipePath'; " +
            "`$null = Get-HostInfo -ErrorAction Stop; " +
            "'{0}|{1}' -f [WinsHost.RpcConnection].Assembly.GetName().Name, (Invoke-HostCommand -ScriptBlock { 6 * 7 } -ErrorAction Stop)"
        $output = & $windowsPowerShell -NoLogo -NoProfile -NonInteractive -Command $probe 2>&1
        if ($LASTEXITCODE -ne 0 -or "$($output | Select-Object -Last 1)" -ne 'WinsHost.Client|42') {
            return ('powershell.exe exited {0}: {1}' -f $LASTEXITCODE, ($output -join ' '))
        }
    }

    Invoke-Check -Name 'PowerShell Direct: Invoke-HostCommand -ContainerName runs inside the container' {
        if (-not $ContainerName) {
            throw (New-Object System.NotSupportedException -ArgumentList 'no -ContainerName given')
        }
        $inside = Invoke-HostCommand -ContainerName verifytarget -ScriptBlock { $env:COMPUTERNAME }
        $expected = (& docker.exe inspect --format '{{.Config.Hostname}}' $ContainerName)
        if ("$inside" -ne "$expected") {
            return ('hostname in the session {0}, docker says {1}' -f $inside, $expected)
        }
        $session = New-HostSession -ContainerName verifytarget
        try {
            $first = Invoke-HostCommand -Session $session -ScriptBlock { $global:verify = 42; $PID }
            $second = Invoke-HostCommand -Session $session -ScriptBlock { "$global:verify $PID" }
            if ("$second" -ne "42 $first") {
                return ('the session did not keep its state: {0}' -f $second)
            }
        }
        finally {
            Remove-HostSession -Session $session
        }
    }

    Invoke-Check -Name 'the audit log has one line per request with the caller' {
        $lines = @(Get-Content -LiteralPath $auditPath | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json })
        $methods = @($lines | ForEach-Object { $_.method })
        $differences = @()
        foreach ($method in @('initialize', 'host/info', 'network/adapters', 'network/routes', 'process/start')) {
            if ($methods -notcontains $method) { $differences += "no audit line for $method" }
        }
        if (@($lines | Where-Object { $_.decision -eq 'deny' }).Count -lt 1) {
            $differences += 'the refused cmd.exe start is not audited as deny'
        }
        $differences
    }

    Disconnect-HostBroker
    if ($brokerProcess -and -not $brokerProcess.HasExited) {
        Stop-Process -Id $brokerProcess.Id -Force
    }

    Invoke-Check -Name 'install-service registers WinsHostBroker, it runs, and the SCM restarts it after a crash' {
        & $node.Source $cli install-service --policy $policyPath --audit $auditPath
        if ($LASTEXITCODE -ne 0) {
            return "install-service exited $LASTEXITCODE"
        }
        $script:serviceInstalled = $true
        $failureActions = (& sc.exe qfailure WinsHostBroker) -join "`n"
        if ($failureActions -notmatch 'RESTART') {
            return ('no restart failure action: {0}' -f $failureActions)
        }
        if (-not (Wait-Until { (Get-Service -Name WinsHostBroker).Status -eq 'Running' } -TimeoutSeconds 60)) {
            return ('the service is {0}, not Running, 60 s after install (sc.exe query: {1})' -f (Get-Service -Name WinsHostBroker).Status, ((& sc.exe query WinsHostBroker) -join ' '))
        }
        $servicePid = (Get-CimInstance -ClassName Win32_Service -Filter "Name='WinsHostBroker'").ProcessId
        Stop-Process -Id $servicePid -Force
        $restarted = Wait-Until {
            $now = Get-CimInstance -ClassName Win32_Service -Filter "Name='WinsHostBroker'"
            $now.State -eq 'Running' -and $now.ProcessId -ne $servicePid
        } -TimeoutSeconds 120
        if (-not $restarted) {
            return 'the service did not come back within 120 s after its process was killed'
        }
        if ((Get-HostInfo).BrokerVersion -ne $manifest.ModuleVersion) {
            return 'the restarted service does not answer on its pipe with this version'
        }
    }
}
finally {
    Remove-Item -Path Env:\WINSHOST_PIPE -ErrorAction SilentlyContinue
    if ($brokerProcess -and -not $brokerProcess.HasExited) {
        Stop-Process -Id $brokerProcess.Id -Force -ErrorAction SilentlyContinue
    }
    if (-not $KeepInstalled) {
        if ($serviceInstalled -or $script:serviceInstalled) {
            & $node.Source (Join-Path -Path $InstallPath -ChildPath 'dist\broker\cli.js') uninstall-service
        }
        Remove-Module -Name WinsHost -ErrorAction SilentlyContinue
        foreach ($path in @($InstallPath, $moduleRoot)) {
            if ($path -and (Test-Path -LiteralPath $path)) {
                Remove-Item -LiteralPath $path -Recurse -Force -ErrorAction SilentlyContinue
            }
        }
    }
    Write-Host "Work folder (policy, audit log, broker output): $workDir"
}

$failed = @($script:Results | Where-Object { $_.Outcome -eq 'FAIL' })
$passed = @($script:Results | Where-Object { $_.Outcome -eq 'PASS' })
$skipped = @($script:Results | Where-Object { $_.Outcome -eq 'SKIP' })
Write-Host ''
Write-Host ('Verify-WinsHost: {0} passed, {1} failed, {2} skipped' -f $passed.Count, $failed.Count, $skipped.Count)
if ($failed.Count -gt 0) {
    exit 1
}
exit 0
