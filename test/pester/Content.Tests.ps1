#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Get-HostContent against the fake broker (support/fake-broker.mjs) on a Unix socket: lines stream to the
# pipeline while the read is still going, chunk boundaries inside characters and CRLF, tokens, -Raw, Unicode,
# verification of the byte count and SHA-256, a 5 MB read. Then Get-HostChildItem and the credential spec
# cmdlets over the same wire.

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/FakeBroker.ps1')
    $script:socket = Initialize-FakeBrokerSession
    $script:workDir = Split-Path $socket

    function Invoke-Rpc {
        param([string] $Method, [hashtable] $Params = @{})
        Invoke-FakeBrokerRpc -Method $Method -Params $Params -Pipe $socket
    }

    function Get-Sha256Hex {
        param([byte[]] $Bytes)
        [System.Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
    }

    # The text of /srv/files/crlf.txt and /srv/files/stream.txt in the fake broker.
    $script:crlfText = "first line`r`nsecond line h$([char]0xE9)llo`r`nthird $([char]0x2713) line`nfourth line $([char]0x4E16)$([char]0x754C)`r`nlast line`n"
    $script:crlfLines = @('first line', "second line h$([char]0xE9)llo", "third $([char]0x2713) line", "fourth line $([char]0x4E16)$([char]0x754C)", 'last line')
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
    Stop-FakeBroker
    Remove-Item -LiteralPath $workDir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Get-HostContent streaming' {
    It 'writes each line to the pipeline when its chunk arrives, before the response' {
        # stream.txt: a chunk every 150 ms, then the response 1 s after the last chunk.
        $arrivals = New-Object System.Collections.Generic.List[long]
        $lines = @(Get-HostContent -Path '/srv/files/stream.txt' | ForEach-Object { $arrivals.Add((Get-UnixMilliseconds)); $_ })
        $returnedAt = Get-UnixMilliseconds
        $read = Invoke-Rpc -Method 'test/lastRead'

        $lines | Should -Be $crlfLines
        $arrivals.Count | Should -Be 5
        $read.responseAt | Should -Not -BeNullOrEmpty
        # Every line, the first one included, reached the downstream command well before the broker even sent
        # the response; a client that buffered until the response could not do that.
        foreach ($arrival in $arrivals) {
            $arrival | Should -BeLessThan ($read.responseAt - 500)
        }
        ($returnedAt - $arrivals[0]) | Should -BeGreaterOrEqual 900
        # And one by one as the chunks came, not in one burst after the last chunk.
        ($arrivals[$arrivals.Count - 1] - $arrivals[0]) | Should -BeGreaterOrEqual 300
    }

    It 'stops the read when the pipeline stops, and the next command reconnects' {
        $before = Get-CurrentConnection
        $elapsed = Measure-Command { $first = @(Get-HostContent -Path '/srv/files/stream.txt' | Select-Object -First 1) }
        $first | Should -Be @('first line')
        # The whole read takes about 2 s.
        $elapsed.TotalMilliseconds | Should -BeLessThan 1200
        $before.IsOpen | Should -BeFalse -Because 'the unread rest of the read would otherwise be taken for the next response'
        (Get-HostInfo).HostName | Should -Be 'fake-host'
    }

    It 'gives complete lines in order across chunks split inside characters and CRLF, ignoring another read''s chunk' {
        $lines = @(Get-HostContent -Path '/srv/files/crlf.txt')
        $lines | Should -Be $crlfLines
        $lines | Should -Not -Contain 'NOT THIS READ'
        (Invoke-Rpc -Method 'test/lastRead').chunks | Should -Be 6
    }

    It 'returns the exact text with -Raw' {
        $raw = @(Get-HostContent -Path '/srv/files/crlf.txt' -Raw)
        $raw.Count | Should -Be 1
        $raw[0] | Should -BeExactly $crlfText
    }

    It 'flushes a last line without a newline, also with CRLF split by 3-byte chunks' {
        @(Get-HostContent -Path '/srv/files/partial.txt') | Should -Be @('one', 'two', 'no newline at the end')
    }

    It 'drops a byte order mark split over chunks' {
        $lines = @(Get-HostContent -Path '/srv/files/bom.txt')
        $lines | Should -Be @('with bom', 'second')
        $lines[0].Length | Should -Be 8
    }

    It 'returns nothing for an empty file' {
        @(Get-HostContent -Path '/srv/files/empty.txt').Count | Should -Be 0
        @(Get-HostContent -Path '/srv/files/empty.txt' -Raw).Count | Should -Be 0
    }

    It 'decodes UTF-16 LE with -Encoding Unicode, split inside code units and a surrogate pair' {
        @(Get-HostContent -Path '/srv/files/unicode.txt' -Encoding Unicode) | Should -Be @('alpha', "beta $([char]0xFC)", "gamma $([char]0xD83D)$([char]0xDE00) end", 'delta')
        (Invoke-Rpc -Method 'test/stats').lastParams.'file/read'.lineEncoding | Should -BeExactly 'utf16le'
    }

    It 'has the broker count UTF-16 lines for -Tail with -Encoding Unicode' {
        @(Get-HostContent -Path '/srv/files/unicode.txt' -Encoding Unicode -Tail 2) | Should -Be @("gamma $([char]0xD83D)$([char]0xDE00) end", 'delta')
    }

    It 'sends path, token, head and lineEncoding over the wire' {
        $null = Get-HostContent -Path '/srv/files/lines.txt' -TotalCount 2
        $sent = (Invoke-Rpc -Method 'test/stats').lastParams.'file/read'
        @($sent.PSObject.Properties.Name | Sort-Object) | Should -Be @('head', 'lineEncoding', 'path', 'token')
        $sent.path | Should -BeExactly '/srv/files/lines.txt'
        $sent.head | Should -Be 2
        $sent.lineEncoding | Should -BeExactly 'utf8'
        $sent.token | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        (Invoke-Rpc -Method 'test/lastRead').token | Should -BeExactly $sent.token
    }

    It 'reads <Case>' -ForEach @(
        @{ Case = 'the last lines with -Tail'; Arguments = @{ Tail = 3 }; Expected = @('line 8', 'line 9', 'line 10') }
        @{ Case = 'the first lines with -TotalCount'; Arguments = @{ TotalCount = 2 }; Expected = @('line 1', 'line 2') }
        @{ Case = 'nothing with -Tail 0'; Arguments = @{ Tail = 0 }; Expected = @() }
        @{ Case = 'everything with -TotalCount beyond the end'; Arguments = @{ TotalCount = 99 }; Expected = @(1..10 | ForEach-Object { "line $_" }) }
    ) {
        $arguments = $Arguments.Clone()
        @(Get-HostContent -Path '/srv/files/lines.txt' @arguments) | Should -Be $Expected
    }

    It 'fails with WinsHost.ContentMismatch when <Case>, after streaming the lines, and keeps the connection' -ForEach @(
        @{ Case = 'the SHA-256 is wrong'; File = 'wrongsha.txt'; Message = '*SHA-256*'; Lines = @('one', 'two', 'three') }
        @{ Case = 'bytesRead is wrong'; File = 'wrongcount.txt'; Message = '*sent 15 bytes but 14 arrived*'; Lines = @('one', 'two', 'three') }
        @{ Case = 'a chunk skips bytes'; File = 'gap.txt'; Message = '*offset 5 where 4 was expected*'; Lines = @('one') }
    ) {
        $before = Get-CurrentConnection
        $received = New-Object System.Collections.Generic.List[string]
        $record = $null
        try { Get-HostContent -Path "/srv/files/$File" | ForEach-Object { $received.Add($_) } } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ContentMismatch,Get-HostContent'
        $record.CategoryInfo.Category | Should -Be 'InvalidData'
        $record.TargetObject | Should -Be "/srv/files/$File"
        $record.Exception.Message | Should -BeLike $Message
        @($received) | Should -Be $Lines
        # The response was read: the connection is still in step.
        [object]::ReferenceEquals($before, (Get-CurrentConnection)) | Should -BeTrue
        $before.IsOpen | Should -BeTrue
        @(Get-HostContent -Path '/srv/files/lines.txt' -TotalCount 1) | Should -Be @('line 1')
    }

    It 'reports <Case> as WinsHost.<Name> and keeps the connection' -ForEach @(
        @{ Case = 'a relative path'; Path = 'relative.txt'; Name = 'InvalidParams'; Category = 'InvalidArgument' }
        @{ Case = 'a path outside the roots'; Path = '/etc/passwd'; Name = 'PolicyDenied'; Category = 'PermissionDenied' }
        @{ Case = 'a missing file'; Path = '/srv/files/missing.txt'; Name = 'NotFound'; Category = 'ObjectNotFound' }
    ) {
        $before = Get-CurrentConnection
        $record = $null
        try { Get-HostContent -Path $Path } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly "WinsHost.$Name,Get-HostContent"
        $record.CategoryInfo.Category | Should -Be $Category
        $record.TargetObject | Should -Be 'file/read'
        [object]::ReferenceEquals($before, (Get-CurrentConnection)) | Should -BeTrue
        $before.IsOpen | Should -BeTrue
    }
}

Describe 'Get-HostContent with a large file' {
    BeforeAll {
        # About 5 MB of LF-terminated lines with 2-, 3- and 4-byte characters, in chunks of an odd size, so
        # that many chunk boundaries fall inside characters.
        $script:big = Invoke-Rpc -Method 'test/setFile' -Params @{ path = '/srv/files/big.txt'; generate = @{ bytes = 5MB }; chunkSize = 65521 }
    }

    It 'streams every line of 5 MB in 80+ chunks, and the lines hash to the file''s SHA-256' {
        $big.size | Should -BeGreaterOrEqual 5MB
        $lines = New-Object System.Collections.Generic.List[string]
        Get-HostContent -Path '/srv/files/big.txt' | ForEach-Object { $lines.Add($_) }
        (Invoke-Rpc -Method 'test/lastRead').chunks | Should -BeGreaterOrEqual 80
        $lines.Count | Should -Be $big.lines
        $lines[0] | Should -BeLike '0 *'
        $lines[$lines.Count - 1] | Should -BeLike "$($big.lines - 1) *"
        $text = [string]::Join("`n", $lines) + "`n"
        Get-Sha256Hex -Bytes ([System.Text.Encoding]::UTF8.GetBytes($text)) | Should -Be $big.sha256
    }

    It 'returns the same 5 MB as one string with -Raw and as bytes with -AsByteStream -Raw' {
        $raw = Get-HostContent -Path '/srv/files/big.txt' -Raw
        Get-Sha256Hex -Bytes ([System.Text.Encoding]::UTF8.GetBytes($raw)) | Should -Be $big.sha256
        $bytes = Get-HostContent -Path '/srv/files/big.txt' -AsByteStream -Raw
        $bytes.Length | Should -Be $big.size
        Get-Sha256Hex -Bytes $bytes | Should -Be $big.sha256
    }
}

Describe 'Get-HostChildItem over the wire' {
    It 'lists a directory and, with -Recurse, the tree' {
        $top = @(Get-HostChildItem -Path '/srv/files')
        $top.Name | Should -Be @('logs', 'crlf.txt')
        $top[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.FileEntry'
        $top[0].LastWriteTime | Should -BeOfType [datetime]
        $all = @(Get-HostChildItem -Path '/srv/files' -Recurse)
        $all.FullName | Should -Be @('/srv/files/logs', '/srv/files/crlf.txt', '/srv/files/logs/app.log', '/srv/files/logs/old', '/srv/files/logs/old/app.1.log')
        $all[2].Length | Should -Be 5000000000
        (Invoke-Rpc -Method 'test/stats').lastParams.'file/list'.recurse | Should -BeTrue
    }

    It 'pipes its files to Get-HostContent by FullName' {
        $lines = @(Get-HostChildItem -Path '/srv/files' | Where-Object Type -EQ 'File' | Get-HostContent)
        $lines | Should -Be $crlfLines
    }

    It 'reports a file given as the directory as WinsHost.InvalidParams' {
        { Get-HostChildItem -Path '/srv/files/crlf.txt' } | Should -Throw -ErrorId 'WinsHost.InvalidParams,Get-HostChildItem'
        { Get-HostChildItem -Path '/etc' } | Should -Throw -ErrorId 'WinsHost.PolicyDenied,Get-HostChildItem'
    }
}

Describe 'Credential spec cmdlets over the wire' {
    It 'lists the specs and checks each one through the pipeline' {
        $results = @(Get-HostCredentialSpec -List | Test-HostCredentialSpec)
        $results.Uri | Should -Be @('file://webapp1.json', 'file://broken.json', 'registry://webapp2')
        $results.Valid | Should -Be @($true, $false, $true)
        $results[1].Problems[0].Field | Should -Be 'DomainJoinConfig.Sid'
        @($results[2].Accounts.Resolved) | Should -Be @($false, $false)
        @(Get-HostCredentialSpec -List | Test-HostCredentialSpec -Quiet) | Should -Be @($true, $false, $false)
    }

    It 'gets a spec by -Name as file://NAME, with its domain and distinct accounts' {
        $spec = Get-HostCredentialSpec -Name 'webapp1.json'
        (Invoke-Rpc -Method 'test/stats').lastParams.'credspec/get'.uri | Should -BeExactly 'file://webapp1.json'
        $spec.Domain | Should -Be 'contoso.com'
        $spec.GroupManagedServiceAccounts | Should -Be @('WebApp01')
        $spec.Spec.DomainJoinConfig.NetBiosName | Should -Be 'CONTOSO'
    }

    It 'tests a raw:// spec, whose accounts a Linux host cannot check, as passing -Quiet' {
        $document = '{"CmsPlugins":["ActiveDirectory"],"ActiveDirectoryConfig":{"GroupManagedServiceAccounts":[{"Name":"Raw01","Scope":"contoso.com"}]}}'
        $result = Test-HostCredentialSpec -Uri "raw://$document"
        $result.Source | Should -Be 'raw'
        $null -eq $result.Accounts[0].Resolved | Should -BeTrue
        Test-HostCredentialSpec -Uri "raw://$document" -Quiet | Should -BeTrue
    }

    It 'reports a missing spec as WinsHost.NotFound and an invalid stored one as WinsHost.HostOperationFailed' {
        { Get-HostCredentialSpec -Name 'missing.json' } | Should -Throw -ErrorId 'WinsHost.NotFound,Get-HostCredentialSpec'
        { Test-HostCredentialSpec -Name 'missing.json' -Quiet } | Should -Throw -ErrorId 'WinsHost.NotFound,Test-HostCredentialSpec'
        { Get-HostCredentialSpec -Name 'broken.json' } | Should -Throw -ErrorId 'WinsHost.HostOperationFailed,Get-HostCredentialSpec'
    }
}
