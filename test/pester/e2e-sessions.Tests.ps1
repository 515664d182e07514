# End to end for host sessions: the real broker and session hosts, callers in another network namespace as
# other uids: object fidelity, error ids, the profile's restrictions (visible commands, ConstrainedLanguage,
# NoLanguage, no sessions at all), cancelling a running command, the idle timeout, an interactive
# Enter-HostSession driven through tmux, and a session opened from one namespace into another ('web').
# Needs root; in CI that is a failure.

BeforeDiscovery {
    $script:skipNamespaces = (-not ($IsLinux -and ((id -u) -eq '0'))) -and ($env:CI -ne 'true')
    if ($script:skipNamespaces) {
        Write-Warning 'e2e session tests skipped: they need root on Linux (ip netns, veth, setpriv, tmux).'
    }
}

Describe 'Host sessions from a caller in another namespace' -Tag 'e2e' -Skip:$skipNamespaces {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'support' 'E2E.ps1')
        $script:fullUid = 4301
        $script:constrainedUid = 4302
        $script:noLanguageUid = 4303
        $script:deniedUid = 4304
        $script:idleUid = 4305
        # The namespace the 'web' container target stands for, with an address of its own.
        $script:webNamespace = 'wh-web-' + [Guid]::NewGuid().ToString('n').Substring(0, 6)
        ip netns add $webNamespace
        ip -n $webNamespace link add whweb0 type veth peer name whweb1
        ip -n $webNamespace addr add 203.0.113.7/24 dev whweb0
        ip -n $webNamespace link set whweb0 up
        ip -n $webNamespace link set whweb1 up
        ip -n $webNamespace link set lo up

        $pwshPath = Join-Path (Resolve-Path (Join-Path $PSScriptRoot '..' '..')).Path '.tools' 'pwsh' 'pwsh'
        $script:e2e = New-E2EEnvironment -CallerUid $fullUid, $constrainedUid, $noLanguageUid, $deniedUid, $idleUid -Policy @"
listeners:
  - name: sessions
    mode: '0666'
    profiles: [full, constrained, nolanguage, denied, idle]
profiles:
  full:
    match: { uid: $fullUid, netns: '{namespace}' }
    sessions:
      languageMode: FullLanguage
      commands: ['*']
      providers: [FileSystem, Environment]
      targets: [host, web]
      idleTimeoutSeconds: 0
  constrained:
    match: { uid: $constrainedUid }
    sessions:
      languageMode: ConstrainedLanguage
      commands: [Get-Process, Start-Sleep, Write-Output, ForEach-Object]
      providers: [FileSystem]
  nolanguage:
    match: { uid: $noLanguageUid }
    sessions:
      languageMode: NoLanguage
      commands: [Get-Process, Get-Date]
  denied:
    match: { uid: $deniedUid }
    host: { read: true }
  idle:
    match: { uid: $idleUid }
    sessions:
      languageMode: FullLanguage
      commands: ['*']
      idleTimeoutSeconds: 2
containers:
  web: { netns: $webNamespace }
sessionHost:
  executable: $pwshPath
"@
        $script:marker = Join-Path $e2e.Work 'must-not-exist'

        # Runs -Script as -Uid in the caller namespace with the module imported; returns its JSON output parsed.
        function Invoke-As([int] $Uid, [string] $Script) {
            $full = "`$ErrorActionPreference = 'Stop'; Import-Module `$env:WINSHOST_MODULE; $Script"
            Invoke-E2ECaller -Environment $e2e -Uid $Uid -Script $full
        }
    }

    AfterAll {
        Remove-E2EEnvironment -Environment $e2e
        ip netns del $webNamespace 2>$null
    }

    It 'returns deserialized objects as Invoke-Command does, and takes $using: values from the caller''s scope' {
        $result = Invoke-As $fullUid @'
$process = Invoke-HostCommand { Get-Process -Id $PID }
$number = Invoke-HostCommand { param($a, $b) $a + $b } -ArgumentList 20, 22
$piped = 'x', 'y' | Invoke-HostCommand { $input | ForEach-Object { "<$_>" } }
function Get-Sum { $half = 21; Invoke-HostCommand { $using:half + $using:half } }
$using = Get-Sum
@{ Type = $process.PSObject.TypeNames[0]; Id = $process.Id; Name = $process.ProcessName; Number = $number; NumberType = $number.GetType().Name; Piped = @($piped); Using = $using } | ConvertTo-Json -Compress
'@
        $result.Type | Should -Be 'Deserialized.System.Diagnostics.Process'
        $result.Id | Should -BeGreaterThan 0
        $result.Name | Should -Not -BeNullOrEmpty
        $result.Number | Should -Be 42
        $result.NumberType | Should -Be 'Int32'
        $result.Piped | Should -Be @('<x>', '<y>')
        $result.Using | Should -Be 42
    }

    It 'keeps error ids and categories, and writes a throw as an error' {
        $result = Invoke-As $fullUid @'
$errors = $null
Invoke-HostCommand { Get-Item -LiteralPath /nonexistent/e2e; throw 'boom' } -ErrorVariable errors -ErrorAction SilentlyContinue
@($errors | ForEach-Object { @{ Id = $_.FullyQualifiedErrorId; Category = [string]$_.CategoryInfo.Category; Message = $_.Exception.Message } }) | ConvertTo-Json -Compress -AsArray
'@
        $result[0].Id | Should -Be 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand'
        $result[0].Category | Should -Be 'ObjectNotFound'
        $result[-1].Message | Should -Be 'boom'
    }

    It 'shows only the commands the policy lists, and blocks the rest under ConstrainedLanguage' {
        $result = Invoke-As $constrainedUid @"
`$visible = @(Invoke-HostCommand { Get-Command -CommandType Cmdlet, Function } | ForEach-Object Name)
`$outcome = [ordered]@{ Visible = `$visible }
`$probes = [ordered]@{
    InvokeExpression = { Invoke-Expression 'New-Item -ItemType File -Path $marker' }
    StartProcess     = { Start-Process -FilePath /usr/bin/touch -ArgumentList '$marker' }
    AddType          = { Add-Type -TypeDefinition 'public class WinsHostE2E {}' }
    DotNetMethod     = { [System.IO.File]::WriteAllText('$marker', 'x') }
}
foreach (`$name in `$probes.Keys) {
    `$failures = `$null
    Invoke-HostCommand `$probes[`$name] -ErrorVariable failures -ErrorAction SilentlyContinue | Out-Null
    `$outcome[`$name] = @(`$failures).Count -gt 0
}
`$outcome | ConvertTo-Json -Compress
"@
        $result.Visible | Should -Contain 'Get-Process'
        $result.Visible | Should -Contain 'Start-Sleep'
        $result.Visible | Should -Not -Contain 'Invoke-Expression'
        $result.Visible | Should -Not -Contain 'Start-Process'
        $result.Visible | Should -Not -Contain 'Remove-Item'
        foreach ($probe in 'InvokeExpression', 'StartProcess', 'AddType', 'DotNetMethod') {
            $result.$probe | Should -BeTrue -Because "$probe must fail under ConstrainedLanguage"
        }
        Test-Path $marker | Should -BeFalse
    }

    It 'blocks scripts under NoLanguage and allows a listed command' {
        $result = Invoke-As $noLanguageUid @"
`$outcome = [ordered]@{ Date = [bool](Invoke-HostCommand { Get-Date }) }
`$probes = [ordered]@{
    Script       = { `$x = 1; `$x }
    DotNetMethod = { [System.IO.File]::WriteAllText('$marker', 'x') }
    InvokeExpression = { Invoke-Expression 'Get-Date' }
}
foreach (`$name in `$probes.Keys) {
    `$failures = `$null
    Invoke-HostCommand `$probes[`$name] -ErrorVariable failures -ErrorAction SilentlyContinue | Out-Null
    `$outcome[`$name] = @(`$failures).Count -gt 0
}
`$outcome | ConvertTo-Json -Compress
"@
        $result.Date | Should -BeTrue
        $result.Script | Should -BeTrue
        $result.DotNetMethod | Should -BeTrue
        $result.InvokeExpression | Should -BeTrue
        Test-Path $marker | Should -BeFalse
    }

    It 'refuses sessions to a profile without them as WinsHost.PolicyDenied (PermissionDenied)' {
        $result = Invoke-As $deniedUid @'
try { New-HostSession; 'opened' | ConvertTo-Json } catch { @{ Id = $_.FullyQualifiedErrorId; Category = [string]$_.CategoryInfo.Category } | ConvertTo-Json -Compress }
'@
        $result.Id | Should -Be 'WinsHost.PolicyDenied,New-HostSession'
        $result.Category | Should -Be 'PermissionDenied'
    }

    It 'cancels Start-Sleep 60 by a timeout and by a stopped pipeline, and the session answers again at once' {
        $result = Invoke-As $fullUid @'
$session = New-HostSession -Name sleeper
$timer = [System.Diagnostics.Stopwatch]::StartNew()
$timeouts = $null
Invoke-HostCommand -Session $session { Start-Sleep 60 } -TimeoutSeconds 1 -ErrorVariable timeouts -ErrorAction SilentlyContinue
$afterTimeout = $timer.Elapsed.TotalSeconds
$timer.Restart()
$again = Invoke-HostCommand -Session $session { 'again' }
$answer = $timer.Elapsed.TotalSeconds

# Ctrl+C as the console delivers it: Stop() of the pipeline running the command. Connections (and so
# sessions) belong to a runspace, so the stopped command and the next one run in the same other runspace.
$state = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
$state.ImportPSModule($env:WINSHOST_MODULE)
$other = [powershell]::Create($state)
$null = $other.AddScript('$script:s = New-HostSession -Name stopper; Invoke-HostCommand -Session $script:s { ''started''; Start-Sleep 60 }')
$output = New-Object 'System.Management.Automation.PSDataCollection[psobject]'
$inputData = New-Object 'System.Management.Automation.PSDataCollection[psobject]'
$inputData.Complete()
$handle = $other.BeginInvoke($inputData, $output)
$deadline = [datetime]::UtcNow.AddSeconds(30)
while ($output.Count -lt 1 -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
$timer.Restart()
$other.Stop()
$stopped = $timer.Elapsed.TotalSeconds
$other.Commands.Clear()
$null = $other.AddScript('Invoke-HostCommand -Session $script:s { ''after stop'' }')
$timer.Restart()
$afterStop = @($other.Invoke())[0]
$answerAfterStop = $timer.Elapsed.TotalSeconds
@{ TimeoutId = $timeouts[0].FullyQualifiedErrorId; AfterTimeout = $afterTimeout; Again = $again; Answer = $answer; Started = @($output)[0];
   Stopped = $stopped; AfterStop = $afterStop; AnswerAfterStop = $answerAfterStop; State = (Get-HostSession -Name sleeper).State } | ConvertTo-Json -Compress
'@
        $result.TimeoutId | Should -Be 'WinsHost.InvocationTimedOut,Invoke-HostCommand'
        $result.AfterTimeout | Should -BeLessThan 20
        $result.Again | Should -Be 'again'
        $result.Answer | Should -BeLessThan 5
        $result.Started | Should -Be 'started'
        $result.Stopped | Should -BeLessThan 10
        $result.AfterStop | Should -Be 'after stop'
        $result.AnswerAfterStop | Should -BeLessThan 5
        $result.State | Should -Be 'Opened'
    }

    It 'closes a session after the idle timeout of the profile' {
        $result = Invoke-As $idleUid @'
$session = New-HostSession -Name idle
$before = @(Get-HostSession).Count
Start-Sleep -Seconds 6
$after = @(Get-HostSession -ErrorAction SilentlyContinue).Count
$failure = $null
try { Invoke-HostCommand -Session $session { 1 } } catch { $failure = $_.FullyQualifiedErrorId }
@{ Before = $before; After = $after; Failure = $failure } | ConvertTo-Json -Compress
'@
        $result.Before | Should -Be 1
        $result.After | Should -Be 0
        $result.Failure | Should -Be 'WinsHost.NotFound,Invoke-HostCommand'
    }

    It 'opens a session in the web container from the caller namespace, which sees the container''s own address' {
        $result = Invoke-As $fullUid @'
$addresses = Invoke-HostCommand -ContainerName web {
    [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() | ForEach-Object { $_.GetIPProperties().UnicastAddresses } | ForEach-Object { $_.Address.ToString() }
}
$own = Invoke-HostCommand {
    [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() | ForEach-Object { $_.GetIPProperties().UnicastAddresses } | ForEach-Object { $_.Address.ToString() }
}
@{ Web = @($addresses); Host = @($own) } | ConvertTo-Json -Compress
'@
        $result.Web | Should -Contain '203.0.113.7'
        $result.Web | Should -Not -Contain '198.51.100.1'
        $result.Host | Should -Not -Contain '203.0.113.7'
    }

    Context 'Enter-HostSession in a terminal (tmux)' {
        BeforeAll {
            $script:tmuxSession = 'wh-e2e-' + [Guid]::NewGuid().ToString('n').Substring(0, 6)
            $home_ = Join-Path $e2e.Work "home-$fullUid"
            if (-not (Test-Path $home_)) {
                New-Item -ItemType Directory -Path $home_ | Out-Null
                chown "$($fullUid):$($fullUid)" $home_
            }
            $command = "ip netns exec $($e2e.Namespace) setpriv --reuid $fullUid --regid $fullUid --clear-groups env HOME=$home_ TERM=xterm " +
                "WINSHOST_PIPE=$($e2e.Socket) $($e2e.PwshPath) -NoLogo -NoProfile -NoExit -Command `"Import-Module $($e2e.ModulePath); Enter-HostSession`""
            tmux new-session -d -s $tmuxSession -x 200 -y 50 $command

            function Get-Screen { (tmux capture-pane -p -t $tmuxSession) -join "`n" }
            function Wait-Screen([string] $Pattern, [int] $Seconds = 30) {
                $deadline = (Get-Date).AddSeconds($Seconds)
                while ((Get-Date) -lt $deadline) {
                    $screen = Get-Screen
                    if ($screen -match $Pattern) { return $screen }
                    Start-Sleep -Milliseconds 200
                }
                throw "the terminal never showed /$Pattern/:`n$(Get-Screen)"
            }
            function Send-Line([string] $Text) {
                tmux send-keys -t $tmuxSession -l $Text
                tmux send-keys -t $tmuxSession Enter
            }
        }

        AfterAll {
            tmux kill-session -t $tmuxSession 2>$null
        }

        It 'shows the prompt, runs commands, continues multi-line input, cancels with Ctrl+C and leaves on exit' {
            Wait-Screen '\[host\]: PS /[^\n]*>' | Should -Not -BeNullOrEmpty
            Send-Line "'hello from the host session'"
            Wait-Screen '(?m)^hello from the host session' | Should -Not -BeNullOrEmpty

            Send-Line 'foreach ($i in 1..3) {'
            Wait-Screen '(?m)^>>' | Should -Not -BeNullOrEmpty
            Send-Line '$i * 2'
            Send-Line '}'
            $screen = Wait-Screen '(?m)^2\s*\n4\s*\n6'
            $screen | Should -Match '(?m)^6'

            Send-Line "'before sleep'; Start-Sleep 60"
            Wait-Screen '(?m)^before sleep' | Out-Null
            $sent = Get-Date
            tmux send-keys -t $tmuxSession C-c
            # Keys typed while a command runs are read by the Ctrl+C watch, so the next line waits for the prompt.
            Wait-Screen '(?ms)^before sleep.*\[host\]: PS /[^\n]*>' -Seconds 15 | Out-Null
            Send-Line "'after ctrl c'"
            Wait-Screen '(?m)^after ctrl c' -Seconds 15 | Should -Not -BeNullOrEmpty
            ((Get-Date) - $sent).TotalSeconds | Should -BeLessThan 15

            Send-Line 'exit'
            Wait-Screen '(?m)^PS /[^\n]*>' | Should -Not -BeNullOrEmpty
        }
    }
}
