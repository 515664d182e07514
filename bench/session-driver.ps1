# Measures, from one warm pwsh, host sessions through WinsHost next to PowerShell's own remoting: named-pipe
# remoting (`pwsh -CustomPipeName` + a runspace on NamedPipeConnectionInfo) and, when given, SSH remoting.
# Rounds alternate between the targets so machine noise weighs on all alike. Prints one JSON object.
param(
    [Parameter(Mandatory)][string]$ModulePath,
    [Parameter(Mandatory)][string]$BrokerPipe,
    [Parameter(Mandatory)][string]$PipeName,
    [string]$SshPort,
    [string]$SshKey,
    [int]$Rounds = 5,
    [int]$Calls = 20,
    # Calls of each quick operation ({ 1 }, host/info) before measuring; the slow ones get 5.
    [int]$WarmUpCalls = 300,
    [int]$RefillSeconds = 8
)
$ErrorActionPreference = 'Stop'
Import-Module $ModulePath
$env:WINSHOST_PIPE = $BrokerPipe
$stopwatch = [System.Diagnostics.Stopwatch]::new()

function Measure-Milliseconds([scriptblock]$Action) {
    $stopwatch.Restart()
    $null = & $Action
    $stopwatch.Elapsed.TotalMilliseconds
}

# Waits for a runspace state change that PowerShell's named-pipe remoting has been seen never to make (an
# open or a close that hangs past its own timeouts, twice in six bench runs): the bench then says so instead
# of hanging. Polls every millisecond, which is finer than what an open costs.
function Wait-RunspaceState($Runspace, [string[]]$Wanted, [int]$Seconds) {
    $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
    while ($Wanted -notcontains [string]$Runspace.RunspaceStateInfo.State) {
        if ([datetime]::UtcNow -gt $deadline) { return $false }
        Start-Sleep -Milliseconds 1
    }
    $true
}

function Open-NamedPipeSession {
    for ($attempt = 1; $attempt -le 2; $attempt++) {
        $connection = [System.Management.Automation.Runspaces.NamedPipeConnectionInfo]::new($PipeName)
        $connection.OpenTimeout = 30000
        $runspace = [runspacefactory]::CreateRunspace($connection)
        $runspace.OpenAsync()
        if (Wait-RunspaceState $runspace 'Opened', 'Broken' 20) {
            if ([string]$runspace.RunspaceStateInfo.State -eq 'Opened') { return $runspace }
            throw "named-pipe remoting refused the runspace: $($runspace.RunspaceStateInfo.Reason)"
        }
        [Console]::Error.WriteLine("named-pipe remoting did not open a runspace within 20 s (attempt $attempt)")
    }
    throw 'named-pipe remoting did not open a runspace twice in a row'
}

function Close-NamedPipeSession($Runspace) {
    $Runspace.CloseAsync()
    if (Wait-RunspaceState $Runspace 'Closed', 'Broken' 10) { $Runspace.Dispose() }
    else { [Console]::Error.WriteLine('named-pipe remoting did not close a runspace within 10 s; left behind') }
}

function Open-SshSession {
    New-PSSession -HostName 127.0.0.1 -Port $SshPort -UserName root -KeyFilePath $SshKey -Options @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
}

function Invoke-OnRunspace($Runspace, [string]$Script) {
    $shell = [powershell]::Create()
    try {
        $shell.Runspace = $Runspace
        $shell.AddScript($Script).Invoke()
    } finally {
        $shell.Dispose()
    }
}

$pipeRunspace = Open-NamedPipeSession
# Invoke-Command needs a PSSession; this wraps the same named-pipe runspace.
$pipeSession = [System.Management.Automation.Runspaces.PSSession]::Create($pipeRunspace, 'NamedPipe', $null)
$ours = New-HostSession -Name bench
# The module's compiled connection, called directly: what the cmdlets cost on top of it shows next to the
# bare PowerShell API over named-pipe remoting (output records are left unread here, not deserialized).
$connection = & (Get-Module WinsHost) { Get-HostRpcConnection }
$invokeOne = @{ sessionId = [string]$ours.Id; script = '1' }
$hostInfo = @{}
$ssh = $null
if ($SshPort) { $ssh = Open-SshSession }

# What each target may measure; a target measures those it defines.
$operations = 'one', 'gps', 'info'
$samples = [ordered]@{}
function Add-Sample([string]$Name, [double]$Value) {
    if (-not $samples.Contains($Name)) { $samples[$Name] = [System.Collections.Generic.List[double]]::new() }
    $samples[$Name].Add($Value)
}
# Each round's median per operation, so the bench can pair a round of ours with the baseline's round next to it.
$roundMedians = [ordered]@{}
function Add-RoundMedian([string]$Name, [System.Collections.Generic.List[double]]$Values) {
    if (-not $roundMedians.Contains($Name)) { $roundMedians[$Name] = [System.Collections.Generic.List[double]]::new() }
    $sorted = @($Values | Sort-Object)
    $roundMedians[$Name].Add($sorted[[int][math]::Floor($sorted.Count / 2)])
}

$targets = [ordered]@{
    winshost = @{
        one = { Invoke-HostCommand -Session $ours -ScriptBlock { 1 } }
        gps = { Invoke-HostCommand -Session $ours -ScriptBlock { Get-Process | Select-Object -First 50 } }
        open = { New-HostSession -Name ('open' + [guid]::NewGuid().ToString('N').Substring(0, 8)) | Remove-HostSession -Confirm:$false }
    }
    winshostApi = @{
        one = { $id = $connection.SendRequest('session/invoke', $invokeOne); $connection.ReceiveResponse($id, 'session/invoke', 10000, $null) }
        # The broker alone (no session host): what the client and broker hop costs within `one`.
        info = { $id = $connection.SendRequest('host/info', $hostInfo); $connection.ReceiveResponse($id, 'host/info', 10000, $null) }
    }
    namedPipeCmdlet = @{
        one = { Invoke-Command -Session $pipeSession -ScriptBlock { 1 } }
        gps = { Invoke-Command -Session $pipeSession -ScriptBlock { Get-Process | Select-Object -First 50 } }
    }
    namedPipeApi = @{
        one = { Invoke-OnRunspace $pipeRunspace '1' }
        gps = { Invoke-OnRunspace $pipeRunspace 'Get-Process | Select-Object -First 50' }
        # A -CustomPipeName server takes one client at a time: the runspace in use is closed first (not
        # measured), then the open replaces it.
        beforeOpen = { Close-NamedPipeSession $script:pipeRunspace }
        open = {
            $script:pipeRunspace = Open-NamedPipeSession
            $script:pipeSession = [System.Management.Automation.Runspaces.PSSession]::Create($script:pipeRunspace, 'NamedPipe', $null)
        }
    }
}
if ($ssh) {
    $targets.ssh = @{
        one = { Invoke-Command -Session $ssh -ScriptBlock { 1 } }
        gps = { Invoke-Command -Session $ssh -ScriptBlock { Get-Process | Select-Object -First 50 } }
        open = { Remove-PSSession (Open-SshSession) }
    }
}

[Console]::Error.WriteLine('sessions open; waiting for the broker to start its next warm session host')
# Taking the warm host makes the broker start the next one (PowerShell start-up and the host's warm-up: seconds of
# CPU); measuring during that would measure the refill.
Start-Sleep -Seconds $RefillSeconds
[Console]::Error.WriteLine('warming up')
# Warm-up, the same for every target: the JIT of every process involved (this pwsh, the broker's V8, the
# session host, the remoting servers), format data. A broker or a remoting server in service has made these
# calls long before; the first hundreds of a fresh process measure its JIT instead (the broker's V8 alone
# takes about a thousand requests to settle). Quick operations cost milliseconds, so they get many.
$warmUp = @{ one = $WarmUpCalls; info = $WarmUpCalls; gps = 5 }
foreach ($target in $targets.Keys) {
    foreach ($op in $operations) {
        if (-not $targets[$target].ContainsKey($op)) { continue }
        [Console]::Error.WriteLine("warming up $target.$op")
        for ($i = 0; $i -lt $warmUp[$op]; $i++) { $null = & $targets[$target][$op] }
    }
}

for ($round = 0; $round -lt $Rounds; $round++) {
    foreach ($target in $targets.Keys) {
        foreach ($op in $operations) {
            if (-not $targets[$target].ContainsKey($op)) { continue }
            # Progress for the bench's stall watchdog, which names the last step when a baseline hangs.
            [Console]::Error.WriteLine("round $round $target.$op")
            $roundSamples = [System.Collections.Generic.List[double]]::new()
            for ($i = 0; $i -lt $Calls; $i++) {
                $elapsed = Measure-Milliseconds $targets[$target][$op]
                Add-Sample "$target.$op" $elapsed
                $roundSamples.Add($elapsed)
            }
            Add-RoundMedian "$target.$op" $roundSamples
        }
        if ($targets[$target].ContainsKey('open')) {
            # Each open is followed by a pause so the broker can start its next warm session host, as it
            # would between real callers (the cold case is reported apart by the bench).
            [Console]::Error.WriteLine("round $round $target.open")
            if ($targets[$target].ContainsKey('beforeOpen')) { & $targets[$target]['beforeOpen'] }
            Add-Sample "$target.open" (Measure-Milliseconds $targets[$target]['open'])
            Start-Sleep -Seconds $RefillSeconds
        }
    }
}

# A cold open: the warm host is taken by the first open, so the second waits for PowerShell to start.
$first = New-HostSession -Name coldA
Add-Sample 'winshost.coldOpen' (Measure-Milliseconds { $script:second = New-HostSession -Name coldB })
$first, $second | Remove-HostSession -Confirm:$false

Remove-HostSession -Session $ours -Confirm:$false
if ($ssh) { Remove-PSSession $ssh }
Close-NamedPipeSession $pipeRunspace

$result = [ordered]@{}
foreach ($name in $samples.Keys) {
    $sorted = @($samples[$name] | Sort-Object)
    $perRound = @()
    if ($roundMedians.Contains($name)) { $perRound = $roundMedians[$name].ToArray() }
    $result[$name] = [ordered]@{ p50 = $sorted[[int][math]::Floor($sorted.Count / 2)]; p90 = $sorted[[int][math]::Floor($sorted.Count * 0.9)]; n = $sorted.Count; rounds = $perRound }
}
$result | ConvertTo-Json -Compress -Depth 4
