#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The host session cmdlets against the fake broker (support/fake-broker.mjs): WinsHost.Session objects and
# their format view, Get-HostSession wildcards and SessionNotFound, Remove-HostSession from the pipeline,
# ShouldProcess; Invoke-HostCommand writing every session stream to the matching PowerShell stream with the
# error ids and categories kept, arguments and piped input sent as CliXml data (checked on what the fake
# received), Failed and timed-out invocations, wire errors, cancellation by a stopped pipeline, by
# -ErrorAction Stop and by a real PowerShell.Stop() (the connection, to which sessions belong, stays usable);
# Exit-HostSession outside a session and the input helpers of Enter-HostSession.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/FakeBroker.ps1')
    $script:socket = Initialize-FakeBrokerSession
    $script:manifestPath = (Get-Module -Name WinsHost).Path -replace '\.psm1$', '.psd1'

    function Invoke-Rpc {
        param([string] $Method, [hashtable] $Params = @{})
        Invoke-FakeBrokerRpc -Method $Method -Params $Params -Pipe $socket
    }

    function ConvertTo-CliXml {
        param($Value, [int] $Depth = 1)
        [System.Management.Automation.PSSerializer]::Serialize($Value, $Depth)
    }

    function Set-Invocation {
        param([object[]] $Outputs = @(), [string] $State = 'Completed', [string] $ErrorCliXml, [switch] $TimedOut, [switch] $UntilCancelled, [switch] $DropConnection, [string] $Location = '/root')
        $params = @{ outputs = $Outputs; state = $State; timedOut = [bool]$TimedOut; untilCancelled = [bool]$UntilCancelled; dropConnection = [bool]$DropConnection; location = $Location }
        if ($ErrorCliXml) {
            $params['error'] = $ErrorCliXml
        }
        $null = Invoke-Rpc -Method 'test/setInvocation' -Params $params
    }

    function Get-LastInvoke {
        @((Invoke-Rpc -Method 'test/sessionStats').invokes)[-1]
    }

    function Get-CallCount {
        param([string] $Method)
        $calls = (Invoke-Rpc -Method 'test/stats').calls
        $property = $calls.PSObject.Properties[$Method]
        if ($null -eq $property) {
            return 0
        }
        [int]$property.Value
    }

    # A real error record of a real command, as a session would send it.
    try {
        Get-Item -LiteralPath '/nonexistent/winshost-test' -ErrorAction Stop
    }
    catch {
        $script:pathError = $_
    }
    $script:pathErrorCliXml = ConvertTo-CliXml $pathError 2

    $hostMessage = New-Object System.Management.Automation.HostInformationMessage
    $hostMessage.Message = 'from Write-Host'
    $hostMessage.ForegroundColor = [System.ConsoleColor]::Green
    $information = New-Object System.Management.Automation.InformationRecord $hostMessage, 'Write-Host'
    $information.Tags.Add('PSHOST')
    $progress = New-Object System.Management.Automation.ProgressRecord 7, 'Copying', 'half way'
    $progress.PercentComplete = 50

    $script:allStreams = @(
        @{ stream = 'output'; clixml = (ConvertTo-CliXml (Get-Process -Id $PID)) }
        @{ stream = 'output'; clixml = (ConvertTo-CliXml 42) }
        @{ stream = 'output'; clixml = (ConvertTo-CliXml 'text') }
        @{ stream = 'error'; clixml = $pathErrorCliXml }
        @{ stream = 'warning'; clixml = (ConvertTo-CliXml (New-Object System.Management.Automation.WarningRecord 'careful')) }
        @{ stream = 'verbose'; clixml = (ConvertTo-CliXml (New-Object System.Management.Automation.VerboseRecord 'details')) }
        @{ stream = 'debug'; clixml = (ConvertTo-CliXml (New-Object System.Management.Automation.DebugRecord 'internals')) }
        @{ stream = 'information'; clixml = (ConvertTo-CliXml $information 2) }
        @{ stream = 'progress'; clixml = (ConvertTo-CliXml $progress) }
    )
}

AfterAll {
    Disconnect-HostBroker
    Stop-FakeBroker
}

Describe 'New-HostSession, Get-HostSession and Remove-HostSession' {
    AfterEach {
        Get-HostSession | Remove-HostSession
    }

    It 'opens a session and outputs a WinsHost.Session shown by its table view' {
        $session = New-HostSession -Name ops
        $session.PSObject.TypeNames[0] | Should -Be 'WinsHost.Session'
        $session.Name | Should -Be 'ops'
        $session.Target | Should -Be 'host'
        $session.State | Should -Be 'Opened'
        $session.ProcessId | Should -BeOfType [int]
        $session.Created | Should -BeOfType [datetime]
        $text = $session | Out-String
        foreach ($column in 'Id', 'Name', 'Target', 'State', 'LanguageMode', 'Location') {
            $text | Should -Match $column
        }
        $text | Should -Match 'NoLanguage'
        (Invoke-Rpc -Method 'test/stats').lastParams.'session/new'.name | Should -Be 'ops'
    }

    It 'sends the container name as the target, and reports a refused target as WinsHost.PolicyDenied' {
        (New-HostSession -ContainerName web).Target | Should -Be 'web'
        (Invoke-Rpc -Method 'test/stats').lastParams.'session/new'.target | Should -Be 'web'
        $failure = { New-HostSession -ContainerName db } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'WinsHost.PolicyDenied,New-HostSession'
        $failure.CategoryInfo.Category | Should -Be 'PermissionDenied'
    }

    It 'sends nothing under -WhatIf' {
        $before = Get-CallCount -Method 'session/new'
        New-HostSession -Name never -WhatIf | Should -BeNullOrEmpty
        Get-CallCount -Method 'session/new' | Should -Be $before
    }

    It 'gets sessions by wildcard, name and id, and reports a missing name as WinsHost.SessionNotFound' {
        $a = New-HostSession -Name ops-a
        $null = New-HostSession -Name ops-b
        $null = New-HostSession -Name web
        @(Get-HostSession).Count | Should -Be 3
        @(Get-HostSession -Name 'ops*').Name | Should -Be @('ops-a', 'ops-b')
        @(Get-HostSession -Name 'OPS*', 'ops-a').Count | Should -Be 2
        (Get-HostSession -Id $a.Id).Name | Should -Be 'ops-a'
        Get-HostSession -Name 'nothing*' -ErrorVariable wildcardErrors | Should -BeNullOrEmpty
        $wildcardErrors | Should -BeNullOrEmpty

        $found = Get-HostSession -Name 'missing', 'web' -ErrorVariable missing -ErrorAction SilentlyContinue
        $found.Name | Should -Be 'web'
        $missing.Count | Should -Be 1
        $missing[0].FullyQualifiedErrorId | Should -Be 'WinsHost.SessionNotFound,Get-HostSession'
        $missing[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $missing[0].TargetObject | Should -Be 'missing'
        $null = Get-HostSession -Id 's-none' -ErrorVariable missingId -ErrorAction SilentlyContinue
        $missingId[0].FullyQualifiedErrorId | Should -Be 'WinsHost.SessionNotFound,Get-HostSession'
    }

    It 'removes sessions piped from Get-HostSession, by name and by id' {
        $null = New-HostSession -Name one
        $two = New-HostSession -Name two
        $null = New-HostSession -Name three
        Get-HostSession -Name one | Remove-HostSession
        @(Get-HostSession).Name | Should -Be @('two', 'three')
        $removed = Remove-HostSession -Id $two.Id -PassThru
        $removed.PSObject.TypeNames[0] | Should -Be 'WinsHost.Session'
        $removed.Name | Should -Be 'two'
        Remove-HostSession -Name 'th*'
        Get-HostSession | Should -BeNullOrEmpty
    }

    It 'removes nothing under -WhatIf, and reports unknown names and vanished sessions' {
        $session = New-HostSession -Name keep
        $before = Get-CallCount -Method 'session/remove'
        $session | Remove-HostSession -WhatIf
        Get-CallCount -Method 'session/remove' | Should -Be $before
        (Get-HostSession).Name | Should -Be 'keep'

        Remove-HostSession -Name nobody -ErrorVariable unknown -ErrorAction SilentlyContinue
        $unknown[0].FullyQualifiedErrorId | Should -Be 'WinsHost.SessionNotFound,Remove-HostSession'
        $unknown[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'

        $session | Remove-HostSession
        $gone = @($session | Remove-HostSession -ErrorAction Continue 2>&1)
        $gone[0].FullyQualifiedErrorId | Should -Be 'WinsHost.NotFound,Remove-HostSession'
    }
}

Describe 'Invoke-HostCommand' {
    It 'writes every session stream to the matching PowerShell stream, keeping error ids and categories' {
        Set-Invocation -Outputs $allStreams
        # The preference, not -Debug: -Debug also makes warnings ask for confirmation, which this non-interactive
        # run cannot; a module function reads the global one.
        $savedDebugPreference = $global:DebugPreference
        $global:DebugPreference = 'Continue'
        $warnings = $null
        $informationRecords = $null
        $errors = $null
        try {
            $all = Invoke-HostCommand { Get-Process -Id $PID } -ErrorVariable errors -WarningVariable warnings -InformationVariable informationRecords -ErrorAction SilentlyContinue -Verbose 4>&1 5>&1 6>$null
        }
        finally {
            $global:DebugPreference = $savedDebugPreference
        }

        $objects = @($all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] -and $_ -isnot [System.Management.Automation.DebugRecord] })
        $objects.Count | Should -Be 3
        $objects[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.System.Diagnostics.Process'
        $objects[0].Id | Should -Be $PID
        $objects[1] | Should -BeOfType [int]
        $objects[1] | Should -Be 42
        $objects[2] | Should -BeExactly 'text'

        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be $pathError.FullyQualifiedErrorId
        $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errors[0].Exception | Should -BeOfType [System.Management.Automation.RemoteException]
        $errors[0].Exception.Message | Should -Be $pathError.Exception.Message

        @($warnings).Count | Should -Be 1
        $warnings[0].Message | Should -Be 'careful'
        @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message | Should -Be 'details'
        @($all | Where-Object { $_ -is [System.Management.Automation.DebugRecord] }).Message | Should -Be 'internals'

        @($informationRecords).Count | Should -Be 1
        $informationRecords[0].Tags | Should -Contain 'PSHOST'
        $informationRecords[0].Source | Should -Be 'Write-Host'
        $informationRecords[0].MessageData | Should -BeOfType [System.Management.Automation.HostInformationMessage]
        $informationRecords[0].MessageData.Message | Should -Be 'from Write-Host'
        $informationRecords[0].MessageData.ForegroundColor | Should -Be 'Green'
    }

    It 'writes progress records' {
        Set-Invocation -Outputs @($allStreams | Where-Object { $_.stream -eq 'progress' })
        $state = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
        $state.ImportPSModule($manifestPath)
        $powershell = [powershell]::Create($state)
        try {
            $null = $powershell.AddCommand('Invoke-HostCommand').AddParameter('ScriptBlock', { 1 }).AddParameter('Pipe', $socket)
            $null = $powershell.Invoke()
            @($powershell.Streams.Progress | Where-Object ActivityId -EQ 7).Count | Should -Be 1
            ($powershell.Streams.Progress | Where-Object ActivityId -EQ 7).PercentComplete | Should -Be 50
            ($powershell.Streams.Progress | Where-Object ActivityId -EQ 7).StatusDescription | Should -Be 'half way'
        }
        finally {
            $powershell.Dispose()
        }
    }

    It 'sends the script text, and -ArgumentList and piped input as CliXml data, to a temporary session on the host' {
        Set-Invocation
        $tricky = '"; Remove-Item -Recurse / #'
        1, 'two', $tricky | Invoke-HostCommand -ScriptBlock { param($a, $b) $input } -ArgumentList $tricky, @{ key = 'value' } -Depth 3 -TimeoutSeconds 9 | Should -BeNullOrEmpty
        $sent = Get-LastInvoke
        $sent.script | Should -Be ' param($a, $b) $input '
        $sent.PSObject.Properties['sessionId'] | Should -BeNullOrEmpty
        $sent.target | Should -Be 'host'
        $sent.depth | Should -Be 3
        $sent.timeoutSeconds | Should -Be 9
        $arguments = [System.Management.Automation.PSSerializer]::Deserialize($sent.arguments)
        $arguments.Count | Should -Be 2
        $arguments[0] | Should -BeExactly $tricky
        $arguments[1].key | Should -Be 'value'
        $inputs = [System.Management.Automation.PSSerializer]::Deserialize($sent.input)
        @($inputs) | Should -Be @(1, 'two', $tricky)
        $sent.script | Should -Not -Match 'Remove-Item'
    }

    It 'sends the values of $using: references as CliXml data, read in the scope that wrote the script block' {
        Set-Invocation
        function Invoke-FromFunction {
            $name = '"; Remove-Item -Recurse / #'
            $count = 21
            Invoke-HostCommand -ScriptBlock { $using:name; & { $using:count * 2 }; ${using:count} }
        }
        $name = 'the outer one, shadowed'
        Invoke-FromFunction | Should -BeNullOrEmpty
        $sent = Get-LastInvoke
        $values = [System.Management.Automation.PSSerializer]::Deserialize($sent.using)
        $values.Keys | Sort-Object | Should -Be @('count', 'name')
        $values['name'] | Should -BeExactly '"; Remove-Item -Recurse / #'
        $values['count'] | Should -Be 21
        $sent.script | Should -Not -Match 'Remove-Item'
    }

    It 'refuses a $using: reference to a variable that is not set, or to a provider path, before sending anything' {
        Set-Invocation
        $sentBefore = @((Invoke-Rpc -Method 'test/sessionStats').invokes).Count
        $failure = $null
        try { Invoke-HostCommand -ScriptBlock { $using:winshostNeverSet } } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.UsingVariableNotSet,Invoke-HostCommand'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.Exception.Message | Should -BeLike '*$using:winshostNeverSet*'
        @((Invoke-Rpc -Method 'test/sessionStats').invokes).Count | Should -Be $sentBefore

        $failure = $null
        try { Invoke-HostCommand -ScriptBlock { $using:env:PATH } } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.UsingPathNotSupported,Invoke-HostCommand'
        $failure.Exception.Message | Should -BeLike '*copy it into a variable first*'
        @((Invoke-Rpc -Method 'test/sessionStats').invokes).Count | Should -Be $sentBefore
    }

    It 'sends no arguments or input when none are given, the session id with -Session and the container with -ContainerName' {
        Set-Invocation -Location '/srv'
        $session = New-HostSession -Name invoke
        try {
            Invoke-HostCommand -Session $session { Get-Location }
            $sent = Get-LastInvoke
            $sent.sessionId | Should -Be $session.Id
            $sent.PSObject.Properties['target'] | Should -BeNullOrEmpty
            $sent.PSObject.Properties['arguments'] | Should -BeNullOrEmpty
            $sent.PSObject.Properties['input'] | Should -BeNullOrEmpty
            $sent.PSObject.Properties['using'] | Should -BeNullOrEmpty
            $session.Location | Should -Be '/srv'

            Invoke-HostCommand -ContainerName web { 1 }
            (Get-LastInvoke).target | Should -Be 'web'
        }
        finally {
            $session | Remove-HostSession
        }
    }

    It 'writes the terminating error of a Failed invocation with its own id, as Invoke-Command does' {
        Set-Invocation -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'before') }) -State Failed -ErrorCliXml $pathErrorCliXml
        $failures = $null
        $output = Invoke-HostCommand { Get-Item /nonexistent } -ErrorVariable failures -ErrorAction SilentlyContinue
        $output | Should -Be 'before'
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -Be $pathError.FullyQualifiedErrorId
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'

        $thrown = { Invoke-HostCommand { Get-Item /nonexistent } -ErrorAction Stop } | Should -Throw -PassThru
        $thrown.FullyQualifiedErrorId | Should -Be $pathError.FullyQualifiedErrorId
    }

    It 'reports a timed-out invocation as WinsHost.InvocationTimedOut (OperationTimeout)' {
        Set-Invocation -State Stopped -TimedOut
        $timeouts = $null
        Invoke-HostCommand { Start-Sleep 60 } -TimeoutSeconds 1 -ErrorVariable timeouts -ErrorAction SilentlyContinue
        $timeouts.Count | Should -Be 1
        $timeouts[0].FullyQualifiedErrorId | Should -Be 'WinsHost.InvocationTimedOut,Invoke-HostCommand'
        $timeouts[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $timeouts[0].Exception | Should -BeOfType [System.TimeoutException]
    }

    It 'maps wire errors: a refused target is WinsHost.PolicyDenied, an unknown session WinsHost.NotFound' {
        $denied = { Invoke-HostCommand -ContainerName db { 1 } } | Should -Throw -PassThru
        $denied.FullyQualifiedErrorId | Should -Be 'WinsHost.PolicyDenied,Invoke-HostCommand'
        $denied.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $denied.Exception.Message | Should -Match 'profiles.test.sessions.targets'

        $session = New-HostSession -Name vanishing
        $session | Remove-HostSession
        $missing = { Invoke-HostCommand -Session $session { 1 } } | Should -Throw -PassThru
        $missing.FullyQualifiedErrorId | Should -Be 'WinsHost.NotFound,Invoke-HostCommand'
        $missing.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'sends a command once more on a fresh connection when the broker dropped the connection since the last call' {
        Set-Invocation -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'resent') })
        $before = Invoke-Rpc -Method 'test/stats'
        $invokesBefore = @((Invoke-Rpc -Method 'test/sessionStats').invokes).Count
        (Invoke-Rpc -Method 'test/closeAfterReply').ok | Should -BeTrue
        Start-Sleep -Milliseconds 300

        Invoke-HostCommand { 'resent' } | Should -Be 'resent'
        $after = Invoke-Rpc -Method 'test/stats'
        $after.connections | Should -Be ($before.connections + 1)
        $after.initializes | Should -Be ($before.initializes + 1)
        @((Invoke-Rpc -Method 'test/sessionStats').invokes).Count | Should -Be ($invokesBefore + 1)
    }

    It 'reports a connection lost during a command as WinsHost.ConnectionError after the output that came, and opens a new one next time' {
        Set-Invocation -DropConnection -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'before the loss') })
        $seen = [System.Collections.Generic.List[object]]::new()
        $record = { Invoke-HostCommand { 'before the loss' } | ForEach-Object { $seen.Add($_) } } | Should -Throw -PassThru
        @($seen) | Should -Be @('before the loss')
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Invoke-HostCommand'
        $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        $record.Exception.Message | Should -BeLike "*lost while waiting for the response to 'session/invoke'*$socket*"
        $record.TargetObject | Should -Be $socket

        Set-Invocation -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'again') })
        Invoke-HostCommand { 'again' } | Should -Be 'again'
    }

    It 'cancels the invocation when a downstream command stops the pipeline, and keeps the connection and its sessions' {
        $session = New-HostSession -Name stays
        try {
            $connectionsBefore = (Invoke-Rpc -Method 'test/stats').connections
            $statsBefore = Invoke-Rpc -Method 'test/sessionStats'
            Set-Invocation -UntilCancelled -Outputs @(
                @{ stream = 'output'; clixml = (ConvertTo-CliXml 'first') }
                @{ stream = 'output'; clixml = (ConvertTo-CliXml 'second'); delayMs = 100 }
            )
            $first = Invoke-HostCommand -Session $session { while ($true) { 'tick'; Start-Sleep 1 } } | Select-Object -First 1
            $first | Should -Be 'first'
            $statsAfter = Invoke-Rpc -Method 'test/sessionStats'
            @($statsAfter.cancels).Count | Should -Be (@($statsBefore.cancels).Count + 1)
            $statsAfter.cancelledInvokes | Should -Be ($statsBefore.cancelledInvokes + 1)

            # Same connection: its session is still there, and the next command answers.
            (Invoke-Rpc -Method 'test/stats').connections | Should -Be $connectionsBefore
            (Get-HostSession -Name stays).Id | Should -Be $session.Id
            Set-Invocation -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'again') })
            Invoke-HostCommand -Session $session { 'again' } | Should -Be 'again'
        }
        finally {
            Get-HostSession | Remove-HostSession
        }
    }

    It 'cancels the invocation when -ErrorAction Stop turns a session error into a terminating one' {
        $session = New-HostSession -Name strict
        try {
            $statsBefore = Invoke-Rpc -Method 'test/sessionStats'
            Set-Invocation -UntilCancelled -Outputs @(@{ stream = 'error'; clixml = $pathErrorCliXml })
            $thrown = { Invoke-HostCommand -Session $session { Get-Item /nonexistent; Start-Sleep 60 } -ErrorAction Stop } | Should -Throw -PassThru
            $thrown.FullyQualifiedErrorId | Should -Be $pathError.FullyQualifiedErrorId
            (Invoke-Rpc -Method 'test/sessionStats').cancelledInvokes | Should -Be ($statsBefore.cancelledInvokes + 1)
            (Get-HostSession -Name strict).Id | Should -Be $session.Id
        }
        finally {
            Get-HostSession | Remove-HostSession
        }
    }

    It 'cancels the invocation when the pipeline is stopped as Ctrl+C does (PowerShell.Stop), and the session answers again' {
        Set-Invocation -UntilCancelled -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'running') })
        $statsBefore = Invoke-Rpc -Method 'test/sessionStats'
        $state = [System.Management.Automation.Runspaces.InitialSessionState]::CreateDefault2()
        $state.ImportPSModule($manifestPath)
        $powershell = [powershell]::Create($state)
        try {
            $null = $powershell.AddScript('param($Pipe) $script:session = New-HostSession -Name ctrlc -Pipe $Pipe; Invoke-HostCommand -Session $script:session { Start-Sleep 60 }').AddArgument($socket)
            $inputData = New-Object 'System.Management.Automation.PSDataCollection[psobject]'
            $outputData = New-Object 'System.Management.Automation.PSDataCollection[psobject]'
            $inputData.Complete()
            $handle = $powershell.BeginInvoke($inputData, $outputData)
            $deadline = [datetime]::UtcNow.AddSeconds(10)
            while ($outputData.Count -lt 1 -and [datetime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 20
            }
            @($outputData.ReadAll()) | Should -Be @('running')
            $handle.IsCompleted | Should -BeFalse
            $powershell.Stop()
            $handle.IsCompleted | Should -BeTrue
            (Invoke-Rpc -Method 'test/sessionStats').cancelledInvokes | Should -Be ($statsBefore.cancelledInvokes + 1)

            # The same runspace, on the same connection: the session is still there and answers.
            Set-Invocation -Outputs @(@{ stream = 'output'; clixml = (ConvertTo-CliXml 'answered') })
            $powershell.Commands.Clear()
            $null = $powershell.AddScript('Invoke-HostCommand -Session $script:session { 1 }; (Get-HostSession -Name ctrlc).Name; Get-HostSession | Remove-HostSession')
            @($powershell.Invoke()) | Should -Be @('answered', 'ctrlc')
            $powershell.Streams.Error | Should -BeNullOrEmpty
        }
        finally {
            $powershell.Dispose()
        }
    }
}

Describe 'Exit-HostSession and the input of Enter-HostSession' {
    It 'reports Exit-HostSession outside a host session as WinsHost.NotInHostSession' {
        $failure = { Exit-HostSession } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'WinsHost.NotInHostSession,Exit-HostSession'
        $failure.CategoryInfo.Category | Should -Be 'InvalidOperation'
    }

    It 'continues a command while the parser reports incomplete input' {
        InModuleScope WinsHost {
            Test-HostSessionInputIncomplete -Text 'foreach ($i in 1..3) {' | Should -BeTrue
            Test-HostSessionInputIncomplete -Text "foreach (`$i in 1..3) {`n`$i * 2" | Should -BeTrue
            Test-HostSessionInputIncomplete -Text "foreach (`$i in 1..3) {`n`$i * 2`n}" | Should -BeFalse
            Test-HostSessionInputIncomplete -Text "'open string" | Should -BeTrue
            Test-HostSessionInputIncomplete -Text 'Get-Process |' | Should -BeTrue
            Test-HostSessionInputIncomplete -Text 'Get-Process )' | Should -BeFalse
        }
    }

    It 'leaves the loop on exit, Exit-HostSession and Exit-PSSession only' {
        InModuleScope WinsHost {
            Get-HostSessionExitCommand -Text 'exit' | Should -Be 'exit'
            Get-HostSessionExitCommand -Text '  Exit-HostSession ' | Should -Be 'Exit-HostSession'
            Get-HostSessionExitCommand -Text 'exit-pssession' | Should -Be 'Exit-PSSession'
            Get-HostSessionExitCommand -Text '& { exit }' | Should -BeNullOrEmpty
            Get-HostSessionExitCommand -Text 'Get-Process; exit' | Should -BeNullOrEmpty
            Get-HostSessionExitCommand -Text 'Exit-HostSession -Verbose' | Should -BeNullOrEmpty
        }
    }
}
