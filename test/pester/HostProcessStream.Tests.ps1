#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The host process cmdlets against the fake broker (support/fake-broker.mjs) on a Unix socket: output of
# Start-HostProcess -Wait reaches the pipeline while the process runs, before the wait's response; stdout and
# stderr, characters split across chunks, partial last lines, other processes' notifications, $LASTEXITCODE;
# an interrupted wait (a stopped pipeline, and a real Stop() of the pipeline as Ctrl+C does) sends
# process/stop on a fresh connection unless -Detach; Wait-HostProcess timeouts, Receive-HostProcessOutput
# -Wait, Stop-HostProcess, and the params on the wire.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/FakeBroker.ps1')
    $script:socket = Initialize-FakeBrokerSession
    $script:workDir = Split-Path $socket
    $script:manifestPath = (Get-Module -Name WinsHost).Path -replace '\.psm1$', '.psd1'

    function Invoke-Rpc {
        param([string] $Method, [hashtable] $Params = @{})
        Invoke-FakeBrokerRpc -Method $Method -Params $Params -Pipe $socket
    }

    function Get-StopCount {
        @((Invoke-Rpc -Method 'test/processStops').stops).Count
    }

    # One output of a fake program: text, or some bytes of a UTF-8 text (to cut inside characters).
    function New-Output {
        param([string] $Stream = 'stdout', [string] $Text, [byte[]] $Bytes, [int] $DelayMs = 0)
        $output = @{ stream = $Stream; delayMs = $DelayMs }
        if ($PSBoundParameters.ContainsKey('Bytes')) {
            $output['base64'] = [System.Convert]::ToBase64String($Bytes)
        }
        else {
            $output['text'] = $Text
        }
        $output
    }

    $e = [char]0xE9
    $check = [char]0x2713
    $world = "$([char]0x4E16)$([char]0x754C)"
    $script:mixedStdout = [System.Text.Encoding]::UTF8.GetBytes("h${e}llo`r`nworld $world`nno newline")
    $script:mixedStderr = [System.Text.Encoding]::UTF8.GetBytes("warn $check`nlast error")
    # Cuts inside the 2-byte e-acute, inside the CRLF, inside a CJK character; inside the check mark.
    $outCut1 = 2
    $outCut2 = [System.Text.Encoding]::UTF8.GetByteCount("h${e}llo`r")
    $outCut3 = [System.Text.Encoding]::UTF8.GetByteCount("h${e}llo`r`nworld ") + 1
    $errCut = [System.Text.Encoding]::UTF8.GetByteCount('warn ') + 2
    $programs = @(
        # A line every 150 ms; the wait's response 1 s after the exit.
        @{ path = '/opt/fake/stream'; exitCode = 0; waitResponseDelayMs = 1000
            outputs = @(1..4 | ForEach-Object { New-Output -Text "line $_`n" -DelayMs 150 }) }
        @{ path = '/opt/fake/mixed'; exitCode = 3; foreignOutput = $true
            outputs = @(
                New-Output -Bytes $mixedStdout[0..($outCut1 - 1)]
                New-Output -Stream stderr -Bytes $mixedStderr[0..($errCut - 1)]
                New-Output -Bytes $mixedStdout[$outCut1..($outCut2 - 1)]
                New-Output -Bytes $mixedStdout[$outCut2..($outCut3 - 1)] -DelayMs 20
                New-Output -Stream stderr -Bytes $mixedStderr[$errCut..($mixedStderr.Length - 1)]
                New-Output -Bytes $mixedStdout[$outCut3..($mixedStdout.Length - 1)] -DelayMs 20
            ) }
        @{ path = '/opt/fake/early'; exitCode = 0; earlyOutput = $true; outputs = @((New-Output -Text "early`n"), (New-Output -Text "later`n" -DelayMs 50)) }
        @{ path = '/opt/fake/exit3'; exitCode = 3; outputs = @() }
        @{ path = '/opt/fake/killed'; signal = 'SIGKILL'; outputs = @(New-Output -Text "bye`n") }
        @{ path = '/opt/fake/forever'; untilStopped = $true; outputs = @((New-Output -Text "one`n" -DelayMs 50), (New-Output -Text "two`n" -DelayMs 50)) }
        # For Receive-HostProcessOutput: batches 300 ms apart, a character cut between two of them.
        @{ path = '/opt/fake/batches'; exitCode = 0; outputs = @(
                New-Output -Text "first`nsec"
                New-Output -Stream stderr -Text "problem`n" -DelayMs 300
                New-Output -Bytes ([System.Text.Encoding]::UTF8.GetBytes("ond $check`n")[0..5]) -DelayMs 10
                New-Output -Bytes ([System.Text.Encoding]::UTF8.GetBytes("ond $check`n")[6..7]) -DelayMs 300
                New-Output -Text 'the end' -DelayMs 300
            ) }
    )
    foreach ($program in $programs) {
        $null = Invoke-Rpc -Method 'test/setProgram' -Params $program
    }
    $script:mixedLines = @("h${e}llo", "world $world", 'no newline')
    $script:mixedErrors = @("warn $check", 'last error')
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
    Stop-FakeBroker
    Remove-Item -LiteralPath $workDir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Start-HostProcess -Wait over the wire' {
    It 'writes each line to the pipeline while the process runs, before the wait''s response' {
        $arrivals = New-Object System.Collections.Generic.List[long]
        $lines = @(Start-HostProcess -FilePath '/opt/fake/stream' -Wait | ForEach-Object { $arrivals.Add((Get-UnixMilliseconds)); $_ })
        $returnedAt = Get-UnixMilliseconds
        $process = Invoke-Rpc -Method 'test/lastProcess'

        $lines | Should -Be @('line 1', 'line 2', 'line 3', 'line 4')
        $arrivals.Count | Should -Be 4
        $process.waitResponseAt | Should -Not -BeNullOrEmpty
        # Every line reached the downstream command well before the broker even answered the wait; a client
        # that buffered until the response could not do that.
        foreach ($arrival in $arrivals) {
            $arrival | Should -BeLessThan ($process.waitResponseAt - 500)
        }
        ($returnedAt - $arrivals[0]) | Should -BeGreaterOrEqual 900
        # One by one as the process wrote them, not in one burst.
        ($arrivals[3] - $arrivals[0]) | Should -BeGreaterOrEqual 300
        $global:LASTEXITCODE | Should -Be 0
    }

    It 'writes stdout as strings and stderr as WinsHost.ProcessStandardError in arrival order, decoding split characters and flushing partial lines' {
        # -ErrorAction Continue: scripts/run-pester.ps1 runs with $ErrorActionPreference = 'Stop'.
        $all = @(Start-HostProcess -FilePath '/opt/fake/mixed' -Wait -PassThru -ErrorAction Continue 2>&1)
        $processId = (Invoke-Rpc -Method 'test/lastProcess').id
        $process = $all[$all.Count - 1]
        $records = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $lines = @($all | Where-Object { $_ -is [string] })

        $lines | Should -Be $mixedLines
        $lines | Should -Not -Contain 'NOT THIS PROCESS'
        @($records.Exception.Message) | Should -Be $mixedErrors
        foreach ($record in $records) {
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessStandardError,Start-HostProcess'
            $record.CategoryInfo.Category | Should -Be 'NotSpecified'
            $record.TargetObject | Should -Be $processId
        }
        # Arrival order: the first stderr line is complete before the second stdout line, and the partial last
        # lines come at the exit, stdout first.
        @($all | ForEach-Object { if ($_ -is [string]) { 'out' } elseif ($_ -is [System.Management.Automation.ErrorRecord]) { 'err' } else { 'process' } }) |
            Should -Be @('out', 'err', 'out', 'out', 'err', 'process')
        $process.PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
        $process.Id | Should -Be $processId
        $process.State | Should -Be 'Exited'
        $process.ExitCode | Should -Be 3
        $global:LASTEXITCODE | Should -Be 3
    }

    It 'delivers 8 MB of output complete, lines cut at odd chunk boundaries' {
        $null = Invoke-Rpc -Method 'test/setProgram' -Params @{ path = '/opt/fake/big'; exitCode = 0; generate = @{ bytes = 8000000; lineLength = 1000; chunkSize = 65521 } }
        $expected = 'x' * 999
        $script:count = 0
        $script:wrong = 0
        Start-HostProcess -FilePath '/opt/fake/big' -Wait | ForEach-Object {
            $script:count++
            if ($_ -cne $expected) { $script:wrong++ }
        }
        $count | Should -Be 8000
        $wrong | Should -Be 0
        $global:LASTEXITCODE | Should -Be 0
    }

    It 'keeps output sent before the process/start response' {
        @(Start-HostProcess -FilePath '/opt/fake/early' -Wait) | Should -Be @('early', 'later')
    }

    It 'sets $LASTEXITCODE to <Expected> for <Program>' -ForEach @(
        @{ Program = '/usr/bin/true'; Expected = 0 }
        @{ Program = '/opt/fake/exit3'; Expected = 3 }
        @{ Program = '/opt/fake/killed'; Expected = 137 }
    ) {
        $global:LASTEXITCODE = 42
        $process = @(Start-HostProcess -FilePath $Program -Wait -PassThru)[-1]
        $global:LASTEXITCODE | Should -Be $Expected
        if ($Program -eq '/opt/fake/killed') {
            $process.Signal | Should -Be 'SIGKILL'
            $null -eq $process.ExitCode | Should -BeTrue
        }
    }

    It 'sends the params as typings/process.ts declares them, with -Expose TCP:80 as tcp/80' {
        $null = Start-HostProcess -FilePath '/usr/bin/true' -ArgumentList '-v', 'x y' -Environment @{ APP_MODE = 'web' } -WorkingDirectory '/srv' -Expose 'TCP:80', 'udp/53' -Wait
        $stats = Invoke-Rpc -Method 'test/stats'
        $sent = $stats.lastParams.'process/start'
        @($sent.PSObject.Properties.Name) | Should -Be @('path', 'args', 'env', 'cwd', 'exposes', 'detach', 'stream')
        $sent.args | Should -Be @('-v', 'x y')
        $sent.env.APP_MODE | Should -Be 'web'
        $sent.cwd | Should -Be '/srv'
        $sent.exposes | Should -Be @('tcp/80', 'udp/53')
        $sent.detach | Should -BeFalse
        $sent.stream | Should -BeTrue
        $wait = $stats.lastParams.'process/wait'
        @($wait.PSObject.Properties.Name | Sort-Object) | Should -Be @('processId', 'stream')
        $wait.stream | Should -BeTrue
        $process = (Invoke-Rpc -Method 'test/lastProcess').info
        $process.Exposes | Should -Be @('tcp/80', 'udp/53')
    }

    It 'reports a program no rule lists as WinsHost.PolicyDenied with the rule, and keeps the connection' {
        $before = Get-CurrentConnection
        $record = $null
        try { Start-HostProcess -FilePath '/bin/sh' -Wait } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Start-HostProcess'
        $record.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $record.Exception.Message | Should -BeLike '*policy rule: profiles.test.processes*'
        $record = $null
        try { Start-HostProcess -FilePath '/opt/fake/../fake/stream' } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Start-HostProcess'
        [object]::ReferenceEquals($before, (Get-CurrentConnection)) | Should -BeTrue
        $before.IsOpen | Should -BeTrue
    }
}

Describe 'An interrupted Start-HostProcess -Wait' {
    It 'stops the process on a fresh connection when a downstream command stops the pipeline' {
        $stopsBefore = Get-StopCount
        $before = Get-CurrentConnection
        $elapsed = Measure-Command { $first = @(Start-HostProcess -FilePath '/opt/fake/forever' -Wait | Select-Object -First 1) }
        $first | Should -Be @('one')
        $elapsed.TotalMilliseconds | Should -BeLessThan 3000
        $before.IsOpen | Should -BeFalse -Because 'the rest of the wait would otherwise be taken for the next response'

        $process = Invoke-Rpc -Method 'test/lastProcess'
        $stops = @((Invoke-Rpc -Method 'test/processStops').stops)
        $stops.Count | Should -Be ($stopsBefore + 1)
        $stop = $stops[$stops.Count - 1]
        $stop.processId | Should -Be $process.id
        $stop.connection | Should -Not -Be $stop.startConnection
        $process.info.State | Should -Be 'Exited'
        (Get-HostInfo).HostName | Should -Be 'fake-host'
    }

    It 'leaves a -Detach process running' {
        $stopsBefore = Get-StopCount
        $first = @(Start-HostProcess -FilePath '/opt/fake/forever' -Wait -Detach | Select-Object -First 1)
        $first | Should -Be @('one')
        $id = (Invoke-Rpc -Method 'test/lastProcess').id
        Get-StopCount | Should -Be $stopsBefore
        $process = Get-HostProcess -Id $id
        $process.State | Should -Be 'Running'
        $process.Detached | Should -BeTrue

        $stopped = Stop-HostProcess -Id $id -PassThru
        $stopped.State | Should -Be 'Exited'
        $stopped.Signal | Should -Be 'SIGTERM'
    }

    It 'stops the process when the pipeline is stopped as Ctrl+C does (PowerShell.Stop)' {
        $stopsBefore = Get-StopCount
        $state = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
        $state.ImportPSModule($manifestPath)
        $powershell = [powershell]::Create($state)
        try {
            $null = $powershell.AddCommand('Start-HostProcess').AddParameter('FilePath', '/opt/fake/forever').AddParameter('Wait').AddParameter('Pipe', $socket)
            $inputData = New-Object 'System.Management.Automation.PSDataCollection[psobject]'
            $outputData = New-Object 'System.Management.Automation.PSDataCollection[psobject]'
            $inputData.Complete()
            $handle = $powershell.BeginInvoke($inputData, $outputData)
            $deadline = [datetime]::UtcNow.AddSeconds(10)
            while ($outputData.Count -lt 2 -and [datetime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 20
            }
            @($outputData.ReadAll()) | Should -Be @('one', 'two')
            $id = (Invoke-Rpc -Method 'test/lastProcess').id
            # The process now runs until stopped, and the cmdlet waits for it.
            $handle.IsCompleted | Should -BeFalse
            $powershell.Stop()
            $powershell.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally {
            $powershell.Dispose()
        }
        $stops = @((Invoke-Rpc -Method 'test/processStops').stops)
        $stops.Count | Should -Be ($stopsBefore + 1)
        $stops[$stops.Count - 1].processId | Should -Be $id
        (Get-HostProcess -Id $id).State | Should -Be 'Exited'
    }
}

Describe 'The other process cmdlets over the wire' {
    It 'lists the processes with Get-HostProcess, and reports an unknown id' {
        $processes = @(Get-HostProcess)
        $processes.Count | Should -BeGreaterOrEqual 5
        $processes[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
        $processes[0].StartTime | Should -BeOfType [datetime]
        $errors = @(Get-HostProcess -Id 1 -ErrorAction Continue 2>&1)
        $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessNotFound,Get-HostProcess'
    }

    It 'times out Wait-HostProcess with WinsHost.WaitTimeout, then stops the process with Stop-HostProcess -Timeout -PassThru' {
        $started = Start-HostProcess -FilePath '/opt/fake/forever' -PassThru
        $started.State | Should -Be 'Running'
        $elapsed = Measure-Command { $all = @(Wait-HostProcess -Id $started.Id -Timeout 1 -PassThru -ErrorAction Continue 2>&1) }
        $elapsed.TotalMilliseconds | Should -BeGreaterOrEqual 900
        $all.Count | Should -Be 2
        $all[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.WaitTimeout,Wait-HostProcess'
        $all[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $all[0].TargetObject | Should -Be $started.Id
        $all[1].State | Should -Be 'Running'
        $wait = (Invoke-Rpc -Method 'test/stats').lastParams.'process/wait'
        $wait.timeoutMs | Should -BeGreaterThan 900
        $wait.timeoutMs | Should -BeLessOrEqual 1000
        $wait.stream | Should -BeFalse

        $stopped = $started | Stop-HostProcess -Timeout 2 -PassThru
        $stopped.Id | Should -Be $started.Id
        $stopped.State | Should -Be 'Exited'
        $stopped.Signal | Should -Be 'SIGTERM'
        $stop = @((Invoke-Rpc -Method 'test/processStops').stops)[-1]
        $stop.processId | Should -Be $started.Id
        $stop.timeoutMs | Should -Be 2000
        (Wait-HostProcess -Id $started.Id -Timeout 1 -PassThru).State | Should -Be 'Exited'
    }

    It 'sends no process/stop for Get-HostProcess | Stop-HostProcess -WhatIf' {
        $calls = (Invoke-Rpc -Method 'test/stats').calls
        $stopsBefore = 0
        if ($calls.PSObject.Properties['process/stop']) { $stopsBefore = $calls.'process/stop' }
        Get-HostProcess | Stop-HostProcess -WhatIf
        $calls = (Invoke-Rpc -Method 'test/stats').calls
        $calls.'process/stop' | Should -Be $stopsBefore
    }

    It 'collects the output of a process started without -Wait with Receive-HostProcessOutput -Wait' {
        $receivesBefore = (Invoke-Rpc -Method 'test/stats').calls.'process/receive'
        if ($null -eq $receivesBefore) { $receivesBefore = 0 }
        $started = Start-HostProcess -FilePath '/opt/fake/batches' -PassThru
        $all = @(Receive-HostProcessOutput -Id $started.Id -Wait -ErrorAction Continue 2>&1)
        @($all | Where-Object { $_ -is [string] }) | Should -Be @('first', "second $([char]0x2713)", 'the end')
        $records = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        $records.Count | Should -Be 1
        $records[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessStandardError,Receive-HostProcessOutput'
        $records[0].Exception.Message | Should -BeExactly 'problem'
        $receives = (Invoke-Rpc -Method 'test/stats').calls.'process/receive' - $receivesBefore
        $receives | Should -BeGreaterOrEqual 3
        (Get-HostProcess -Id $started.Id).State | Should -Be 'Exited'
        # Everything was received: another receive returns nothing.
        @(Receive-HostProcessOutput -Id $started.Id) | Should -Be @()
    }

    It 'reports an unknown id to Wait-, Stop-HostProcess and Receive-HostProcessOutput as WinsHost.NotFound' {
        (@(Wait-HostProcess -Id 1 -ErrorAction Continue 2>&1))[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.NotFound,Wait-HostProcess'
        (@(Stop-HostProcess -Id 1 -ErrorAction Continue 2>&1))[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.NotFound,Stop-HostProcess'
        { Receive-HostProcessOutput -Id 1 } | Should -Throw -ErrorId 'WinsHost.NotFound,Receive-HostProcessOutput'
    }
}
