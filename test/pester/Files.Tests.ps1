#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Get-HostChildItem and Get-HostContent with the private RPC function mocked: the params they send, the
# shape of their output (compared with typings/files.ts), pipeline binding, and how Get-HostContent turns
# file/data notifications into lines (decoding across chunks, line ends, tokens, verification).
# Content.Tests.ps1 runs Get-HostContent against the fake broker over a real socket.

BeforeDiscovery {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    $script:listJson = @'
{"entries":[
 {"Name":"logs","FullName":"C:\\data\\logs","Type":"Directory","Length":0,"LastWriteTime":"2024-05-01T10:00:00.000Z","Root":"C:\\data"},
 {"Name":"big.vhdx","FullName":"C:\\data\\big.vhdx","Type":"File","Length":5368709120,"LastWriteTime":"2024-05-02T08:30:15.250Z","Root":"C:\\data"},
 {"Name":"app.log","FullName":"C:\\data\\app.log","Type":"File","Length":1234,"LastWriteTime":"2024-05-03T23:59:59.000Z","Root":"C:\\data"}
]}
'@

    # Plays a file/read the way the broker does: file/data notifications through the client's callback,
    # then the response. -Chunks are the byte arrays to send; the switches falsify the response.
    function Invoke-FakeRead {
        param(
            [System.Collections.IDictionary] $Params,
            [scriptblock] $OnNotification,
            [object[]] $Chunks = @(),
            [long] $StartOffset = 0,
            [switch] $WrongSha,
            [switch] $WrongCount,
            [switch] $ForeignToken,
            [switch] $OtherMethod
        )
        $sha = [System.Security.Cryptography.SHA256]::Create()
        $offset = $StartOffset
        $first = $true
        foreach ($chunk in $Chunks) {
            [byte[]] $bytes = $chunk
            $null = $sha.TransformBlock($bytes, 0, $bytes.Length, $null, 0)
            & $OnNotification 'file/data' ([pscustomobject]@{ token = $Params['token']; offset = $offset; data = [System.Convert]::ToBase64String($bytes) })
            $offset += $bytes.Length
            if ($first -and $ForeignToken) {
                & $OnNotification 'file/data' ([pscustomobject]@{ token = 'someone-else'; offset = 0; data = [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes("FOREIGN`n")) })
            }
            if ($first -and $OtherMethod) {
                & $OnNotification 'file/progress' ([pscustomobject]@{ token = $Params['token']; offset = 0; data = [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes("OTHER`n")) })
            }
            $first = $false
        }
        $null = $sha.TransformFinalBlock([byte[]]::new(0), 0, 0)
        $hex = [System.Convert]::ToHexString($sha.Hash).ToLowerInvariant()
        if ($WrongSha) { $hex = '0' * 64 }
        $count = $offset - $StartOffset
        if ($WrongCount) { $count += 1 }
        [pscustomobject]@{ path = $Params['path']; size = $offset; offset = $StartOffset; bytesRead = $count; sha256 = $hex }
    }

    function Get-Utf8 { param([string] $Text) [System.Text.Encoding]::UTF8.GetBytes($Text) }

    # Splits bytes at the given offsets into chunks.
    function Split-Bytes {
        param([byte[]] $Bytes, [int[]] $At)
        $chunks = New-Object System.Collections.Generic.List[object]
        $start = 0
        foreach ($cut in @($At) + $Bytes.Length) {
            if ($cut -le $start) { continue }
            $chunks.Add([byte[]]$Bytes[$start..($cut - 1)])
            $start = $cut
        }
        , $chunks.ToArray()
    }
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
}

Describe 'Get-HostChildItem' {
    BeforeEach {
        Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $listJson } -ParameterFilter { $Method -eq 'file/list' }
    }

    It 'sends the path, and recurse only with -Recurse' {
        $null = Get-HostChildItem -Path 'C:\data'
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params.Count -eq 1 -and $Params['path'] -ceq 'C:\data' }
        $null = Get-HostChildItem 'C:\data' -Recurse
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params.Count -eq 2 -and $Params['recurse'] -eq $true -and $Params['recurse'] -is [bool] }
    }

    It 'outputs WinsHost.FileEntry objects with exactly the properties of HostFileEntry in typings/files.ts' {
        $expected = Get-TypingsInterfaceProperty -File 'files.ts' -Interface 'HostFileEntry'
        $expected | Should -Be @('Name', 'FullName', 'Type', 'Length', 'LastWriteTime', 'Root')
        $entries = @(Get-HostChildItem -Path 'C:\data')
        $entries.Count | Should -Be 3
        foreach ($entry in $entries) {
            $entry.PSObject.TypeNames[0] | Should -Be 'WinsHost.FileEntry'
            @($entry.PSObject.Properties.Name) | Should -Be $expected
        }
    }

    It 'gives Length as [long] (beyond 2 GiB) and LastWriteTime as a local [datetime]' {
        $entries = @(Get-HostChildItem -Path 'C:\data')
        $entries[1].Length | Should -BeOfType [long]
        $entries[1].Length | Should -Be 5368709120
        $entries[0].Length | Should -Be 0
        $entries[1].LastWriteTime | Should -BeOfType [datetime]
        $entries[1].LastWriteTime.Kind | Should -Be 'Local'
        $entries[1].LastWriteTime.ToUniversalTime() | Should -Be ([datetime]::new(2024, 5, 2, 8, 30, 15, 250, [System.DateTimeKind]::Utc))
        $entries[1].Root | Should -Be 'C:\data'
        $entries[1].FullName | Should -Be 'C:\data\big.vhdx'
    }

    It 'takes paths from the pipeline as strings, one request each' {
        $null = 'C:\a', 'C:\b' | Get-HostChildItem
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 2 -Exactly
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params['path'] -eq 'C:\b' }
    }

    It 'takes FullName (and Path) from piped objects, e.g. its own directories' {
        $null = Get-HostChildItem -Path 'C:\data' | Where-Object Type -EQ 'Directory' | Get-HostChildItem
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params['path'] -ceq 'C:\data\logs' }
        $null = [pscustomobject]@{ Path = 'C:\by-path' } | Get-HostChildItem
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params['path'] -ceq 'C:\by-path' }
    }

    It 'lists several -Path values in order' {
        $null = Get-HostChildItem -Path 'C:\one', 'C:\two'
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 2 -Exactly
    }

    It 'outputs nothing for an empty directory' {
        Mock -ModuleName WinsHost Invoke-HostRpc { [pscustomobject]@{ entries = @() } } -ParameterFilter { $Method -eq 'file/list' }
        @(Get-HostChildItem -Path 'C:\empty').Count | Should -Be 0
    }

    It 'formats as a table of Type, LastWriteTime, Length and Name grouped by directory, without a length for directories' {
        $text = Get-HostChildItem -Path 'C:\data' | Out-String -Width 120
        $text | Should -Match 'Directory: C:\\data'
        $text | Should -Match 'Type\s+LastWriteTime\s+Length\s+Name'
        $text | Should -Match 'File\s+\S+ \S+\s+5368709120 big\.vhdx'
        $text | Should -Match '(?m)^Directory\s+\S+ \S+\s+logs\s*$'
    }

    It 'reports a path outside the roots as a terminating WinsHost.PolicyDenied' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (& (Get-Module WinsHost) { New-HostRpcErrorException -Method 'file/list' -RpcError ([pscustomobject]@{ code = -32001; message = 'C:\Windows is not under a directory this profile may read'; data = [pscustomobject]@{ reason = 'NotUnderRoot'; rule = 'profiles.web.files.roots' } }) })
        } -ParameterFilter { $Method -eq 'file/list' }
        $record = $null
        try { Get-HostChildItem -Path 'C:\Windows' } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Get-HostChildItem'
        $record.CategoryInfo.Category | Should -Be 'PermissionDenied'
    }
}

Describe 'Get-HostContent' {
    BeforeEach {
        $script:chunks = @(, (Get-Utf8 "one`ntwo`n"))
        Mock -ModuleName WinsHost Invoke-HostRpc { Invoke-FakeRead -Params $Params -OnNotification $OnNotification -Chunks $chunks } -ParameterFilter { $Method -eq 'file/read' }
    }

    Context 'what it sends' {
        It 'sends path, a GUID token and lineEncoding utf8, and neither head nor tail by default' {
            $null = Get-HostContent -Path '/var/log/app.log'
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter {
                $guid = [guid]::Empty
                $Params.Count -eq 3 -and $Params['path'] -ceq '/var/log/app.log' -and $Params['lineEncoding'] -ceq 'utf8' -and
                [guid]::TryParse($Params['token'], [ref]$guid) -and -not $Params.Contains('head') -and -not $Params.Contains('tail')
            }
        }

        It 'passes a callback to the client (the file/data notifications must reach it)' {
            $null = Get-HostContent -Path '/x'
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $null -ne $OnNotification }
        }

        It 'uses a new token for every read' {
            $script:tokens = New-Object System.Collections.Generic.List[string]
            Mock -ModuleName WinsHost Invoke-HostRpc {
                $tokens.Add($Params['token'])
                Invoke-FakeRead -Params $Params -OnNotification $OnNotification -Chunks $chunks
            } -ParameterFilter { $Method -eq 'file/read' }
            $null = Get-HostContent -Path '/x'
            $null = Get-HostContent -Path '/x'
            $null = '/y', '/z' | Get-HostContent
            $tokens.Count | Should -Be 4
            @($tokens | Sort-Object -Unique).Count | Should -Be 4
        }

        It 'sends -Tail <Tail> as tail' -ForEach @(@{ Tail = 0 }, @{ Tail = 25 }) {
            $expected = $Tail
            $null = Get-HostContent -Path '/x' -Tail $Tail
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter {
                $Params['tail'] -eq $expected -and $Params['tail'] -is [int] -and -not $Params.Contains('head')
            }
        }

        It 'sends -TotalCount (alias -Head, -First) as head' {
            $null = Get-HostContent -Path '/x' -TotalCount 3
            $null = Get-HostContent -Path '/x' -Head 4
            $null = Get-HostContent -Path '/x' -First 5
            foreach ($count in 3, 4, 5) {
                Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params['head'] -eq $count -and -not $Params.Contains('tail') }
            }
        }

        It 'sends lineEncoding <Wire> for -Encoding <Encoding>' -ForEach @(
            @{ Encoding = 'UTF8'; Wire = 'utf8' }
            @{ Encoding = 'ASCII'; Wire = 'utf8' }
            @{ Encoding = 'Unicode'; Wire = 'utf16le' }
            @{ Encoding = 'unicode'; Wire = 'utf16le' }
        ) {
            $expected = $Wire
            $null = Get-HostContent -Path '/x' -Encoding $Encoding -Tail 1
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params['lineEncoding'] -ceq $expected }
        }

        It 'refuses -Tail with -TotalCount, negative counts and unknown encodings' {
            { Get-HostContent -Path '/x' -Tail 1 -TotalCount 1 } | Should -Throw -ErrorId 'AmbiguousParameterSet,Get-HostContent'
            { Get-HostContent -Path '/x' -Tail -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-HostContent'
            { Get-HostContent -Path '/x' -TotalCount -1 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-HostContent'
            { Get-HostContent -Path '/x' -Encoding UTF32 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-HostContent'
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 0 -Exactly
        }

        It 'has the parameter sets Path (default), Tail and TotalCount' {
            $command = Get-Command Get-HostContent
            @($command.ParameterSets.Name | Sort-Object) | Should -Be @('Path', 'Tail', 'TotalCount')
            $command.DefaultParameterSet | Should -Be 'Path'
            $command.Parameters['Path'].Aliases | Should -Contain 'FullName'
        }

        It 'reads the files piped from Get-HostChildItem by FullName' {
            Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $listJson } -ParameterFilter { $Method -eq 'file/list' }
            $lines = @(Get-HostChildItem -Path 'C:\data' | Where-Object Type -EQ 'File' | Get-HostContent -TotalCount 1)
            $lines | Should -Be @('one', 'two', 'one', 'two')
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'file/read' -and $Params['path'] -ceq 'C:\data\app.log' -and $Params['head'] -eq 1 }
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'file/read' -and $Params['path'] -ceq 'C:\data\big.vhdx' }
        }
    }

    Context 'what it outputs' {
        It 'writes one string per line, without CR or LF, and no empty line after a final newline' {
            $script:chunks = @(, (Get-Utf8 "alpha`r`nbeta`n`ngamma`r`n"))
            $lines = @(Get-HostContent -Path '/x')
            $lines | Should -Be @('alpha', 'beta', '', 'gamma')
            $lines | ForEach-Object { $_ | Should -BeOfType [string] }
        }

        It 'writes a last line that has no newline' {
            $script:chunks = @(, (Get-Utf8 "alpha`nlast"))
            @(Get-HostContent -Path '/x') | Should -Be @('alpha', 'last')
        }

        It 'decodes a character split across chunks (<Case>)' -ForEach @(
            @{ Case = '2-byte e-acute'; Text = "caf$([char]0xE9)`n"; Inside = [string][char]0xE9 }
            @{ Case = '3-byte check mark'; Text = "ok $([char]0x2713) done`n"; Inside = [string][char]0x2713 }
            @{ Case = '4-byte emoji'; Text = "smile $([char]0xD83D)$([char]0xDE00)`n"; Inside = "$([char]0xD83D)$([char]0xDE00)" }
        ) {
            $bytes = Get-Utf8 $Text
            $at = ([System.Text.Encoding]::UTF8.GetBytes($Text.Substring(0, $Text.IndexOf($Inside, [System.StringComparison]::Ordinal)))).Length
            # One byte per chunk through the character: every possible split.
            $script:chunks = Split-Bytes -Bytes $bytes -At @(($at + 1)..($at + [System.Text.Encoding]::UTF8.GetByteCount($Inside)))
            $chunks.Count | Should -BeGreaterThan 2
            @(Get-HostContent -Path '/x') | Should -Be @($Text.TrimEnd("`n"))
        }

        It 'ends a line at a CRLF split between two chunks' {
            $bytes = Get-Utf8 "first`r`nsecond`r`n"
            $script:chunks = Split-Bytes -Bytes $bytes -At @(6, 14)
            [System.Text.Encoding]::UTF8.GetString($chunks[0]) | Should -BeExactly "first`r"
            @(Get-HostContent -Path '/x') | Should -Be @('first', 'second')
        }

        It 'ignores file/data of another token and other notifications' {
            $script:chunks = Split-Bytes -Bytes (Get-Utf8 "one`ntwo`n") -At @(2)
            Mock -ModuleName WinsHost Invoke-HostRpc { Invoke-FakeRead -Params $Params -OnNotification $OnNotification -Chunks $chunks -ForeignToken -OtherMethod } -ParameterFilter { $Method -eq 'file/read' }
            @(Get-HostContent -Path '/x') | Should -Be @('one', 'two')
        }

        It 'drops a UTF-8 byte order mark at the start of the file, also when it is split' {
            $script:chunks = Split-Bytes -Bytes ([byte[]](0xEF, 0xBB, 0xBF) + (Get-Utf8 "text`n")) -At @(1, 2)
            $lines = @(Get-HostContent -Path '/x')
            $lines | Should -Be @('text')
            $lines[0].Length | Should -Be 4
        }

        It 'keeps a U+FEFF that does not start the file (a -Tail read starts later)' {
            Mock -ModuleName WinsHost Invoke-HostRpc { Invoke-FakeRead -Params $Params -OnNotification $OnNotification -Chunks @(, ([byte[]](0xEF, 0xBB, 0xBF) + (Get-Utf8 "x`n"))) -StartOffset 100 } -ParameterFilter { $Method -eq 'file/read' }
            (Get-HostContent -Path '/x' -Tail 1).Length | Should -Be 2
        }

        It 'decodes -Encoding Unicode (UTF-16 LE with BOM) split inside code units and surrogate pairs' {
            $text = "$([char]0xFEFF)alpha`r`nbeta $([char]0xFC)`r`nemoji $([char]0xD83D)$([char]0xDE00)`r`nlast"
            $bytes = [System.Text.Encoding]::Unicode.GetBytes($text)
            $script:chunks = Split-Bytes -Bytes $bytes -At @(1, 3, 15, 16, 17, 41, 43, 45, 46, 47)
            @(Get-HostContent -Path '/x' -Encoding Unicode) | Should -Be @('alpha', "beta $([char]0xFC)", "emoji $([char]0xD83D)$([char]0xDE00)", 'last')
        }

        It 'decodes -Encoding ASCII' {
            $script:chunks = @(, (Get-Utf8 "plain`n"))
            @(Get-HostContent -Path '/x' -Encoding ASCII) | Should -Be @('plain')
        }

        It 'replaces an incomplete character at the end with U+FFFD' {
            $script:chunks = @(, ((Get-Utf8 "cut ") + [byte[]](0xE2, 0x9C)))
            $line = Get-HostContent -Path '/x'
            $line | Should -BeLike 'cut *'
            $line[$line.Length - 1] | Should -Be ([char]0xFFFD)
        }

        It 'returns one string with the newlines for -Raw, written after the response' {
            $script:chunks = Split-Bytes -Bytes (Get-Utf8 "one`r`ntwo`nthree") -At @(4, 9)
            $raw = @(Get-HostContent -Path '/x' -Raw)
            $raw.Count | Should -Be 1
            $raw[0] | Should -BeExactly "one`r`ntwo`nthree"
        }

        It 'returns nothing for an empty file, with and without -Raw' {
            $script:chunks = @()
            @(Get-HostContent -Path '/x').Count | Should -Be 0
            @(Get-HostContent -Path '/x' -Raw).Count | Should -Be 0
        }

        It 'returns bytes with -AsByteStream, and one byte[] with -AsByteStream -Raw' {
            $script:chunks = Split-Bytes -Bytes ([byte[]](1, 2, 10, 255, 0)) -At @(2)
            $bytes = @(Get-HostContent -Path '/x' -AsByteStream)
            $bytes | Should -Be @(1, 2, 10, 255, 0)
            $bytes[0] | Should -BeOfType [byte]
            $raw = Get-HostContent -Path '/x' -AsByteStream -Raw
            , $raw | Should -BeOfType [byte[]]
            $raw | Should -Be @(1, 2, 10, 255, 0)
        }
    }

    Context 'verification' {
        It 'fails with WinsHost.ContentMismatch (InvalidData) when <Case>, after the lines that arrived' -ForEach @(
            @{ Case = 'the SHA-256 differs'; Switch = 'WrongSha'; Message = '*SHA-256*' }
            @{ Case = 'the byte count differs'; Switch = 'WrongCount'; Message = '*bytes*' }
        ) {
            $script:mismatch = @{ $Switch = $true }
            Mock -ModuleName WinsHost Invoke-HostRpc { Invoke-FakeRead -Params $Params -OnNotification $OnNotification -Chunks $chunks @mismatch } -ParameterFilter { $Method -eq 'file/read' }
            $lines = New-Object System.Collections.Generic.List[string]
            $record = $null
            try { Get-HostContent -Path '/srv/x.log' | ForEach-Object { $lines.Add($_) } } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ContentMismatch,Get-HostContent'
            $record.CategoryInfo.Category | Should -Be 'InvalidData'
            $record.Exception | Should -BeOfType [System.IO.InvalidDataException]
            $record.TargetObject | Should -Be '/srv/x.log'
            $record.Exception.Message | Should -BeLike $Message
            $record.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            @($lines) | Should -Be @('one', 'two')
        }

        It 'fails with WinsHost.ContentMismatch when a chunk does not continue where the last one ended' {
            Mock -ModuleName WinsHost Invoke-HostRpc {
                & $OnNotification 'file/data' ([pscustomobject]@{ token = $Params['token']; offset = 0; data = [System.Convert]::ToBase64String((Get-Utf8 "ab`n")) })
                & $OnNotification 'file/data' ([pscustomobject]@{ token = $Params['token']; offset = 10; data = [System.Convert]::ToBase64String((Get-Utf8 "cd`n")) })
                [pscustomobject]@{ path = '/x'; size = 13; offset = 0; bytesRead = 6; sha256 = '0' * 64 }
            } -ParameterFilter { $Method -eq 'file/read' }
            $record = $null
            $lines = @(try { Get-HostContent -Path '/x' } catch { $record = $_ })
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ContentMismatch,Get-HostContent'
            $record.Exception.Message | Should -BeLike '*offset 10*3*'
            $lines | Should -Be @('ab')
        }

        It 'fails with WinsHost.ContentMismatch when the response has no bytesRead or sha256' {
            Mock -ModuleName WinsHost Invoke-HostRpc { [pscustomobject]@{ path = '/x' } } -ParameterFilter { $Method -eq 'file/read' }
            { Get-HostContent -Path '/x' } | Should -Throw -ErrorId 'WinsHost.ContentMismatch,Get-HostContent'
        }

        It 'accepts an upper-case hex SHA-256 and a read that starts at an offset' {
            Mock -ModuleName WinsHost Invoke-HostRpc {
                $result = Invoke-FakeRead -Params $Params -OnNotification $OnNotification -Chunks $chunks -StartOffset 4096
                $result.sha256 = $result.sha256.ToUpperInvariant()
                $result
            } -ParameterFilter { $Method -eq 'file/read' }
            @(Get-HostContent -Path '/x' -Tail 2) | Should -Be @('one', 'two')
        }

        It 'maps the broker''s <Name> to WinsHost.<Name>' -ForEach @(
            @{ Name = 'InvalidParams'; Code = -32602; Category = 'InvalidArgument' }
            @{ Name = 'PolicyDenied'; Code = -32001; Category = 'PermissionDenied' }
            @{ Name = 'NotFound'; Code = -32003; Category = 'ObjectNotFound' }
            @{ Name = 'LimitExceeded'; Code = -32005; Category = 'LimitsExceeded' }
        ) {
            Mock -ModuleName WinsHost Invoke-HostRpc {
                throw (& (Get-Module WinsHost) { New-HostRpcErrorException -Method 'file/read' -RpcError ([pscustomobject]@{ code = $args[0]; message = 'no'; data = [pscustomobject]@{ reason = 'X'; field = 'path' } }) } $Code)
            } -ParameterFilter { $Method -eq 'file/read' }
            $record = $null
            try { Get-HostContent -Path 'relative.txt' } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly "WinsHost.$Name,Get-HostContent"
            $record.CategoryInfo.Category | Should -Be $Category
            $record.TargetObject | Should -Be 'file/read'
        }
    }
}
