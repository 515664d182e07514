# End to end for host processes: the real broker, callers in another network namespace as another uid,
# real programs, real process groups, broker restarts and SIGKILL. Needs root; in CI that is a failure.

BeforeDiscovery {
    $script:skipNamespaces = (-not ($IsLinux -and ((id -u) -eq '0'))) -and ($env:CI -ne 'true')
    if ($script:skipNamespaces) {
        Write-Warning 'e2e process tests skipped: they need root on Linux (ip netns, veth, setpriv).'
    }
}

Describe 'Host processes from a caller in another namespace' -Tag 'e2e' -Skip:$skipNamespaces {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'support' 'E2E.ps1')
        $script:uid = 4262
        # {work}/pinned is a copy of /usr/bin/true; the pin is written before the file is changed, as an operator would.
        $pin = (Get-FileHash -Algorithm SHA256 /usr/bin/true).Hash.ToLowerInvariant()
        $script:e2e = New-E2EEnvironment -CallerUid $uid -Policy @"
listeners:
  - name: procs
    mode: '0666'
    profiles: [runner]
profiles:
  runner:
    match: { uid: $uid, netns: '{namespace}' }
    processes:
      - path: /usr/bin/dash
        args: { any: true }
        env: [GREETING]
        workingDirectories: ['{work}/jobs']
      - path: /usr/bin/sleep
        args: { pattern: '^[0-9]+$' }
        detach: true
      - path: {work}/pinned
        sha256: '$pin'
    limits: { processes: 4 }
"@
        $work = $e2e.Work
        New-Item -ItemType Directory -Path (Join-Path $work 'jobs') | Out-Null
        Copy-Item /usr/bin/true (Join-Path $work 'pinned')
        ln -s /usr/bin/sleep (Join-Path $work 'sleep-link')

        function Invoke-Runner([string] $Script) { Invoke-E2ECaller -Environment $e2e -Uid $uid -Script $Script }

        function Test-Alive([int] $ProcessId) {
            (Test-Path "/proc/$ProcessId") -and -not ((Get-Content -Raw "/proc/$ProcessId/stat") -match '\) Z ')
        }

        function Get-GroupMember([int] $ProcessGroup) {
            Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$' | Where-Object {
                $stat = Get-Content -Raw "/proc/$($_.Name)/stat" -ErrorAction SilentlyContinue
                if (-not $stat) { return $false }
                $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
                ([int]$fields[2] -eq $ProcessGroup) -and ($fields[0] -ne 'Z')
            }
        }

        function Wait-Until([scriptblock] $Condition, [string] $What, [int] $Seconds = 15) {
            $deadline = (Get-Date).AddSeconds($Seconds)
            while (-not (& $Condition)) {
                if ((Get-Date) -gt $deadline) { throw "timed out waiting for $What" }
                Start-Sleep -Milliseconds 100
            }
        }
    }

    AfterAll {
        Remove-E2EEnvironment -Environment $script:e2e
    }

    It 'streams output into the pipeline as the program writes it' {
        $result = Invoke-Runner @'
Import-Module $env:WINSHOST_MODULE
$seen = @(Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'for i in 1 2 3; do echo "line $i"; sleep 0.4; done' -Wait |
    ForEach-Object { [pscustomobject]@{ Line = $_; At = [DateTime]::UtcNow } })
[pscustomobject]@{ Lines = @($seen.Line); Spread = ($seen[-1].At - $seen[0].At).TotalMilliseconds; Code = $LASTEXITCODE } | ConvertTo-Json
'@
        $result.Lines | Should -Be @('line 1', 'line 2', 'line 3')
        $result.Spread | Should -BeGreaterThan 600 -Because 'each line reaches the pipeline when it is written, not at the end'
        $result.Code | Should -Be 0
    }

    It 'delivers 100 MB of output complete' {
        # 100,000 lines of 1000 bytes: whole lines, so the caller's lines add up to the bytes written.
        $command = 'yes $(printf "%0999d" 7) 2>/dev/null | head -c 100000000'
        $expected = (& dash -c "$command | sha256sum").Split(' ')[0]
        $result = Invoke-Runner @"
Import-Module `$env:WINSHOST_MODULE
`$sha = [Security.Cryptography.SHA256]::Create()
`$count = 0
Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', '$command' -Wait | ForEach-Object {
    `$bytes = [Text.Encoding]::ASCII.GetBytes(`$_ + "``n")
    `$null = `$sha.TransformBlock(`$bytes, 0, `$bytes.Length, `$null, 0)
    `$count += `$bytes.Length
}
`$null = `$sha.TransformFinalBlock([byte[]]@(), 0, 0)
[pscustomobject]@{ Bytes = `$count; Hash = [BitConverter]::ToString(`$sha.Hash).Replace('-', '').ToLowerInvariant() } | ConvertTo-Json
"@
        $result.Bytes | Should -Be 100000000
        $result.Hash | Should -Be $expected
    }

    It 'reports exit codes: 0, non-zero, and ended by a signal' {
        $result = Invoke-Runner @'
Import-Module $env:WINSHOST_MODULE
$null = Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'exit 0' -Wait; $zero = $LASTEXITCODE
$null = Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'echo "$GREETING in $(pwd)"; exit 3' -Environment @{ GREETING = 'hi' } -WorkingDirectory "$(Split-Path $env:WINSHOST_PIPE)/jobs" -Wait -OutVariable said; $three = $LASTEXITCODE
$killed = Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'kill -KILL $$' -Wait -PassThru
[pscustomobject]@{ Zero = $zero; Three = $three; Said = [string]$said[0]; Signal = $killed.Signal; SignalCode = $killed.ExitCode } | ConvertTo-Json
'@
        $result.Zero | Should -Be 0
        $result.Three | Should -Be 3
        $result.Said | Should -BeLike 'hi in */jobs'
        $result.Signal | Should -Be 'SIGKILL'
        $result.SignalCode | Should -BeNullOrEmpty
    }

    It 'ends the whole tree when the caller disconnects' {
        $started = Invoke-Runner @'
Import-Module $env:WINSHOST_MODULE
$p = Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'sleep 60 & sleep 60 & wait' -PassThru
Start-Sleep -Milliseconds 500
[pscustomobject]@{ Id = $p.Id } | ConvertTo-Json
'@
        Wait-Until { @(Get-GroupMember $started.Id).Count -eq 0 } 'the tree of the disconnected caller to end'
    }

    It 'keeps a detached process past its caller and past a broker restart, where it is adopted' {
        $started = Invoke-Runner @'
Import-Module $env:WINSHOST_MODULE
$p = Start-HostProcess -FilePath /usr/bin/sleep -ArgumentList 120 -Detach -PassThru
[pscustomobject]@{ Id = $p.Id } | ConvertTo-Json
'@
        Start-Sleep -Milliseconds 500
        Test-Alive $started.Id | Should -BeTrue
        Stop-E2EBroker -Environment $e2e
        Start-E2EBroker -Environment $e2e
        Test-Alive $started.Id | Should -BeTrue
        $seen = Invoke-Runner @"
Import-Module `$env:WINSHOST_MODULE
`$p = Get-HostProcess -Id $($started.Id)
`$stopped = Stop-HostProcess -Id $($started.Id) -PassThru -Confirm:`$false
[pscustomobject]@{ State = [string]`$p.State; Detached = `$p.Detached; After = [string]`$stopped.State } | ConvertTo-Json
"@
        $seen.State | Should -Be 'Running'
        $seen.Detached | Should -BeTrue
        $seen.After | Should -Be 'Exited'
        Test-Alive $started.Id | Should -BeFalse
    }

    It 'leaves no child of a SIGKILLed broker once it is restarted' {
        $out = Join-Path $e2e.Work 'holder.json'
        chmod 0777 $e2e.Work
        $holder = Start-Process -PassThru -FilePath ip -ArgumentList @('netns', 'exec', $e2e.Namespace, 'setpriv', '--reuid', $uid, '--regid', $uid, '--clear-groups',
            'env', "HOME=$($e2e.Work)/home-$uid", "WINSHOST_PIPE=$($e2e.Socket)", $e2e.PwshPath, '-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$($e2e.ModulePath)'; `$p = Start-HostProcess -FilePath /usr/bin/sleep -ArgumentList 60 -PassThru; [pscustomobject]@{ Id = `$p.Id } | ConvertTo-Json | Set-Content '$out'; Start-Sleep 60")
        Wait-Until { Test-Path $out } 'the caller to start its process'
        $child = (Get-Content -Raw $out | ConvertFrom-Json).Id
        Stop-E2EBroker -Environment $e2e -Signal KILL
        Test-Alive $child | Should -BeTrue -Because 'a SIGKILLed broker stops nothing'
        Start-E2EBroker -Environment $e2e
        Wait-Until { -not (Test-Alive $child) } 'the restarted broker to stop the child of the old run'
        $holder.Kill()
        chmod 0755 $e2e.Work
    }

    It 'denies <Name>, naming the rule, and audits it' -ForEach @(
        @{ Name = 'a path not listed'; Command = "Start-HostProcess -FilePath /usr/bin/id"; Rule = 'profiles.runner.processes'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'a hash mismatch'; Command = "Start-HostProcess -FilePath '{work}/pinned'"; Rule = 'profiles.runner.processes.2.sha256'; Id = 'WinsHost.PolicyDenied'; Tamper = $true }
        @{ Name = 'a symlink in an allowed place pointing elsewhere'; Command = "Start-HostProcess -FilePath /bin/sh -ArgumentList '-c', 'id'"; Rule = 'profiles.runner.processes'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'a symlink elsewhere pointing to an allowed binary'; Command = "Start-HostProcess -FilePath '{work}/sleep-link' -ArgumentList 1"; Rule = 'profiles.runner.processes'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'a parent segment'; Command = "Start-HostProcess -FilePath /usr/lib/../bin/sleep -ArgumentList 1"; Rule = 'profiles.runner.processes'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'arguments not allowed'; Command = "Start-HostProcess -FilePath /usr/bin/sleep -ArgumentList '--help'"; Rule = 'profiles.runner.processes.1.args'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'LD_PRELOAD'; Command = "Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'id' -Environment @{ LD_PRELOAD = '/tmp/x.so' }"; Rule = 'profiles.runner.processes.0.env'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'PATH when not listed'; Command = "Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'id' -Environment @{ PATH = '/tmp' }"; Rule = 'profiles.runner.processes.0.env'; Id = 'WinsHost.PolicyDenied' }
        @{ Name = 'a working directory outside the roots'; Command = "Start-HostProcess -FilePath /usr/bin/dash -ArgumentList '-c', 'id' -WorkingDirectory /tmp"; Rule = 'profiles.runner.processes.0.workingDirectories'; Id = 'WinsHost.PolicyDenied' }
    ) {
        if ($Tamper) {
            Set-Content -Path (Join-Path $e2e.Work 'pinned') -Value '#!/bin/sh' -NoNewline
            chmod 0755 (Join-Path $e2e.Work 'pinned')
        }
        $command = $Command.Replace('{work}', $e2e.Work)
        $failure = Invoke-Runner @"
Import-Module `$env:WINSHOST_MODULE
try { $command -ErrorAction Stop; `$r = `$null } catch { `$r = `$_ }
[pscustomobject]@{ Id = [string]`$r.FullyQualifiedErrorId; Category = [string]`$r.CategoryInfo.Category; Message = [string]`$r.Exception.Message } | ConvertTo-Json
"@
        $failure.Id | Should -Be "$Id,Start-HostProcess"
        $failure.Category | Should -Be 'PermissionDenied'
        $failure.Message | Should -BeLike "*$Rule*"
        Start-Sleep -Milliseconds 100
        $line = @(Get-E2EAuditEntry -Environment $e2e | Where-Object { $_.method -eq 'process/start' -and $_.rule -eq $Rule -and $_.decision -eq 'deny' })
        $line.Count | Should -BeGreaterThan 0
    }

    It 'refuses to start over the profile limit' {
        $result = Invoke-Runner @'
Import-Module $env:WINSHOST_MODULE
$ids = 1..4 | ForEach-Object { (Start-HostProcess -FilePath /usr/bin/sleep -ArgumentList 30 -PassThru).Id }
try { Start-HostProcess -FilePath /usr/bin/sleep -ArgumentList 30 -ErrorAction Stop; $r = $null } catch { $r = $_ }
[pscustomobject]@{ Id = [string]$r.FullyQualifiedErrorId; Category = [string]$r.CategoryInfo.Category; Started = $ids.Count } | ConvertTo-Json
'@
        $result.Started | Should -Be 4
        $result.Id | Should -Be 'WinsHost.LimitExceeded,Start-HostProcess'
        $result.Category | Should -Be 'LimitsExceeded'
    }
}
