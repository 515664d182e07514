# The module's compiled core (PSModule/WinsHost.Client): JSON and the framed connection, tested directly.
# The cmdlet suites (Client.Tests.ps1 and the others) cover the same code through a fake broker.

BeforeAll {
    $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # A connected pair of Unix sockets: the connection under test on one end, the test playing the broker.
    # -AsStream hands the connection a Stream instead of the Socket: the asynchronous reads a Windows pipe gets.
    function New-SocketPair([switch] $AsStream) {
        $path = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('winshost-pair-{0}.sock' -f [guid]::NewGuid().ToString('N'))
        $listener = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
        $listener.Bind([System.Net.Sockets.UnixDomainSocketEndPoint]::new($path))
        $listener.Listen(1)
        $client = [System.Net.Sockets.Socket]::new('Unix', 'Stream', 'Unspecified')
        $client.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($path))
        $server = $listener.Accept()
        $listener.Dispose()
        [System.IO.File]::Delete($path)
        $endpoint = [pscustomobject]@{ Pipe = $path }
        if ($AsStream) {
            $connection = [WinsHost.RpcConnection]::new($endpoint, [System.IO.Stream][System.Net.Sockets.NetworkStream]::new($client, $true), 5)
        }
        else {
            $connection = [WinsHost.RpcConnection]::new($endpoint, $client, 5)
        }
        [pscustomobject]@{ Connection = $connection; Broker = $server; Client = $client }
    }

    # What a .NET method threw: PowerShell wraps it in a MethodInvocationException.
    function Get-ThrownBy([scriptblock] $Action) {
        try {
            $null = & $Action
        }
        catch {
            return $_.Exception.InnerException
        }
        throw 'nothing was thrown'
    }

    function Send-Raw([System.Net.Sockets.Socket] $Socket, [string] $Text) {
        $null = $Socket.Send([System.Text.Encoding]::UTF8.GetBytes($Text))
    }

    function Get-Frame([string] $Json) {
        ('Content-Length: {0}' -f [System.Text.Encoding]::UTF8.GetByteCount($Json)) + "`r`n`r`n" + $Json
    }

    # What the broker side received, as text, waiting briefly for it.
    function Receive-Raw([System.Net.Sockets.Socket] $Socket) {
        $buffer = [byte[]]::new(65536)
        if (-not $Socket.Poll(5000000, [System.Net.Sockets.SelectMode]::SelectRead)) {
            return ''
        }
        $count = $Socket.Receive($buffer)
        [System.Text.Encoding]::UTF8.GetString($buffer, 0, $count)
    }

}

Describe 'WinsHost.RpcJson' {
    It 'parses objects as ConvertFrom-Json does: PSCustomObject, long, double, string, bool, null, object[]' {
        $value = [WinsHost.RpcJson]::Parse('{"a":1,"b":12345678901,"c":1.5,"d":"2026-11-30T15:00:00Z","e":[1,"x",null],"f":{},"g":[],"h":true,"i":-2e3}')
        $value | Should -BeOfType [System.Management.Automation.PSCustomObject]
        $value.a | Should -BeOfType [long]
        $value.b | Should -Be 12345678901
        $value.c | Should -BeOfType [double]
        # Left a string, as Windows PowerShell leaves it; the module converts dates where it expects them.
        $value.d | Should -BeOfType [string]
        , $value.e | Should -BeOfType [object[]]
        $value.e.Count | Should -Be 3
        $value.f | Should -BeOfType [System.Management.Automation.PSCustomObject]
        , $value.g | Should -BeOfType [object[]]
        $value.g.Count | Should -Be 0
        $value.h | Should -BeTrue
        $value.i | Should -Be -2000
    }

    It 'decodes escapes, including \u and surrogate pairs' {
        $value = [WinsHost.RpcJson]::Parse('"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"')
        $value | Should -BeExactly ("a`"b\c/d`n`t" + [char]0xE9 + [char]::ConvertFromUtf32(0x1F600))
    }

    It 'refuses <Name>' -ForEach @(
        @{ Name = 'text after the value'; Json = '{} {}'; Reason = 'text after' }
        @{ Name = 'a property named twice, in any case'; Json = '{"id":1,"ID":2}'; Reason = 'appears twice' }
        @{ Name = 'a number with a leading zero'; Json = '[01]'; Reason = 'leading zero' }
        @{ Name = 'a raw control character in a string'; Json = "`"a`tb`""; Reason = 'control character' }
        @{ Name = 'an unknown escape'; Json = '"\q"'; Reason = 'unknown escape' }
        @{ Name = 'a truncated object'; Json = '{"a":1'; Reason = 'end of text' }
        @{ Name = 'a bare word'; Json = 'nul'; Reason = 'unknown literal' }
    ) {
        $thrown = Get-ThrownBy { [WinsHost.RpcJson]::Parse($Json) }
        $thrown | Should -BeOfType [System.FormatException]
        $thrown.Message | Should -BeLike "*$Reason*"
    }

    It 'refuses nesting deeper than it allows instead of overflowing the stack' {
        $deep = ('[' * 100000) + (']' * 100000)
        $thrown = Get-ThrownBy { [WinsHost.RpcJson]::Parse($deep) }
        $thrown | Should -BeOfType [System.FormatException]
        $thrown.Message | Should -BeLike '*nesting deeper than 128 levels*'
    }

    It 'writes dictionaries in their order, with strings escaped for any JSON reader' {
        $message = [ordered]@{ z = 1; a = "q`"b\`n`u{2028}`u{1}"; list = @(1, 'two', $null, $true); nested = @{ x = 1.5 } }
        [WinsHost.RpcJson]::Serialize($message) | Should -BeExactly '{"z":1,"a":"q\"b\\\n\u2028\u0001","list":[1,"two",null,true],"nested":{"x":1.5}}'
    }

    It 'writes enums as numbers and switches as booleans, PSCustomObjects as objects' {
        $value = [ordered]@{ category = [System.Management.Automation.ErrorCategory]::PermissionDenied; force = [switch]$true; info = [pscustomobject]@{ a = 'b' } }
        [WinsHost.RpcJson]::Serialize($value) | Should -BeExactly ('{{"category":{0},"force":true,"info":{{"a":"b"}}}}' -f [int][System.Management.Automation.ErrorCategory]::PermissionDenied)
    }

    It 'refuses values JSON cannot carry: <Name>' -ForEach @(
        @{ Name = 'NaN'; Value = [double]::NaN; Reason = 'no representation' }
        @{ Name = 'an arbitrary .NET object'; Value = [System.IO.FileInfo]::new('/tmp'); Reason = 'System.IO.FileInfo cannot be sent' }
    ) {
        $thrown = Get-ThrownBy { [WinsHost.RpcJson]::Serialize(@{ value = $Value }) }
        $thrown | Should -BeOfType [System.ArgumentException]
        $thrown.Message | Should -BeLike "*$Reason*"
    }

    It 'gives back what it wrote' {
        $text = [WinsHost.RpcJson]::Serialize([ordered]@{ id = 7; params = [ordered]@{ script = "Get-Date`n'x'"; depth = 2; tags = @('a', 'b') } })
        $back = [WinsHost.RpcJson]::Parse($text)
        $back.id | Should -Be 7
        $back.params.script | Should -BeExactly "Get-Date`n'x'"
        $back.params.tags | Should -Be @('a', 'b')
    }
}

Describe 'WinsHost.RpcConnection over <Mode>' -ForEach @(
    @{ Mode = 'a socket (Poll, then a synchronous read)'; AsStream = $false }
    @{ Mode = 'a stream (asynchronous reads, as a Windows pipe)'; AsStream = $true }
) {
    BeforeEach {
        $pair = New-SocketPair -AsStream:$AsStream
        $connection = $pair.Connection
        $broker = $pair.Broker
    }
    AfterEach {
        $connection.Close()
        $broker.Dispose()
    }

    It 'returns nothing for a message not yet whole, and the message once the rest arrives' {
        $frame = Get-Frame '{"jsonrpc":"2.0","id":1,"result":{"ok":true}}'
        Send-Raw $broker $frame.Substring(0, 30)
        $connection.ReadMessage(50) | Should -BeNullOrEmpty
        Send-Raw $broker $frame.Substring(30)
        $message = $connection.ReadMessage(5000)
        $message.id | Should -Be 1
        $message.result.ok | Should -BeTrue
    }

    It 'returns nothing while no byte has come, and the next call takes over the wait' {
        $connection.ReadMessage(20) | Should -BeNullOrEmpty
        $connection.ReadMessage(0) | Should -BeNullOrEmpty
        Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","method":"late"}')
        $connection.ReadMessage(5000).method | Should -Be 'late'
    }

    It 'takes two messages that arrive in one write, in order' {
        Send-Raw $broker ((Get-Frame '{"jsonrpc":"2.0","method":"a"}') + (Get-Frame '{"jsonrpc":"2.0","method":"b"}'))
        $connection.ReadMessage(5000).method | Should -Be 'a'
        $connection.ReadMessage(0).method | Should -Be 'b'
    }

    It 'hands notifications to the sink in order, answers a broker request with -32601, then returns the response' {
        $seen = [System.Collections.Generic.List[string]]::new()
        $sink = [WinsHost.ScriptBlockNotificationSink]::new({ param($Method, $Params) $seen.Add($Method + ':' + [string]$Params.n) }.GetNewClosure())
        $id = $connection.SendRequest('host/info', @{})
        $request = Receive-Raw $broker
        $request | Should -Match '"method":"host/info"'
        $request | Should -Match ('"id":{0}' -f $id)
        Send-Raw $broker ((Get-Frame '{"jsonrpc":"2.0","method":"n","params":{"n":1}}') +
            (Get-Frame '{"jsonrpc":"2.0","id":"srv-1","method":"client/ask"}') +
            (Get-Frame '{"jsonrpc":"2.0","method":"n","params":{"n":2}}') +
            (Get-Frame ('{{"jsonrpc":"2.0","id":{0},"result":[1,2]}}' -f $id)))
        $response = $connection.ReceiveResponse($id, 'host/info', 5000, $sink)
        $response.HasResult | Should -BeTrue
        $response.Result | Should -Be @(1, 2)
        $seen | Should -Be @('n:1', 'n:2')
        Receive-Raw $broker | Should -Match '"id":"srv-1","error":\{"code":-32601'
    }

    It 'returns an error response with its error object, and a response without result or error as such' {
        $id = $connection.SendRequest('x', $null)
        Send-Raw $broker (Get-Frame ('{{"jsonrpc":"2.0","id":{0},"error":{{"code":-32001,"message":"no"}}}}' -f $id))
        $response = $connection.ReceiveResponse($id, 'x', 5000, $null)
        $response.Error.code | Should -Be -32001
        $id = $connection.SendRequest('y', $null)
        Send-Raw $broker (Get-Frame ('{{"jsonrpc":"2.0","id":{0}}}' -f $id))
        $connection.ReceiveResponse($id, 'y', 5000, $null).HasResult | Should -BeFalse
    }

    It 'reports <Name> as <Failure>' -ForEach @(
        @{ Name = 'a response to another request'; Wire = '{"jsonrpc":"2.0","id":99,"result":1}'; Failure = 'Protocol'; Reason = 'sent a response with id 99 while request 1 (''m'') was outstanding' }
        @{ Name = 'a body that is not JSON-RPC 2.0'; Wire = '{"jsonrpc":"1.0","id":1,"result":1}'; Failure = 'Framing'; Reason = 'the message is not JSON-RPC 2.0' }
        @{ Name = 'a body that is not an object'; Wire = '[1]'; Failure = 'Framing'; Reason = 'the body is not a JSON object' }
    ) {
        $id = $connection.SendRequest('m', $null)
        $null = Receive-Raw $broker
        Send-Raw $broker (Get-Frame $Wire)
        $caught = Get-ThrownBy { $connection.ReceiveResponse($id, 'm', 5000, $null) }
        $caught | Should -BeOfType [WinsHost.RpcTransportException]
        [string]$caught.Failure | Should -Be $Failure
        $caught.Reason | Should -BeExactly $Reason
    }

    It 'reports a broker that goes away in the middle of a body as Lost, with how much arrived' {
        Send-Raw $broker "Content-Length: 10`r`n`r`n{`"a"
        $broker.Shutdown('Send')
        $caught = Get-ThrownBy { $connection.ReadMessage(5000) }
        [string]$caught.Failure | Should -Be 'Lost'
        $caught.Reason | Should -BeExactly 'the broker closed the connection after 3 of 10 body bytes'
    }

    It 'is closed after Close: reads say Lost, writes say SendFailed, and nothing is sent' {
        $connection.Close()
        $connection.IsOpen | Should -BeFalse
        $connection.Close()
        $read = Get-ThrownBy { $connection.ReadMessage(10) }
        [string]$read.Failure | Should -Be 'Lost'
        $write = Get-ThrownBy { $connection.SendRequest('x', $null) }
        [string]$write.Failure | Should -Be 'SendFailed'
        $broker.Poll(200000, [System.Net.Sockets.SelectMode]::SelectRead) | Should -BeTrue
        $broker.Receive([byte[]]::new(16)) | Should -Be 0
    }

    Context 'Call and Wait' {
        It 'sends the request, fills the request table before the send, marks it answered and returns the response' {
            $request = @{}
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","id":1,"result":{"ok":true}}')
            $response = $connection.Call('host/info', @{}, $null, $null, $null, [datetime]::MaxValue, $request, $false)
            $response.Result.ok | Should -BeTrue
            $request['Connection'] | Should -Be $connection
            $request['Id'] | Should -Be 1
            $request['Method'] | Should -Be 'host/info'
            $request['Answered'] | Should -BeTrue
            $response.Connection | Should -Be $connection
            Receive-Raw $broker | Should -Match '"id":1,"method":"host/info"'
        }

        It 'returns an error response as a response, and keeps the connection' {
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"no"}}')
            $response = $connection.Call('x', $null, $null, $null, $null, [datetime]::MaxValue, $null, $false)
            $response.Error.code | Should -Be -32001
            $connection.IsOpen | Should -BeTrue
        }

        It 'refuses a response with neither result nor error as Protocol and closes the connection' {
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","id":1}')
            $caught = Get-ThrownBy { $connection.Call('y', $null, $null, $null, $null, [datetime]::MaxValue, $null, $true) }
            [string]$caught.Failure | Should -Be 'Protocol'
            $caught.Reason | Should -BeExactly "answered 'y' with neither a result nor an error"
            # The module's message names the pipe and the method from these.
            $caught.Connection | Should -Be $connection
            $caught.Method | Should -BeExactly 'y'
            $connection.IsOpen | Should -BeFalse
        }

        It 'gives up at the deadline as TimedOut and closes the connection, even when asked to keep it' {
            $caught = Get-ThrownBy { $connection.Call('slow', $null, $null, $null, $null, [datetime]::UtcNow.AddMilliseconds(150), $null, $true) }
            [string]$caught.Failure | Should -Be 'TimedOut'
            $caught.InnerException | Should -BeOfType [System.TimeoutException]
            $caught.Reason | Should -BeExactly 'no response within 5 seconds'
            $connection.IsOpen | Should -BeFalse
        }

        It 'calls onSlice after each slice without the response; what it throws ends the wait, and -keepOpen keeps the connection' {
            $slices = [System.Collections.Generic.List[int]]::new()
            $onSlice = { $slices.Add(1); if ($slices.Count -ge 2) { throw 'enough' } }.GetNewClosure()
            $request = @{}
            $caught = Get-ThrownBy { $connection.Call('slow', $null, $null, $null, $onSlice, [datetime]::MaxValue, $request, $true) }
            $caught.Message | Should -Match 'enough'
            $slices.Count | Should -Be 2
            $request['Answered'] | Should -BeFalse
            $connection.IsOpen | Should -BeTrue
            # The caller owes the connection the end of that request, and can still read it.
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","id":1,"result":7}')
            $connection.Wait(1, 'slow', $null, $null, $null, [datetime]::MaxValue, $request, $false).Result | Should -Be 7
            $request['Answered'] | Should -BeTrue
        }

        It 'closes the connection when the send fails' {
            $pair.Client.Shutdown('Send')
            $caught = Get-ThrownBy { $connection.Call('x', $null, $null, $null, $null, [datetime]::MaxValue, $null, $true) }
            [string]$caught.Failure | Should -Be 'SendFailed'
            $caught.Connection | Should -Be $connection
            $caught.Method | Should -BeExactly 'x'
            $connection.IsOpen | Should -BeFalse
        }

        It 'ends when the calling command is stopped, closing the connection unless asked to keep it (keep: <KeepOpen>)' -ForEach @(
            @{ KeepOpen = $false }
            @{ KeepOpen = $true }
        ) {
            $shell = [powershell]::Create()
            try {
                $null = $shell.AddScript({
                        param($Connection, $KeepOpen)
                        function Test-Wait {
                            [CmdletBinding()]
                            param()
                            # A wait that ignored the stop would end here as TimedOut, which closes the connection.
                            $Connection.Call('slow', $null, $null, $PSCmdlet, $null, [datetime]::UtcNow.AddSeconds(20), $null, $KeepOpen)
                        }
                        Test-Wait
                    }).AddArgument($connection).AddArgument($KeepOpen)
                $running = $shell.BeginInvoke()
                $null = Receive-Raw $broker
                $shell.Stop()
                $shell.InvocationStateInfo.State | Should -Be 'Stopped'
                $running.IsCompleted | Should -BeTrue
            }
            finally {
                $shell.Dispose()
            }
            $connection.IsOpen | Should -Be $KeepOpen
        }
    }

    Context 'RpcExchange and CancelRequest' {
        BeforeEach {
            $other = New-SocketPair -AsStream:$AsStream
            $reopened = [System.Collections.Generic.List[object]]::new()
            $reopen = { $reopened.Add(1); $other.Connection }.GetNewClosure()
        }
        AfterEach {
            $other.Connection.Close()
            $other.Broker.Dispose()
        }

        It 'sends once more on the connection reopen gives when the send failed' {
            $pair.Client.Shutdown('Send')
            Send-Raw $other.Broker (Get-Frame '{"jsonrpc":"2.0","id":1,"result":"resent"}')
            $request = @{}
            $response = [WinsHost.RpcExchange]::Call($connection, $reopen, 'x', $null, $null, $null, $null, [datetime]::MaxValue, $request, $false)
            $response.Result | Should -Be 'resent'
            $response.Connection | Should -Be $other.Connection
            $request['Connection'] | Should -Be $other.Connection
            $reopened.Count | Should -Be 1
            $connection.IsOpen | Should -BeFalse
        }

        It 'throws the failed send without reopen, and what reopen throws as itself' {
            $pair.Client.Shutdown('Send')
            $caught = Get-ThrownBy { [WinsHost.RpcExchange]::Call($connection, $null, 'x', $null, $null, $null, $null, [datetime]::MaxValue, $null, $false) }
            [string]$caught.Failure | Should -Be 'SendFailed'

            $down = { throw [System.IO.FileNotFoundException]::new('still down') }
            $caught = Get-ThrownBy { [WinsHost.RpcExchange]::Call($connection, $down, 'x', $null, $null, $null, $null, [datetime]::MaxValue, $null, $false) }
            $caught | Should -BeOfType [System.IO.FileNotFoundException]
            $caught.Message | Should -BeExactly 'still down'
        }

        It 'never sends again a request whose response was lost' {
            # The broker takes the request and ends its side before answering.
            $broker.Shutdown('Send')
            $caught = Get-ThrownBy { [WinsHost.RpcExchange]::Call($connection, $reopen, 'x', $null, $null, $null, $null, [datetime]::MaxValue, $null, $false) }
            [string]$caught.Failure | Should -Be 'Lost'
            $reopened.Count | Should -Be 0
        }

        It 'cancels an abandoned request and reads its end, keeping the connection in step' {
            $request = @{}
            $abandon = { throw 'abandoned' }
            $null = Get-ThrownBy { $connection.Call('slow', $null, $null, $null, $abandon, [datetime]::MaxValue, $request, $true) }
            $request['Answered'] | Should -BeFalse
            $null = Receive-Raw $broker
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","method":"session/output","params":{}}')
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","id":1,"error":{"code":-32800,"message":"cancelled"}}')
            $connection.CancelRequest($request, [datetime]::UtcNow.AddSeconds(5)) | Should -BeTrue
            $request['Answered'] | Should -BeTrue
            $connection.IsOpen | Should -BeTrue
            Receive-Raw $broker | Should -Match '"method":"\$/cancelRequest","params":\{"id":1\}'
            # In step: the next request gets its own answer.
            Send-Raw $broker (Get-Frame '{"jsonrpc":"2.0","id":2,"result":"next"}')
            $connection.Call('next', $null, $null, $null, $null, [datetime]::MaxValue, $null, $false).Result | Should -Be 'next'
        }

        It 'closes the connection when the abandoned request does not end by the deadline, and leaves an answered one alone' {
            $request = @{}
            $abandon = { throw 'abandoned' }
            $null = Get-ThrownBy { $connection.Call('slow', $null, $null, $null, $abandon, [datetime]::MaxValue, $request, $true) }
            $connection.CancelRequest($request, [datetime]::UtcNow.AddMilliseconds(150)) | Should -BeFalse
            $connection.IsOpen | Should -BeFalse

            $answered = @{ Connection = $other.Connection; Id = 1; Method = 'done'; Answered = $true }
            $other.Connection.CancelRequest($answered, [datetime]::UtcNow.AddSeconds(5)) | Should -BeTrue
            $other.Broker.Poll(100000, [System.Net.Sockets.SelectMode]::SelectRead) | Should -BeFalse
        }
    }
}
