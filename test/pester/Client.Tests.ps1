#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The private JSON-RPC client against a fake broker (support/fake-broker.mjs) on a Unix socket: handshake,
# framing, notifications, errors, unreachable brokers and the reconnect-once rule.

BeforeAll {
    $script:manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    $script:fakeScript = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath 'support/fake-broker.mjs')).ProviderPath
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # Unix socket paths are limited to ~100 bytes, so a short directory of our own rather than TestDrive.
    $script:workDir = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('wh-' + [System.Guid]::NewGuid().ToString('N').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $workDir -Force
    $script:socket = Join-Path $workDir 'broker.sock'
    $script:processes = New-Object System.Collections.Generic.List[System.Diagnostics.Process]

    function Start-FakeBroker {
        param([Parameter(Mandatory)] [string] $SocketPath)
        $startInfo = New-Object System.Diagnostics.ProcessStartInfo
        $startInfo.FileName = 'node'
        $startInfo.ArgumentList.Add($fakeScript)
        $startInfo.ArgumentList.Add($SocketPath)
        $startInfo.UseShellExecute = $false
        $startInfo.RedirectStandardOutput = $true
        $startInfo.RedirectStandardError = $true
        $process = [System.Diagnostics.Process]::Start($startInfo)
        $processes.Add($process)
        $line = $process.StandardOutput.ReadLineAsync()
        if (-not $line.Wait(15000) -or $line.Result -notlike 'listening *') {
            $process.Kill()
            throw "The fake broker did not start: $($process.StandardError.ReadToEnd())"
        }
        $process
    }

    # Runs a script block inside the module, where the private client functions are visible.
    function Invoke-InWinsHost {
        param([scriptblock] $ScriptBlock)
        & (Get-Module -Name WinsHost) $ScriptBlock @args
    }

    # Calls the private client; a failure comes back as the ErrorRecord a cmdlet would build from it.
    function Invoke-Rpc {
        param([string] $Method, [hashtable] $Params = @{}, [scriptblock] $OnNotification, [string] $Pipe = $socket)
        Invoke-InWinsHost {
            param($Method, $Params, $OnNotification, $Pipe)
            $splat = @{ Method = $Method; Params = $Params; Pipe = $Pipe }
            if ($OnNotification) { $splat['OnNotification'] = $OnNotification }
            Invoke-HostRpc @splat
        } $Method $Params $OnNotification $Pipe
    }

    function Get-RpcFailure {
        param([string] $Method, [hashtable] $Params = @{}, [string] $Pipe = $socket)
        try {
            $null = Invoke-Rpc -Method $Method -Params $Params -Pipe $Pipe
        }
        catch {
            return Invoke-InWinsHost { param($record) New-HostBrokerErrorRecord -ErrorRecord $record } $_
        }
        throw "'$Method' did not fail."
    }

    function Get-FakeStats {
        Invoke-Rpc -Method 'test/stats'
    }

    function Get-CurrentConnection {
        Invoke-InWinsHost { $script:HostBrokerConnection }
    }

    $script:fake = Start-FakeBroker -SocketPath $socket
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
    foreach ($process in $processes) {
        if (-not $process.HasExited) {
            $process.Kill()
            $null = $process.WaitForExit(5000)
        }
        $process.Dispose()
    }
    Remove-Item -LiteralPath $workDir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Handshake' {
    BeforeAll {
        Disconnect-HostBroker
        $script:connection = Connect-HostBroker -Pipe $socket -PassThru
    }

    It 'returns the caller identity and server info from initialize as a WinsHost.Connection' {
        $connection.PSObject.TypeNames[0] | Should -Be 'WinsHost.Connection'
        $connection.Pipe | Should -Be $socket
        $connection.Profile | Should -Be 'test'
        $connection.Listener | Should -Be 'fake'
        $connection.Uid | Should -Be 1000
        $connection.Pid | Should -Be 4242
        $connection.NetNs | Should -Be 'net:[4026531840]'
        $connection.ServerVersion | Should -Be '9.9.9'
        $connection.ProtocolVersion | Should -Be 1
        $connection.Methods | Should -Contain 'network/adapters'
    }

    It 'keeps caller, capabilities and serverInfo on the connection' {
        $current = Get-CurrentConnection
        $current.Caller.profile | Should -Be 'test'
        $current.Capabilities.methods | Should -Contain 'host/info'
        $current.ServerInfo.name | Should -Be 'fake-broker'
    }

    It 'sends clientInfo with the module version and protocol version 1' {
        $echo = Invoke-Rpc -Method 'test/echo'
        $echo.initialize.clientInfo.name | Should -BeExactly 'WinsHost.PowerShell'
        $echo.initialize.clientInfo.version | Should -Be (Get-Module -Name WinsHost).Version.ToString()
        $echo.initialize.protocolVersion | Should -Be 1
    }

    It 'numbers requests upwards on one reused connection' {
        $before = Get-FakeStats
        $first = Invoke-Rpc -Method 'test/echo' -Params @{ n = 1 }
        $second = Invoke-Rpc -Method 'test/echo' -Params @{ n = 2 }
        $after = Get-FakeStats
        $second.id | Should -Be ($first.id + 1)
        $second.connection | Should -Be $first.connection
        $after.connections | Should -Be $before.connections
        $second.params.n | Should -Be 2
    }

    It 'starts a new connection at id 2, after initialize' {
        Connect-HostBroker -Pipe $socket
        (Invoke-Rpc -Method 'test/echo').id | Should -Be 2
    }

    It 'sends nested params intact' {
        $params = @{ outer = @{ inner = @{ deeper = @{ value = 'x'; list = @(1, 2, 3) } } } }
        $echo = Invoke-Rpc -Method 'test/echo' -Params $params
        $echo.params.outer.inner.deeper.value | Should -Be 'x'
        @($echo.params.outer.inner.deeper.list) | Should -Be @(1, 2, 3)
    }
}

Describe 'Notifications' {
    It 'hands notifications to the callback in order, before the result is returned' {
        $events = New-Object System.Collections.Generic.List[string]
        $callback = { param($Method, $Params) $events.Add(('{0}:{1}' -f $Method, $Params.seq)) }.GetNewClosure()
        $result = Invoke-Rpc -Method 'test/notify' -OnNotification $callback
        $events.Add('result')
        $result.sent | Should -Be 2
        @($events) | Should -Be @('test/progress:1', 'test/progress:2', 'result')
    }

    It 'returns only the result, not what the callback outputs' {
        $result = @(Invoke-Rpc -Method 'test/notify' -OnNotification { 'noise' })
        $result.Count | Should -Be 1
        $result[0].sent | Should -Be 2
    }

    It 'skips notifications without a callback and keeps the connection in step' {
        $before = (Get-CurrentConnection)
        (Invoke-Rpc -Method 'test/notify').sent | Should -Be 2
        (Invoke-Rpc -Method 'test/echo' -Params @{ after = 'notify' }).params.after | Should -Be 'notify'
        [object]::ReferenceEquals($before, (Get-CurrentConnection)) | Should -BeTrue
        (Get-CurrentConnection).IsOpen | Should -BeTrue
    }

    It 'closes the connection when the callback throws, and the next call reconnects' {
        $before = Get-FakeStats
        { Invoke-Rpc -Method 'test/notify' -OnNotification { throw 'callback failed' } } | Should -Throw -ExpectedMessage 'callback failed'
        (Get-CurrentConnection).IsOpen | Should -BeFalse
        $echo = Invoke-Rpc -Method 'test/echo'
        $echo.connection | Should -Be ($before.connections + 1)
    }
}

Describe 'Framing' {
    It 'reassembles a response split mid-header and mid-character across delayed writes' {
        $expected = 'h{0}llo {1} {2}ber' -f [char]0xE9, [char]0x2713, [char]0xFC
        $result = Invoke-Rpc -Method 'test/split'
        $result.text | Should -BeExactly $expected
    }

    It 'reads a body larger than the read buffer' {
        $result = Invoke-Rpc -Method 'test/split' -Params @{ size = 300000 }
        $result.padding.Length | Should -Be 300000
        (Invoke-Rpc -Method 'test/echo' -Params @{ next = 1 }).params.next | Should -Be 1
    }

    It 'sends non-ASCII params as UTF-8 with a byte-accurate Content-Length' {
        $text = 'gr{0}{0}e {1} {2}' -f [char]0xFC, [char]0x4E16, [char]0x2713
        (Invoke-Rpc -Method 'test/echo' -Params @{ text = $text }).params.text | Should -BeExactly $text
    }

    It 'rejects <Case> as WinsHost.ProtocolError and drops the connection' -ForEach @(
        @{ Case = 'a non-digit Content-Length'; Method = 'test/badLength'; Message = '*Content-Length*not a decimal number*' }
        @{ Case = 'a header block over 8 KiB'; Method = 'test/hugeHeader'; Message = '*header block is longer than 8192 bytes*' }
        @{ Case = 'a body that is not JSON'; Method = 'test/badJson'; Message = '*not valid JSON*' }
        @{ Case = 'an unknown header'; Method = 'test/unknownHeader'; Message = "*unexpected header 'X-Extra'*" }
        @{ Case = 'a response to another id'; Method = 'test/wrongId'; Message = '*response with id*' }
    ) {
        $before = Get-FakeStats
        $record = Get-RpcFailure -Method $Method
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProtocolError'
        $record.CategoryInfo.Category | Should -Be 'ProtocolError'
        $record.Exception.Message | Should -BeLike $Message
        $record.Exception.Message | Should -BeLike "*$socket*"
        (Get-CurrentConnection).IsOpen | Should -BeFalse
        # The next call must not read the rest of the broken stream.
        $echo = Invoke-Rpc -Method 'test/echo' -Params @{ fresh = $true }
        $echo.params.fresh | Should -BeTrue
        $echo.connection | Should -Be ($before.connections + 1)
    }
}

Describe 'Errors from the broker' {
    AfterEach {
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'network/routes' }
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'host/info' }
    }

    It 'turns PolicyDenied into WinsHost.PolicyDenied,Get-HostRoute with the rule and the error data' {
        $denied = @{ code = -32001; message = 'network/routes is not granted to profile test.'; data = @{ reason = 'NotGranted'; rule = 'profiles.test.network' } }
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'network/routes'; error = $denied }
        $connectionsBefore = (Get-FakeStats).connections

        $record = $null
        try { Get-HostRoute -Pipe $socket } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Get-HostRoute'
        $record.CategoryInfo.Category | Should -Be 'PermissionDenied'
        $record.Exception.Message | Should -BeLike 'network/routes is not granted to profile test*profiles.test.network*'
        $record.TargetObject | Should -Be 'network/routes'
        $record.Exception.Data['ErrorData']['reason'] | Should -Be 'NotGranted'
        $record.Exception.Data['Code'] | Should -Be -32001
        # An error response is a complete answer: the connection stays.
        (Get-CurrentConnection).IsOpen | Should -BeTrue
        (Get-FakeStats).connections | Should -Be $connectionsBefore
    }

    It 'turns error <Code> into WinsHost.<Name> with category <Category>' -ForEach @(
        @{ Code = -32003; Name = 'NotFound'; Category = 'ObjectNotFound' }
        @{ Code = -32602; Name = 'InvalidParams'; Category = 'InvalidArgument' }
        @{ Code = -32006; Name = 'NotSupportedOnPlatform'; Category = 'NotImplemented' }
        @{ Code = -32050; Name = 'RpcError'; Category = 'NotSpecified' }
    ) {
        $record = Get-RpcFailure -Method 'test/error' -Params @{ code = $Code; message = 'no such thing'; data = @{ reason = 'Because'; field = 'interfaceIndex' } }
        $record.FullyQualifiedErrorId | Should -BeExactly "WinsHost.$Name"
        $record.CategoryInfo.Category | Should -Be $Category
        $record.Exception.Message | Should -Be 'no such thing'
        $record.TargetObject | Should -Be 'test/error'
        $record.Exception.Data['ErrorData']['field'] | Should -Be 'interfaceIndex'
    }

    It 'reports an unknown error code from a public cmdlet as WinsHost.RpcError' {
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'host/info'; error = @{ code = -32099; message = 'new in a later broker' } }
        $record = $null
        try { Get-HostInfo -Pipe $socket } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.RpcError,Get-HostInfo'
        $record.CategoryInfo.Category | Should -Be 'NotSpecified'
    }
}

Describe 'Public cmdlets over the wire' {
    BeforeAll {
        Connect-HostBroker -Pipe $socket
    }

    It 'Get-HostInfo returns the host/info result as WinsHost.HostInfo' {
        $info = Get-HostInfo
        $info.PSObject.TypeNames[0] | Should -Be 'WinsHost.HostInfo'
        $info.HostName | Should -Be 'fake-host'
        $info.BootTime | Should -BeOfType [datetime]
        $info.BootTime.ToUniversalTime() | Should -Be ([datetime]::new(2024, 5, 1, 10, 0, 0, [System.DateTimeKind]::Utc))
        $info.WindowsVersion | Should -BeNullOrEmpty
    }

    It 'Get-HostNetwork asks for the default adapter only' {
        $adapters = @(Get-HostNetwork)
        $adapters.Count | Should -Be 1
        $adapters[0].Name | Should -Be 'eth0'
        $adapters[0].IsDefault | Should -BeTrue
        $adapters[0].IPv4Addresses[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.IPAddress'
    }

    It 'Get-HostNetwork -All returns every adapter' {
        $adapters = @(Get-HostNetwork -All)
        $adapters.Count | Should -Be 2
        $adapters.Name | Should -Be @('lo', 'eth0')
        $adapters | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'WinsHost.NetworkAdapter' }
    }

    It 'Get-HostRoute returns WinsHost.NetworkRoute objects' {
        $routes = @(Get-HostRoute -AddressFamily IPv4)
        $routes.Count | Should -Be 1
        $routes[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.NetworkRoute'
        $routes[0].DestinationPrefix | Should -Be '0.0.0.0/0'
    }

    It 'answers a request from the broker with MethodNotFound instead of leaving it waiting' {
        $result = Invoke-Rpc -Method 'test/serverRequest'
        $result.clientReply.id | Should -Be 'srv-1'
        $result.clientReply.error.code | Should -Be -32601
        (Invoke-Rpc -Method 'test/echo' -Params @{ still = 'in step' }).params.still | Should -Be 'in step'
    }
}

Describe 'Unreachable broker' {
    BeforeEach {
        $script:savedPipe = $env:WINSHOST_PIPE
    }
    AfterEach {
        if ($null -eq $savedPipe) { Remove-Item Env:WINSHOST_PIPE -ErrorAction SilentlyContinue } else { $env:WINSHOST_PIPE = $savedPipe }
    }

    It 'fails at once with WinsHost.ConnectionError naming the missing socket and the mount' {
        $missing = Join-Path $workDir 'missing.sock'
        $record = $null
        $elapsed = Measure-Command {
            try { Connect-HostBroker -Pipe $missing -TimeoutSec 5 } catch { $record = $_ }
        }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Connect-HostBroker'
        $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        $record.Exception | Should -BeOfType [System.IO.IOException]
        $record.Exception.Message | Should -BeLike "*'$missing'*"
        $record.Exception.Message | Should -BeLike "*does not exist*"
        $record.Exception.Message | Should -BeLike "*-v ${workDir}:${workDir}*"
        $record.TargetObject | Should -Be $missing
        $elapsed.TotalSeconds | Should -BeLessThan 3
    }

    It 'times out on a socket nobody listens on' {
        $stale = Join-Path $workDir 'stale.sock'
        Set-Content -LiteralPath $stale -Value ''
        $record = $null
        $elapsed = Measure-Command {
            try { Connect-HostBroker -Pipe $stale -TimeoutSec 2 } catch { $record = $_ }
        }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Connect-HostBroker'
        $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        $record.Exception.Message | Should -BeLike "*'$stale'*no broker answered within 2 seconds*"
        $record.Exception.InnerException | Should -BeOfType [System.TimeoutException]
        $elapsed.TotalSeconds | Should -BeGreaterOrEqual 1.5
        $elapsed.TotalSeconds | Should -BeLessThan 10
    }

    It 'says the pipe came from $env:WINSHOST_PIPE' {
        Disconnect-HostBroker
        $env:WINSHOST_PIPE = Join-Path $workDir 'from-env.sock'
        $record = $null
        try { Get-HostNetwork } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Get-HostNetwork'
        $record.Exception.Message | Should -BeLike "*from-env.sock' (from `$env:WINSHOST_PIPE)*"
    }

    It 'uses $env:WINSHOST_PIPE when there is no connection' {
        Disconnect-HostBroker
        $env:WINSHOST_PIPE = $socket
        (Get-HostInfo).HostName | Should -Be 'fake-host'
        (Get-CurrentConnection).Endpoint.Pipe | Should -Be $socket
    }

    It 'keeps the current connection when Connect-HostBroker fails' {
        Connect-HostBroker -Pipe $socket
        { Connect-HostBroker -Pipe (Join-Path $workDir 'missing.sock') } | Should -Throw
        (Get-HostInfo).HostName | Should -Be 'fake-host'
        (Get-CurrentConnection).Endpoint.Pipe | Should -Be $socket
    }
}

Describe 'Reconnect' {
    BeforeEach {
        Connect-HostBroker -Pipe $socket
    }

    It 'reconnects once and resends when the broker dropped the connection between requests' {
        $before = Get-FakeStats
        (Invoke-Rpc -Method 'test/closeAfterReply').ok | Should -BeTrue
        Start-Sleep -Milliseconds 300
        $echo = Invoke-Rpc -Method 'test/echo' -Params @{ resent = 'yes' }
        $echo.params.resent | Should -Be 'yes'
        $echo.connection | Should -Be ($before.connections + 1)
        $echo.id | Should -Be 2
        $after = Get-FakeStats
        $after.initializes | Should -Be ($before.initializes + 1)
        $after.calls.'test/echo' | Should -Be ($before.calls.'test/echo' + 1)
    }

    It 'reconnects for a public cmdlet too' {
        $null = Invoke-Rpc -Method 'test/closeAfterReply'
        Start-Sleep -Milliseconds 300
        (Get-HostInfo).HostName | Should -Be 'fake-host'
    }

    It 'never resends a request that was sent and lost its response' {
        $before = Get-FakeStats
        $beforeDrops = 0
        if ($before.calls.PSObject.Properties['test/dropWithoutReply']) { $beforeDrops = $before.calls.'test/dropWithoutReply' }
        $record = Get-RpcFailure -Method 'test/dropWithoutReply'
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError'
        $record.Exception.Message | Should -BeLike "*lost while waiting for the response to 'test/dropWithoutReply'*"
        $after = Get-FakeStats
        $after.calls.'test/dropWithoutReply' | Should -Be ($beforeDrops + 1)
    }

    It 'tries to reconnect only once when the broker is gone' {
        $secondSocket = Join-Path $workDir 'second.sock'
        $second = Start-FakeBroker -SocketPath $secondSocket
        Connect-HostBroker -Pipe $secondSocket
        $null = Invoke-Rpc -Method 'test/shutdown' -Pipe $secondSocket
        $second.WaitForExit(5000) | Should -BeTrue

        Mock -ModuleName WinsHost Open-HostRpcConnection {
            throw [System.IO.IOException]::new('still down')
        }
        $record = $null
        try { Get-HostInfo } catch { $record = $_ }
        $record | Should -Not -BeNullOrEmpty
        Should -Invoke Open-HostRpcConnection -ModuleName WinsHost -Times 1 -Exactly
    }

    It 'reports the vanished broker as WinsHost.ConnectionError' {
        $thirdSocket = Join-Path $workDir 'third.sock'
        $third = Start-FakeBroker -SocketPath $thirdSocket
        Connect-HostBroker -Pipe $thirdSocket
        $null = Invoke-Rpc -Method 'test/shutdown' -Pipe $thirdSocket
        $third.WaitForExit(5000) | Should -BeTrue

        $record = $null
        try { Get-HostInfo } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Get-HostInfo'
        $record.Exception.Message | Should -BeLike "*'$thirdSocket'*"
    }
}
