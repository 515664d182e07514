#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The host process cmdlets with the private RPC function mocked: the params they send (path, args, env, cwd,
# exposes and their normalization, detach, stream, timeoutMs), -WhatIf, pipeline binding, the shape of their
# output (compared with HostProcessInfo in typings/process.ts), and how process/output notifications and
# process/receive batches become stdout lines and stderr errors. HostProcessStream.Tests.ps1 runs them
# against the fake broker over a real socket.

BeforeDiscovery {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # A HostProcessInfo exactly as ConvertFrom-Json gives it, built from JSON so the types are the real ones.
    function New-WireProcess {
        param(
            [int] $Id = 4100,
            [string] $State = 'Running',
            [object] $ExitCode = $null,
            [object] $Signal = $null,
            [bool] $Detached = $false,
            [string] $Path = '/opt/app/bin/app',
            [string[]] $Arguments = @(),
            [string[]] $Exposes = @()
        )
        $exitTime = $null
        if ($State -eq 'Exited') {
            $exitTime = '2024-05-01T10:00:05.000Z'
        }
        $wire = [ordered]@{
            Id = $Id; Path = $Path; Arguments = $Arguments; WorkingDirectory = '/opt/app'; State = $State; ExitCode = $ExitCode
            Signal = $Signal; Detached = $Detached; Exposes = $Exposes; StartTime = '2024-05-01T10:00:00.000Z'; ExitTime = $exitTime
            Rule = 'profiles.test.processes.0'
        }
        ConvertFrom-Json -InputObject (ConvertTo-Json -InputObject $wire -Depth 3 -Compress)
    }

    function Get-Utf8 {
        param([string] $Text)
        , [System.Text.Encoding]::UTF8.GetBytes($Text)
    }

    # Plays one process/output notification through the client's callback, as the broker sends it.
    function Send-ProcessOutput {
        param(
            [Parameter(Mandatory)] [scriptblock] $Callback,
            [string] $Stream = 'stdout',
            [string] $Text,
            [byte[]] $Bytes,
            [long] $ProcessId = 4100
        )
        if ($PSBoundParameters.ContainsKey('Text')) {
            $Bytes = Get-Utf8 $Text
        }
        $null = & $Callback 'process/output' ([pscustomobject]@{ processId = $ProcessId; stream = $Stream; data = [System.Convert]::ToBase64String($Bytes) })
    }

    function ConvertTo-Base64 {
        param([string] $Text)
        [System.Convert]::ToBase64String((Get-Utf8 $Text))
    }

    function Invoke-InWinsHost {
        param([scriptblock] $ScriptBlock)
        & (Get-Module -Name WinsHost) $ScriptBlock @args
    }

    $script:processProperties = Get-TypingsInterfaceProperty -File 'process.ts' -Interface 'HostProcessInfo'
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
}

Describe 'Host process cmdlets' {
    BeforeEach {
        # Every call the cmdlets make, and per method the answer: a script block given (params, callback).
        $script:calls = New-Object System.Collections.Generic.List[object]
        $script:answers = @{
            'process/start' = { param($p, $callback) New-WireProcess -Path $p['path'] -Detached ([bool]$p['detach']) }
            'process/wait'  = { param($p, $callback) New-WireProcess -Id $p['processId'] -State Exited -ExitCode 0 }
            'process/stop'  = { param($p, $callback) New-WireProcess -Id $p['processId'] -State Exited -Signal 'SIGTERM' }
            'process/list'  = { param($p, $callback) [pscustomobject]@{ processes = @((New-WireProcess -Id 4100), (New-WireProcess -Id 4101 -State Exited -ExitCode 2)) } }
        }
        Mock -ModuleName WinsHost Invoke-HostRpc {
            $calls.Add([pscustomobject]@{ Method = $Method; Params = $Params; Pipe = $Pipe; Callback = $OnNotification })
            $answer = $answers[$Method]
            if ($null -eq $answer) {
                return [pscustomobject]@{}
            }
            & $answer $Params $OnNotification
        }
        Invoke-InWinsHost { $script:HostProcessOutputStreams.Clear() }
        $global:LASTEXITCODE = 42
    }

    Describe 'Start-HostProcess: what it sends' {
        It 'sends path, args, env, cwd, exposes, detach and stream' {
            Start-HostProcess -FilePath '/opt/app/bin/app' -ArgumentList '-g', 'daemon off;', '' -WorkingDirectory '/opt/app' `
                -Environment @{ APP_PORT = 8080; APP_MODE = 'web'; EMPTY = $null } -Expose 'tcp/80', 'UDP:53'
            $calls.Count | Should -Be 1
            $sent = $calls[0].Params
            $calls[0].Method | Should -BeExactly 'process/start'
            @($sent.Keys) | Should -Be @('path', 'args', 'env', 'cwd', 'exposes', 'detach', 'stream')
            $sent['path'] | Should -BeExactly '/opt/app/bin/app'
            , $sent['args'] | Should -BeOfType [string[]]
            $sent['args'] | Should -Be @('-g', 'daemon off;', '')
            $sent['env']['APP_PORT'] | Should -BeExactly '8080'
            $sent['env']['APP_MODE'] | Should -BeExactly 'web'
            $sent['env']['EMPTY'] | Should -BeExactly ''
            $sent['cwd'] | Should -BeExactly '/opt/app'
            $sent['exposes'] | Should -Be @('tcp/80', 'udp/53')
            $sent['detach'] | Should -BeExactly $false
            $sent['stream'] | Should -BeExactly $false
        }

        It 'sends an empty args array for -ArgumentList @() or $null' {
            Start-HostProcess -FilePath '/opt/app/bin/app' -ArgumentList @()
            Start-HostProcess -FilePath '/opt/app/bin/app' -ArgumentList $null
            foreach ($call in $calls) {
                , $call.Params['args'] | Should -BeOfType [string[]]
                $call.Params['args'].Count | Should -Be 0
            }
        }

        It 'sends only path, detach and stream when nothing else is given' {
            Start-HostProcess -FilePath 'C:\nginx\nginx.exe'
            @($calls[0].Params.Keys) | Should -Be @('path', 'detach', 'stream')
        }

        It 'serializes the params as the protocol declares them (arrays stay arrays, env an object)' {
            Start-HostProcess -FilePath '/opt/app/bin/app' -ArgumentList 'one' -Environment @{ A = 'b' } -Expose 'TCP:80'
            $json = ConvertTo-Json -InputObject $calls[0].Params -Depth 10 -Compress
            $json | Should -BeExactly '{"path":"/opt/app/bin/app","args":["one"],"env":{"A":"b"},"exposes":["tcp/80"],"detach":false,"stream":false}'
        }

        It 'normalizes -Expose <Expose> to <Expected>' -ForEach @(
            @{ Expose = 'TCP:80'; Expected = 'tcp/80' }
            @{ Expose = 'tcp/80'; Expected = 'tcp/80' }
            @{ Expose = 'Udp:53'; Expected = 'udp/53' }
            @{ Expose = 'UDP/0053'; Expected = 'udp/53' }
            @{ Expose = 'tcp/65535'; Expected = 'tcp/65535' }
        ) {
            Start-HostProcess -FilePath '/opt/app/bin/app' -Expose $Expose
            $calls[0].Params['exposes'] | Should -Be @($Expected)
        }

        It 'sends a port given in both forms once' {
            Start-HostProcess -FilePath '/opt/app/bin/app' -Expose 'TCP:80', 'tcp/80', 'tcp/443'
            $calls[0].Params['exposes'] | Should -Be @('tcp/80', 'tcp/443')
        }

        It 'refuses -Expose <Expose> with a parameter error, before sending anything' -ForEach @(
            @{ Expose = 'http/80' }
            @{ Expose = 'tcp/0' }
            @{ Expose = 'tcp/65536' }
            @{ Expose = 'tcp80' }
            @{ Expose = 'tcp:' }
            @{ Expose = '80' }
            @{ Expose = 'sctp/80' }
        ) {
            $record = $null
            try { Start-HostProcess -FilePath '/opt/app/bin/app' -Expose 'tcp/8080', $Expose } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentValidationError,Start-HostProcess'
            $record.Exception.Message | Should -BeLike "*'$Expose' is not a port to expose*tcp/80 or TCP:80*"
            $calls.Count | Should -Be 0
        }

        It 'sends detach with -Detach and stream with -Wait' {
            Start-HostProcess -FilePath '/opt/app/bin/app' -Detach -Wait
            $calls[0].Params['detach'] | Should -BeExactly $true
            $calls[0].Params['stream'] | Should -BeExactly $true
        }

        It 'sends nothing with -WhatIf, also with -Wait' {
            Start-HostProcess -FilePath '/opt/app/bin/app' -WhatIf
            Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -PassThru -WhatIf | Should -BeNullOrEmpty
            $calls.Count | Should -Be 0
            $global:LASTEXITCODE | Should -Be 42
        }

        It 'passes -Pipe to every call, the process/stop after an interrupted wait included' {
            $answers['process/wait'] = { param($p, $callback) Send-ProcessOutput -Callback $callback -Text "one`ntwo`n"; New-WireProcess -State Exited -ExitCode 0 }
            $null = Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -Pipe '/srv/explicit.sock' | Select-Object -First 1
            @($calls.Method) | Should -Be @('process/start', 'process/wait', 'process/stop')
            @($calls | Where-Object Pipe -NE '/srv/explicit.sock').Count | Should -Be 0
        }
    }

    Describe 'Start-HostProcess: output' {
        It 'outputs nothing without -Wait and -PassThru, and does not touch $LASTEXITCODE' {
            Start-HostProcess -FilePath '/opt/app/bin/app' | Should -BeNullOrEmpty
            $global:LASTEXITCODE | Should -Be 42
            $calls[0].Callback | Should -BeNullOrEmpty
        }

        It 'outputs a WinsHost.Process with exactly the properties of HostProcessInfo with -PassThru' {
            $processProperties.Count | Should -Be 12
            $process = Start-HostProcess -FilePath '/opt/app/bin/app' -PassThru
            @($process).Count | Should -Be 1
            $process.PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
            @($process.PSObject.Properties.Name) | Should -Be $processProperties
            $process.Id | Should -BeOfType [int]
            $process.Id | Should -Be 4100
            $process.State | Should -Be 'Running'
            $process.Detached | Should -BeOfType [bool]
            $process.StartTime | Should -BeOfType [datetime]
            $null -eq $process.ExitTime | Should -BeTrue
            $null -eq $process.ExitCode | Should -BeTrue
            , $process.Arguments | Should -BeOfType [array]
            , $process.Exposes | Should -BeOfType [array]
            $process.Rule | Should -Be 'profiles.test.processes.0'
        }

        It 'keeps one-item Arguments and Exposes as arrays' {
            $answers['process/start'] = { param($p, $callback) New-WireProcess -Arguments @('-v') -Exposes @('tcp/80') }
            $process = Start-HostProcess -FilePath '/opt/app/bin/app' -PassThru
            , $process.Arguments | Should -BeOfType [array]
            $process.Arguments | Should -Be @('-v')
            , $process.Exposes | Should -BeOfType [array]
            $process.Exposes | Should -Be @('tcp/80')
        }

        It 'formats as a table of Id, State, ExitCode, Detached and Path' {
            $text = Start-HostProcess -FilePath '/opt/app/bin/app' -PassThru | Out-String -Width 120
            $text | Should -Match 'Id\s+State\s+ExitCode\s+Detached\s+Path'
            $text | Should -Match '4100\s+Running\s+False\s+/opt/app/bin/app'
            $list = Start-HostProcess -FilePath '/opt/app/bin/app' -PassThru | Format-List | Out-String -Width 120
            $list | Should -Match 'WorkingDirectory\s+: /opt/app'
            $list | Should -Match 'Rule\s+: profiles.test.processes.0'
        }

        It 'reports a policy denial as a terminating WinsHost.PolicyDenied with the rule' {
            $answers['process/start'] = {
                throw (Invoke-InWinsHost { New-HostRpcErrorException -Method 'process/start' -RpcError ([pscustomobject]@{ code = -32001; message = '/bin/sh is not listed in a process rule'; data = [pscustomobject]@{ reason = 'RuleDenied'; rule = 'profiles.test.processes' } }) })
            }
            $record = $null
            try { Start-HostProcess -FilePath '/bin/sh' -Wait } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Start-HostProcess'
            $record.CategoryInfo.Category | Should -Be 'PermissionDenied'
            $record.Exception.Message | Should -BeLike '*profiles.test.processes*'
            @($calls.Method) | Should -Be @('process/start')
            $global:LASTEXITCODE | Should -Be 42
        }
    }

    Describe 'Start-HostProcess -Wait' {
        It 'waits with processId and stream, passing the callback to both calls' {
            $null = Start-HostProcess -FilePath '/opt/app/bin/app' -Wait
            @($calls.Method) | Should -Be @('process/start', 'process/wait')
            @($calls[1].Params.Keys | Sort-Object) | Should -Be @('processId', 'stream')
            $calls[1].Params['processId'] | Should -Be 4100
            $calls[1].Params['stream'] | Should -BeExactly $true
            $calls[0].Callback | Should -Not -BeNullOrEmpty
            $calls[1].Callback | Should -Not -BeNullOrEmpty
        }

        It 'writes stdout lines as strings and stderr lines as WinsHost.ProcessStandardError errors, in arrival order' {
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "out 1`nout 2`n"
                Send-ProcessOutput -Callback $callback -Stream stderr -Text "err 1`r`n"
                Send-ProcessOutput -Callback $callback -Text "out 3`r`n"
                Send-ProcessOutput -Callback $callback -Stream stderr -Text "`nerr 3`n"
                New-WireProcess -State Exited -ExitCode 0
            }
            # -ErrorAction Continue: scripts/run-pester.ps1 runs with $ErrorActionPreference = 'Stop'.
            $all = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorAction Continue 2>&1)
            $all.Count | Should -Be 6
            $all[0] | Should -BeExactly 'out 1'
            $all[1] | Should -BeExactly 'out 2'
            $all[2] | Should -BeOfType [System.Management.Automation.ErrorRecord]
            $all[3] | Should -BeExactly 'out 3'
            $all[4] | Should -BeOfType [System.Management.Automation.ErrorRecord]
            $all[5] | Should -BeOfType [System.Management.Automation.ErrorRecord]
            foreach ($record in $all[2], $all[4], $all[5]) {
                $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessStandardError,Start-HostProcess'
                $record.CategoryInfo.Category | Should -Be 'NotSpecified'
                $record.TargetObject | Should -Be 4100
            }
            $all[2].Exception.Message | Should -BeExactly 'err 1'
            $all[4].Exception.Message | Should -BeExactly ''
            $all[5].Exception.Message | Should -BeExactly 'err 3'
        }

        It 'keeps stderr out of the output and in -ErrorVariable, non-terminating' {
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Stream stderr -Text "warning: x`n"
                Send-ProcessOutput -Callback $callback -Text "done`n"
                New-WireProcess -State Exited -ExitCode 0
            }
            $output = Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorVariable errors -ErrorAction SilentlyContinue
            $output | Should -BeExactly 'done'
            $errors.Count | Should -Be 1
            $errors[0].Exception.Message | Should -BeExactly 'warning: x'
        }

        It 'ends at the first stderr line under -ErrorAction Stop, like any error, and stops the process' {
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "before`n"
                Send-ProcessOutput -Callback $callback -Stream stderr -Text "fatal`n"
                Send-ProcessOutput -Callback $callback -Text "after`n"
                New-WireProcess -State Exited -ExitCode 0
            }
            $output = New-Object System.Collections.Generic.List[object]
            $record = $null
            try { Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorAction Stop | ForEach-Object { $output.Add($_) } } catch { $record = $_ }
            $output.ToArray() | Should -Be @('before')
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessStandardError,Start-HostProcess'
            @($calls.Method) | Should -Be @('process/start', 'process/wait', 'process/stop')
        }

        It 'decodes a character split across chunks with one decoder per stream, other-stream chunks in between' {
            # 'h' e-acute 'llo' / check mark / CJK: cut inside the 2-byte, 3-byte and 3-byte characters.
            $script:outBytes = Get-Utf8 "h$([char]0xE9)llo $([char]0x4E16)$([char]0x754C)`n"
            $script:errBytes = Get-Utf8 "fail $([char]0x2713)`n"
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Bytes $outBytes[0..1]
                Send-ProcessOutput -Callback $callback -Stream stderr -Bytes $errBytes[0..5]
                Send-ProcessOutput -Callback $callback -Bytes $outBytes[2..7]
                Send-ProcessOutput -Callback $callback -Stream stderr -Bytes $errBytes[6..($errBytes.Length - 1)]
                Send-ProcessOutput -Callback $callback -Bytes $outBytes[8..($outBytes.Length - 1)]
                New-WireProcess -State Exited -ExitCode 0
            }
            $output = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorVariable errors -ErrorAction SilentlyContinue)
            $output | Should -Be @("h$([char]0xE9)llo $([char]0x4E16)$([char]0x754C)")
            $errors[0].Exception.Message | Should -BeExactly "fail $([char]0x2713)"
            $output[0].Contains([char]0xFFFD) | Should -BeFalse
        }

        It 'flushes the partial last lines of both streams when the process exits, and an incomplete character as U+FFFD' {
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "one`ntwo`r`nno newline"
                Send-ProcessOutput -Callback $callback -Stream stderr -Text 'last error'
                Send-ProcessOutput -Callback $callback -Text ' at the end'
                Send-ProcessOutput -Callback $callback -Stream stderr -Bytes @(0x20, 0xE2, 0x9C)
                New-WireProcess -State Exited -ExitCode 0
            }
            $output = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorVariable errors -ErrorAction SilentlyContinue)
            $output | Should -Be @('one', 'two', 'no newline at the end')
            $errors.Count | Should -Be 1
            $errors[0].Exception.Message | Should -BeExactly "last error $([char]0xFFFD)"
        }

        It 'ignores output and exits of other processes and other notifications' {
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "mine`n"
                Send-ProcessOutput -Callback $callback -Text "NOT MINE`n" -ProcessId 4999
                Send-ProcessOutput -Callback $callback -Stream stderr -Text "NOT MINE EITHER`n" -ProcessId 4999
                $null = & $callback 'process/exited' ([pscustomobject]@{ processId = 4999; exitCode = 7; signal = $null })
                $null = & $callback 'file/data' ([pscustomobject]@{ token = 'x'; offset = 0; data = (ConvertTo-Base64 "FILE`n") })
                Send-ProcessOutput -Callback $callback -Text "mine too`n"
                New-WireProcess -State Exited -ExitCode 0
            }
            $output = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorVariable errors)
            $output | Should -Be @('mine', 'mine too')
            $errors.Count | Should -Be 0
            $global:LASTEXITCODE | Should -Be 0
        }

        It 'keeps output that arrives before the process/start response and writes it once the id is known' {
            $answers['process/start'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "early`npart"
                Send-ProcessOutput -Callback $callback -Text "OTHER`n" -ProcessId 4999
                New-WireProcess
            }
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "ial`n"
                New-WireProcess -State Exited -ExitCode 0
            }
            @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait) | Should -Be @('early', 'partial')
        }

        It 'sets $LASTEXITCODE to <Expected> for <Case>' -ForEach @(
            @{ Case = 'exit code 0'; ExitCode = 0; Signal = $null; Expected = 0 }
            @{ Case = 'exit code 3'; ExitCode = 3; Signal = $null; Expected = 3 }
            @{ Case = 'SIGKILL'; ExitCode = $null; Signal = 'SIGKILL'; Expected = 137 }
            @{ Case = 'SIGTERM'; ExitCode = $null; Signal = 'SIGTERM'; Expected = 143 }
            @{ Case = 'SIGINT'; ExitCode = $null; Signal = 'SIGINT'; Expected = 130 }
            @{ Case = 'a Windows NTSTATUS exit code'; ExitCode = 3221225477; Signal = $null; Expected = -1073741819 }
            @{ Case = 'an unknown exit (adopted process)'; ExitCode = $null; Signal = $null; Expected = -1 }
            @{ Case = 'an unknown signal name'; ExitCode = $null; Signal = 'SIGWHATEVER'; Expected = -1 }
        ) {
            $script:exitCode = $ExitCode
            $script:signal = $Signal
            $answers['process/wait'] = { param($p, $callback) New-WireProcess -State Exited -ExitCode $exitCode -Signal $signal }
            $output = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait)
            $output.Count | Should -Be 0
            $global:LASTEXITCODE | Should -BeExactly $Expected
        }

        It 'takes the exit status from process/exited when the wait answer lacks it' {
            $answers['process/wait'] = {
                param($p, $callback)
                $null = & $callback 'process/exited' ([pscustomobject]@{ processId = 4100; exitCode = $null; signal = 'SIGSEGV' })
                New-WireProcess -State Exited
            }
            $process = Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -PassThru
            $process.Signal | Should -Be 'SIGSEGV'
            $global:LASTEXITCODE | Should -Be 139
        }

        It 'outputs the exited WinsHost.Process last with -PassThru' {
            $answers['process/wait'] = {
                param($p, $callback)
                Send-ProcessOutput -Callback $callback -Text "line`n"
                New-WireProcess -State Exited -ExitCode 3
            }
            $output = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -PassThru)
            $output.Count | Should -Be 2
            $output[0] | Should -BeExactly 'line'
            $output[1].PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
            @($output[1].PSObject.Properties.Name) | Should -Be $processProperties
            $output[1].State | Should -Be 'Exited'
            $output[1].ExitCode | Should -BeOfType [int]
            $output[1].ExitCode | Should -Be 3
            $output[1].ExitTime | Should -BeOfType [datetime]
            $global:LASTEXITCODE | Should -Be 3
        }

        Context 'interrupted' {
            BeforeEach {
                $answers['process/wait'] = {
                    param($p, $callback)
                    Send-ProcessOutput -Callback $callback -Text "first`n"
                    Send-ProcessOutput -Callback $callback -Text "second`n"
                    New-WireProcess -State Exited -ExitCode 0
                }
            }

            It 'sends process/stop for the process when a downstream command stops the pipeline' {
                $first = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait | Select-Object -First 1)
                $first | Should -Be @('first')
                @($calls.Method) | Should -Be @('process/start', 'process/wait', 'process/stop')
                @($calls[2].Params.Keys) | Should -Be @('processId')
                $calls[2].Params['processId'] | Should -Be 4100
                $global:LASTEXITCODE | Should -Be 42 -Because 'the exit code is not known'
            }

            It 'does not stop a -Detach process' {
                $first = @(Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -Detach | Select-Object -First 1)
                $first | Should -Be @('first')
                @($calls.Method) | Should -Be @('process/start', 'process/wait')
            }

            It 'stops the process when the wait fails, and reports the failure' {
                $answers['process/wait'] = {
                    param($p, $callback)
                    Send-ProcessOutput -Callback $callback -Text "first`n"
                    throw (Invoke-InWinsHost { New-HostBrokerException -ErrorId 'ConnectionError' -Category ConnectionError -ExceptionType IO -Message 'the pipe broke' -Data @{ Method = 'process/wait' } })
                }
                $output = New-Object System.Collections.Generic.List[object]
                $record = $null
                try { Start-HostProcess -FilePath '/opt/app/bin/app' -Wait | ForEach-Object { $output.Add($_) } } catch { $record = $_ }
                $output.ToArray() | Should -Be @('first')
                $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Start-HostProcess'
                $record.TargetObject | Should -Be 'process/wait'
                @($calls.Method) | Should -Be @('process/start', 'process/wait', 'process/stop')
            }

            It 'does not turn a failed process/stop into a second error' {
                $answers['process/stop'] = {
                    throw (Invoke-InWinsHost { New-HostRpcErrorException -Method 'process/stop' -RpcError ([pscustomobject]@{ code = -32003; message = 'no process 4100' }) })
                }
                # 2>&1 rather than -ErrorVariable, which also collects errors thrown and caught inside the cmdlet.
                $all = @(& { Start-HostProcess -FilePath '/opt/app/bin/app' -Wait -ErrorAction Continue | Select-Object -First 1 } 2>&1)
                $all | Should -Be @('first')
                @($calls.Method) | Should -Be @('process/start', 'process/wait', 'process/stop')
            }
        }
    }

    Describe 'Get-HostProcess' {
        It 'lists every process as WinsHost.Process with the HostProcessInfo properties' {
            $processes = @(Get-HostProcess)
            $processes.Id | Should -Be @(4100, 4101)
            foreach ($process in $processes) {
                $process.PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
                @($process.PSObject.Properties.Name) | Should -Be $processProperties
            }
            $processes[1].ExitCode | Should -Be 2
            @($calls.Method) | Should -Be @('process/list')
            $calls[0].Params.Count | Should -Be 0
        }

        It 'outputs nothing when the broker lists no process' {
            $answers['process/list'] = { [pscustomobject]@{ processes = @() } }
            @(Get-HostProcess).Count | Should -Be 0
        }

        It 'filters by -Id in one call, and reports an unknown id as a non-terminating WinsHost.ProcessNotFound' {
            $found = @(Get-HostProcess -Id 4101, 4242, 4100 -ErrorVariable errors -ErrorAction SilentlyContinue)
            $found.Id | Should -Be @(4101, 4100)
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessNotFound,Get-HostProcess'
            $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $errors[0].TargetObject | Should -Be 4242
            $errors[0].Exception.Message | Should -BeLike '*4242*'
            @($calls.Method) | Should -Be @('process/list')
        }
    }

    Describe 'Wait-HostProcess' {
        It 'waits for each id with processId, stream false and no timeoutMs without -Timeout, outputting nothing' {
            Wait-HostProcess -Id 4100, 4101 | Should -BeNullOrEmpty
            @($calls.Method) | Should -Be @('process/wait', 'process/wait')
            $calls[0].Params['processId'] | Should -Be 4100
            $calls[1].Params['processId'] | Should -Be 4101
            @($calls[0].Params.Keys) | Should -Be @('processId', 'stream')
            $calls[0].Params['stream'] | Should -BeExactly $false
        }

        It 'sends -Timeout in milliseconds, the time left for each further process' {
            $answers['process/wait'] = { param($p, $callback) Start-Sleep -Milliseconds 300; New-WireProcess -Id $p['processId'] -State Exited -ExitCode 0 }
            Wait-HostProcess -Id 4100, 4101 -Timeout 5
            $first = $calls[0].Params['timeoutMs']
            $second = $calls[1].Params['timeoutMs']
            $first | Should -BeLessOrEqual 5000
            $first | Should -BeGreaterThan 4800
            $second | Should -BeLessOrEqual ($first - 250)
        }

        It 'reports a process still running after the timeout as a non-terminating WinsHost.WaitTimeout' {
            $answers['process/wait'] = { param($p, $callback) New-WireProcess -Id $p['processId'] -State Running }
            $output = @(Wait-HostProcess -Id 4100 -Timeout 0 -PassThru -ErrorVariable errors -ErrorAction SilentlyContinue)
            $calls[0].Params['timeoutMs'] | Should -Be 0
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.WaitTimeout,Wait-HostProcess'
            $errors[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
            $errors[0].TargetObject | Should -Be 4100
            $errors[0].Exception | Should -BeOfType [System.TimeoutException]
            $output.Count | Should -Be 1
            $output[0].State | Should -Be 'Running'
        }

        It 'outputs the exited processes with -PassThru' {
            $process = Wait-HostProcess -Id 4100 -PassThru
            $process.PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
            @($process.PSObject.Properties.Name) | Should -Be $processProperties
            $process.State | Should -Be 'Exited'
        }

        It 'takes Id from piped objects' {
            Get-HostProcess | Wait-HostProcess
            @($calls.Method) | Should -Be @('process/list', 'process/wait', 'process/wait')
            @($calls | Where-Object Method -EQ 'process/wait' | ForEach-Object { $_.Params['processId'] }) | Should -Be @(4100, 4101)
        }

        It 'reports an unknown id non-terminating and still waits for the next' {
            $answers['process/wait'] = {
                param($p, $callback)
                if ($p['processId'] -eq 4242) {
                    throw (Invoke-InWinsHost { New-HostRpcErrorException -Method 'process/wait' -RpcError ([pscustomobject]@{ code = -32003; message = 'no process 4242' }) })
                }
                New-WireProcess -Id $p['processId'] -State Exited -ExitCode 0
            }
            $all = @(Wait-HostProcess -Id 4242, 4100 -PassThru -ErrorAction Continue 2>&1)
            $all.Count | Should -Be 2
            $all[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.NotFound,Wait-HostProcess'
            $all[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $all[1].Id | Should -Be 4100
        }

        It 'ends on a lost connection' {
            $answers['process/wait'] = {
                throw (Invoke-InWinsHost { New-HostBrokerException -ErrorId 'ConnectionError' -Category ConnectionError -ExceptionType IO -Message 'gone' -Data @{ Method = 'process/wait' } })
            }
            { Wait-HostProcess -Id 4100, 4101 } | Should -Throw -ErrorId 'WinsHost.ConnectionError,Wait-HostProcess'
            $calls.Count | Should -Be 1
        }
    }

    Describe 'Receive-HostProcessOutput' {
        BeforeEach {
            # Batches process/receive answers with, in order; the last one is repeated.
            $script:batches = New-Object System.Collections.Generic.List[object]
            $answers['process/receive'] = {
                param($p, $callback)
                $batch = $batches[0]
                if ($batches.Count -gt 1) {
                    $batches.RemoveAt(0)
                }
                $batch
            }
            function Add-Batch {
                param([string] $Stdout = '', [string] $Stderr = '', [switch] $Complete, [byte[]] $StdoutBytes)
                $out = ConvertTo-Base64 $Stdout
                if ($PSBoundParameters.ContainsKey('StdoutBytes')) {
                    $out = [System.Convert]::ToBase64String($StdoutBytes)
                }
                $state = 'Running'
                if ($Complete) { $state = 'Exited' }
                $batches.Add([pscustomobject]@{ stdout = $out; stderr = (ConvertTo-Base64 $Stderr); complete = [bool]$Complete; process = (New-WireProcess -State $state) })
            }
        }

        It 'returns one batch: stdout lines, stderr lines as WinsHost.ProcessStandardError' {
            Add-Batch -Stdout "a`nb`n" -Stderr "oops`n"
            $output = @(Receive-HostProcessOutput -Id 4100 -ErrorVariable errors -ErrorAction SilentlyContinue)
            $output | Should -Be @('a', 'b')
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProcessStandardError,Receive-HostProcessOutput'
            $errors[0].CategoryInfo.Category | Should -Be 'NotSpecified'
            $errors[0].TargetObject | Should -Be 4100
            $errors[0].Exception.Message | Should -BeExactly 'oops'
            @($calls.Method) | Should -Be @('process/receive')
            @($calls[0].Params.Keys) | Should -Be @('processId')
            $calls[0].Params['processId'] | Should -Be 4100
        }

        It 'keeps an unfinished line and character for the next receive, and writes the last line when complete' {
            $bytes = Get-Utf8 "two $([char]0x2713)`nthree"
            Add-Batch -Stdout "one`ntw"
            Add-Batch -StdoutBytes $bytes[2..5]
            Add-Batch -StdoutBytes $bytes[6..($bytes.Length - 1)]
            Add-Batch -Complete
            @(Receive-HostProcessOutput -Id 4100) | Should -Be @('one')
            @(Receive-HostProcessOutput -Id 4100) | Should -Be @()
            @(Receive-HostProcessOutput -Id 4100) | Should -Be @("two $([char]0x2713)")
            @(Receive-HostProcessOutput -Id 4100) | Should -Be @('three')
            Invoke-InWinsHost { $script:HostProcessOutputStreams.Count } | Should -Be 0
        }

        It 'with -Wait asks about every 200 ms until complete, and flushes at the end' {
            Add-Batch -Stdout "first`nsec"
            Add-Batch -Stdout "ond`n" -Stderr 'err'
            Add-Batch -Stdout 'last' -Complete
            $elapsed = Measure-Command { $output = @(Receive-HostProcessOutput -Id 4100 -Wait -ErrorVariable errors -ErrorAction SilentlyContinue) }
            $output | Should -Be @('first', 'second', 'last')
            $errors[0].Exception.Message | Should -BeExactly 'err'
            @($calls.Method) | Should -Be @('process/receive', 'process/receive', 'process/receive')
            $elapsed.TotalMilliseconds | Should -BeGreaterOrEqual 390
        }

        It 'takes Id from piped objects' {
            Add-Batch -Stdout "x`n" -Complete
            $null = Get-HostProcess -Id 4101 | Receive-HostProcessOutput
            $calls[1].Params['processId'] | Should -Be 4101
        }
    }

    Describe 'Stop-HostProcess' {
        It 'sends processId, and timeoutMs from -Timeout in seconds' {
            Stop-HostProcess -Id 4100
            Stop-HostProcess -Id 4101 -Timeout 2
            @($calls[0].Params.Keys) | Should -Be @('processId')
            $calls[0].Params['processId'] | Should -Be 4100
            @($calls[1].Params.Keys) | Should -Be @('processId', 'timeoutMs')
            $calls[1].Params['timeoutMs'] | Should -Be 2000
        }

        It 'outputs nothing, or the stopped WinsHost.Process with -PassThru' {
            Stop-HostProcess -Id 4100 | Should -BeNullOrEmpty
            $process = Stop-HostProcess -Id 4100 -PassThru
            $process.PSObject.TypeNames[0] | Should -Be 'WinsHost.Process'
            @($process.PSObject.Properties.Name) | Should -Be $processProperties
            $process.State | Should -Be 'Exited'
            $process.Signal | Should -Be 'SIGTERM'
        }

        It 'sends nothing with -WhatIf: Get-HostProcess | Stop-HostProcess -WhatIf only lists' {
            Get-HostProcess | Stop-HostProcess -WhatIf
            @($calls.Method) | Should -Be @('process/list')
        }

        It 'stops every piped process by its Id' {
            Get-HostProcess | Stop-HostProcess
            @($calls.Method) | Should -Be @('process/list', 'process/stop', 'process/stop')
            @($calls | Where-Object Method -EQ 'process/stop' | ForEach-Object { $_.Params['processId'] }) | Should -Be @(4100, 4101)
        }

        It 'has ConfirmImpact Medium, so -Confirm:$false is not needed by default' {
            $metadata = New-Object System.Management.Automation.CommandMetadata (Get-Command Stop-HostProcess)
            $metadata.SupportsShouldProcess | Should -BeTrue
            $metadata.ConfirmImpact | Should -Be 'Medium'
            (New-Object System.Management.Automation.CommandMetadata (Get-Command Start-HostProcess)).SupportsShouldProcess | Should -BeTrue
        }

        It 'reports an unknown id non-terminating and still stops the next' {
            $answers['process/stop'] = {
                param($p, $callback)
                if ($p['processId'] -eq 4242) {
                    throw (Invoke-InWinsHost { New-HostRpcErrorException -Method 'process/stop' -RpcError ([pscustomobject]@{ code = -32003; message = 'no process 4242' }) })
                }
                New-WireProcess -Id $p['processId'] -State Exited -Signal 'SIGTERM'
            }
            $all = @(Stop-HostProcess -Id 4242, 4100 -PassThru -ErrorAction Continue 2>&1)
            $all.Count | Should -Be 2
            $all[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.NotFound,Stop-HostProcess'
            $all[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $all[1].Id | Should -Be 4100
        }
    }
}
