#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Static and unit checks of the WinsHost module: manifest and exports, help, Windows PowerShell 5.1
# syntax, the methods it sends against typings/, pipe selection, and the mapping of errors to ErrorRecords.

BeforeDiscovery {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $moduleRoot = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost')).ProviderPath

    $moduleFiles = @(Get-ChildItem -LiteralPath $moduleRoot -Recurse -File |
            Where-Object { $_.Extension -in '.ps1', '.psm1', '.psd1' } |
            ForEach-Object { @{ Path = $_.FullName; Name = $_.FullName.Substring($moduleRoot.Length + 1) } })
    # Scripts outside the module that Windows PowerShell 5.1 runs too: build.ps1 and the Windows verification.
    $repoRoot = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '../..')).ProviderPath
    $repoScripts = @(@(Get-Item -LiteralPath (Join-Path -Path $repoRoot -ChildPath 'build.ps1')) + @(Get-ChildItem -LiteralPath (Join-Path -Path $repoRoot -ChildPath 'test/windows') -Filter '*.ps1' -File) |
            ForEach-Object { @{ Path = $_.FullName; Name = $_.FullName.Substring($repoRoot.Length + 1) } })
    # Text only: bin/ holds the compiled WinsHost.Client.dll.
    $allModuleFiles = @(Get-ChildItem -LiteralPath $moduleRoot -Recurse -File | Where-Object { $_.Extension -ne '.dll' } |
            ForEach-Object { @{ Path = $_.FullName; Name = $_.FullName.Substring($moduleRoot.Length + 1) } })
    # WinsHost.Testing runs in users' Pester suites, on Windows PowerShell 5.1 too: same syntax and encoding rules.
    $testingRoot = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost.Testing')).ProviderPath
    $moduleFiles += @(Get-ChildItem -LiteralPath $testingRoot -Recurse -File |
            Where-Object { $_.Extension -in '.ps1', '.psm1', '.psd1' } |
            ForEach-Object { @{ Path = $_.FullName; Name = 'WinsHost.Testing/' + $_.FullName.Substring($testingRoot.Length + 1) } })
    $allModuleFiles += @(Get-ChildItem -LiteralPath $testingRoot -Recurse -File |
            ForEach-Object { @{ Path = $_.FullName; Name = 'WinsHost.Testing/' + $_.FullName.Substring($testingRoot.Length + 1) } })
    # Public functions whose output is not a WinsHost object, with their first [OutputType()] (System.Void: none).
    # Invoke-HostCommand writes whatever the remote command wrote (deserialized), as Invoke-Command does.
    $plainOutputTypes = @{
        'Get-HostContent' = 'System.String'; 'Receive-HostProcessOutput' = 'System.String'; 'Remove-ProxyPolicy' = 'System.Void'
        'Invoke-HostCommand' = 'System.Management.Automation.PSObject'; 'Enter-HostSession' = 'System.Void'; 'Exit-HostSession' = 'System.Void'
    }
    $publicFunctions = @(Get-ChildItem -LiteralPath (Join-Path $moduleRoot 'Public') -Filter '*.ps1' -File |
            ForEach-Object { @{ Name = $_.BaseName; Path = $_.FullName; PlainOutputType = $plainOutputTypes[$_.BaseName] } })
    $errorCases = @(Get-TypingsErrorTable | ForEach-Object { @{ Name = $_.Name; Code = $_.Code; Category = $_.Category } })
    # An exited host process (typings/process.ts HostProcessInfo), the answer process/* cmdlets can complete with.
    $exitedProcess = @{
        Id = 4100; Path = '/usr/bin/true'; Arguments = @(); WorkingDirectory = '/'; State = 'Exited'; ExitCode = 0; Signal = $null
        Detached = $false; Exposes = @(); StartTime = '2024-05-01T10:00:00.000Z'; ExitTime = '2024-05-01T10:00:01.000Z'; Rule = 'profiles.test.processes.0'
    }
    # A proxy policy as proxy/add answers it (typings/proxy.ts ProxyPolicy).
    $proxyPolicy = @{ OutboundProxyPort = 15001; Id = 'pp-0123456789ab'; Target = 'net:[4026532000]'; Applied = $true; Created = '2024-05-01T10:00:00.000Z' }
    # Each public cmdlet that calls the broker, with the arguments that make it call each of its methods, and
    # (Result) a response that lets it complete when the default empty object would not; a cmdlet that calls
    # several methods gets Result from each. 'Every broker call of a public function is listed here' below keeps
    # this table complete.
    $rpcCmdlets = @(
        @{ Command = 'Get-HostInfo'; Arguments = @{}; Method = 'host/info' }
        @{ Command = 'Get-HostNetwork'; Arguments = @{ All = $true }; Method = 'network/adapters' }
        @{ Command = 'Get-HostRoute'; Arguments = @{}; Method = 'network/routes' }
        @{ Command = 'Get-HostChildItem'; Arguments = @{ Path = '/srv/files' }; Method = 'file/list' }
        @{ Command = 'Get-HostContent'; Arguments = @{ Path = '/srv/files/empty.txt' }; Method = 'file/read'
            # An empty read: no file/data, and the SHA-256 of no bytes.
            Result = @{ path = '/srv/files/empty.txt'; size = 0; offset = 0; bytesRead = 0; sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }
        }
        @{ Command = 'Get-HostCredentialSpec'; Arguments = @{ List = $true }; Method = 'credspec/list' }
        @{ Command = 'Get-HostCredentialSpec'; Arguments = @{ Name = 'webapp1.json' }; Method = 'credspec/get' }
        @{ Command = 'Test-HostCredentialSpec'; Arguments = @{ Name = 'webapp1.json' }; Method = 'credspec/test' }
        @{ Command = 'Start-HostProcess'; Arguments = @{ FilePath = '/usr/bin/true' }; Method = 'process/start'; Result = $exitedProcess }
        # -Wait: process/start, then process/wait.
        @{ Command = 'Start-HostProcess'; Arguments = @{ FilePath = '/usr/bin/true'; Wait = $true }; Method = 'process/wait'; Result = $exitedProcess }
        @{ Command = 'Get-HostProcess'; Arguments = @{}; Method = 'process/list' }
        @{ Command = 'Wait-HostProcess'; Arguments = @{ Id = 4100 }; Method = 'process/wait'; Result = $exitedProcess }
        @{ Command = 'Receive-HostProcessOutput'; Arguments = @{ Id = 4100 }; Method = 'process/receive' }
        @{ Command = 'Stop-HostProcess'; Arguments = @{ Id = 4100 }; Method = 'process/stop'; Result = $exitedProcess }
        @{ Command = 'Add-ProxyPolicy'; Arguments = @{ OutboundProxyPort = 15001 }; Method = 'proxy/add'; Result = $proxyPolicy }
        @{ Command = 'Get-ProxyPolicy'; Arguments = @{}; Method = 'proxy/list' }
        @{ Command = 'Remove-ProxyPolicy'; Arguments = @{ Id = 'pp-0123456789ab' }; Method = 'proxy/remove'; Result = @{ removed = @('pp-0123456789ab') } }
        @{ Command = 'Remove-ProxyPolicy'; Arguments = @{ All = $true }; Method = 'proxy/remove'; Result = @{ removed = @('pp-0123456789ab') } }
    )
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $script:moduleRoot = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost')).ProviderPath
    $script:manifestPath = Join-Path -Path $moduleRoot -ChildPath 'WinsHost.psd1'
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # Mock bodies run in the test's scope, not the module's: module-private helpers are reached through this.
    function Invoke-InWinsHost {
        # Not an advanced function, so that the arguments after the script block arrive in $args.
        param([scriptblock] $ScriptBlock)
        & (Get-Module -Name WinsHost) $ScriptBlock @args
    }

    # Everything in a file that Windows PowerShell 5.1 cannot parse or run; one string per finding.
    function Find-Ps7OnlySyntax {
        param([Parameter(Mandatory)] [System.Management.Automation.Language.Ast] $Ast)

        $language = 'System.Management.Automation.Language'
        $ternaryType = "$language.TernaryExpressionAst" -as [type]
        $chainType = "$language.PipelineChainAst" -as [type]
        $ps7Parameters = @{
            'ConvertFrom-Json' = @('AsHashtable', 'Depth', 'NoEnumerate', 'DateKind')
            'ConvertTo-Json'   = @('AsArray', 'EnumsAsStrings', 'EscapeHandling')
            'ForEach-Object'   = @('Parallel', 'ThrottleLimit', 'TimeoutSeconds', 'AsJob')
            'Get-Content'      = @('AsByteStream')
            'Set-Content'      = @('AsByteStream')
            'Add-Content'      = @('AsByteStream')
            'Select-String'    = @('Raw', 'NoEmphasis')
            'Out-File'         = @('NoNewline')
            'Get-ChildItem'    = @('FollowSymlink')
            'Split-Path'       = @('Extension', 'LeafBase')
        }
        $ps7Commands = @('Join-String', 'Get-Error', 'Test-Json', 'ConvertFrom-Markdown', 'Show-Markdown', 'Get-Uptime', 'Remove-Alias', 'Clear-RecycleBin')
        $ps7Variables = @('IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR')

        $findings = New-Object System.Collections.Generic.List[string]
        $nodes = $Ast.FindAll({ $true }, $true)
        foreach ($node in $nodes) {
            $where = 'line {0}: ' -f $node.Extent.StartLineNumber
            if ($ternaryType -and $node -is $ternaryType) { $findings.Add($where + 'ternary operator ?:') }
            if ($chainType -and $node -is $chainType) { $findings.Add($where + 'pipeline chain && / ||') }
            if ($node -is [System.Management.Automation.Language.BinaryExpressionAst] -and
                $node.Operator -eq [System.Management.Automation.Language.TokenKind]::QuestionQuestion) {
                $findings.Add($where + 'null-coalescing ??')
            }
            if ($node -is [System.Management.Automation.Language.AssignmentStatementAst] -and
                $node.Operator -eq [System.Management.Automation.Language.TokenKind]::QuestionQuestionEquals) {
                $findings.Add($where + 'null-coalescing assignment ??=')
            }
            if ($node -is [System.Management.Automation.Language.MemberExpressionAst] -and $node.NullConditional) {
                $findings.Add($where + 'null-conditional member access ?.')
            }
            if ($node -is [System.Management.Automation.Language.IndexExpressionAst] -and $node.NullConditional) {
                $findings.Add($where + 'null-conditional index ?[]')
            }
            if ($node -is [System.Management.Automation.Language.ScriptBlockAst] -and $null -ne $node.CleanBlock) {
                $findings.Add($where + 'clean block')
            }
            if ($node -is [System.Management.Automation.Language.VariableExpressionAst] -and $ps7Variables -contains $node.VariablePath.UserPath) {
                $findings.Add($where + ('${0} does not exist in Windows PowerShell 5.1' -f $node.VariablePath.UserPath))
            }
            if ($node -is [System.Management.Automation.Language.CommandAst]) {
                $name = $node.GetCommandName()
                if ($name -and $ps7Commands -contains $name) {
                    $findings.Add($where + "command $name")
                }
                if ($name -and $ps7Parameters.ContainsKey($name)) {
                    foreach ($parameter in $node.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                        foreach ($forbidden in $ps7Parameters[$name]) {
                            if ($forbidden.StartsWith($parameter.ParameterName, [System.StringComparison]::OrdinalIgnoreCase)) {
                                $findings.Add($where + "$name -$($parameter.ParameterName)")
                            }
                        }
                    }
                }
            }
        }
        , $findings.ToArray()
    }

    # The -Method argument of every call to the private RPC entry points: literal strings, or a marker.
    function Find-RpcMethodLiteral {
        param([Parameter(Mandatory)] [System.Management.Automation.Language.Ast] $Ast)
        $calls = $Ast.FindAll({
                param($node)
                $node -is [System.Management.Automation.Language.CommandAst] -and
                $node.GetCommandName() -eq 'Invoke-HostRpc'
            }, $true)
        foreach ($call in $calls) {
            $elements = $call.CommandElements
            $value = '<no -Method>'
            for ($i = 1; $i -lt $elements.Count; $i++) {
                $element = $elements[$i]
                if ($element -is [System.Management.Automation.Language.CommandParameterAst] -and $element.ParameterName -eq 'Method') {
                    $argument = $element.Argument
                    if ($null -eq $argument -and $i + 1 -lt $elements.Count) {
                        $argument = $elements[$i + 1]
                    }
                    if ($argument -is [System.Management.Automation.Language.StringConstantExpressionAst]) {
                        $value = $argument.Value
                    }
                    elseif ($argument -is [System.Management.Automation.Language.VariableExpressionAst] -and $argument.VariablePath.UserPath -eq 'Method' -and
                        (Test-MethodPassThrough -Ast $call)) {
                        # A wrapper forwarding its own -Method; the calls to the wrapper are checked instead.
                        $value = $null
                    }
                    else {
                        $value = "<not a literal: $argument>"
                    }
                }
            }
            if ($null -ne $value) {
                [pscustomobject]@{ Method = $value; Line = $call.Extent.StartLineNumber; Text = $call.Extent.Text; Via = 'Invoke-HostRpc' }
            }
        }
        # Session invocations go straight to the compiled client: $invocation.Invoke(connection, reopen, method, ...).
        $invokes = $Ast.FindAll({
                param($node)
                $node -is [System.Management.Automation.Language.InvokeMemberExpressionAst] -and
                $node.Member -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $node.Member.Value -eq 'Invoke' -and
                $node.Expression -is [System.Management.Automation.Language.VariableExpressionAst] -and $node.Expression.VariablePath.UserPath -eq 'invocation'
            }, $true)
        foreach ($call in $invokes) {
            $value = '<no method argument>'
            if ($call.Arguments.Count -ge 3) {
                $argument = $call.Arguments[2]
                $value = "<not a literal: $argument>"
                if ($argument -is [System.Management.Automation.Language.StringConstantExpressionAst]) {
                    $value = $argument.Value
                }
            }
            [pscustomobject]@{ Method = $value; Line = $call.Extent.StartLineNumber; Text = $call.Extent.Text; Via = 'SessionInvocation' }
        }
    }

    # True when the call sits in a function that declares a -Method parameter of its own.
    function Test-MethodPassThrough {
        param([Parameter(Mandatory)] [System.Management.Automation.Language.Ast] $Ast)
        $parent = $Ast.Parent
        while ($null -ne $parent -and $parent -isnot [System.Management.Automation.Language.FunctionDefinitionAst]) {
            $parent = $parent.Parent
        }
        if ($null -eq $parent) {
            return $false
        }
        $paramBlock = $parent.Body.ParamBlock
        $null -ne $paramBlock -and @($paramBlock.Parameters | Where-Object { $_.Name.VariablePath.UserPath -eq 'Method' }).Count -eq 1
    }
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
}

Describe 'WinsHost manifest' {
    BeforeAll {
        $script:manifest = Test-ModuleManifest -Path $manifestPath -ErrorAction Stop
        $script:data = Import-PowerShellDataFile -LiteralPath $manifestPath
    }

    It 'is a valid manifest for version 0.1.0 with a fixed GUID' {
        $manifest.Version | Should -Be ([version]'0.1.0')
        $manifest.Guid | Should -Not -Be ([guid]::Empty)
        $data.GUID | Should -Match '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
        $data.RootModule | Should -Be 'WinsHost.psm1'
    }

    It 'declares Windows PowerShell 5.1 and PowerShell 7 support' {
        $data.PowerShellVersion | Should -Be '5.1'
        $data.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
    }

    It 'lists exports explicitly, without wildcards, and exports no cmdlets, aliases or variables' {
        $data.FunctionsToExport | Should -Not -BeNullOrEmpty
        $data.FunctionsToExport | Where-Object { $_ -match '[*?]' } | Should -BeNullOrEmpty
        , $data.CmdletsToExport | Should -BeOfType [array]
        @($data.CmdletsToExport).Count | Should -Be 0
        @($data.AliasesToExport).Count | Should -Be 0
        @($data.VariablesToExport).Count | Should -Be 0
    }

    It 'exports exactly the functions in Public/' {
        $publicNames = @(Get-ChildItem -LiteralPath (Join-Path $moduleRoot 'Public') -Filter '*.ps1' -File | ForEach-Object BaseName | Sort-Object)
        @($data.FunctionsToExport | Sort-Object) | Should -Be $publicNames
        @((Get-Module -Name WinsHost).ExportedFunctions.Keys | Sort-Object) | Should -Be $publicNames
        @((Get-Module -Name WinsHost).ExportedAliases.Keys).Count | Should -Be 0
        @((Get-Module -Name WinsHost).ExportedVariables.Keys).Count | Should -Be 0
    }

    It 'processes the format file and has PSData tags' {
        $data.FormatsToProcess | Should -Be 'WinsHost.Format.ps1xml'
        Join-Path $moduleRoot $data.FormatsToProcess | Should -Exist
        $data.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Desktop'
        $data.PrivateData.PSData.Tags | Should -Contain 'PSEdition_Core'
    }

    It 'closes the broker connection when the module is removed' {
        (Get-Module -Name WinsHost).OnRemove | Should -Not -BeNullOrEmpty
        $fake = [WinsHost.RpcConnection]::new($null, [System.IO.Stream][System.IO.MemoryStream]::new(), 5)
        InModuleScope WinsHost -Parameters @{ Fake = $fake } { param($Fake) $script:HostBrokerConnection = $Fake }
        Remove-Module -Name WinsHost -Force
        $fake.IsOpen | Should -BeFalse
        Import-Module -Name $manifestPath -Force -ErrorAction Stop
    }
}

Describe 'Public function <Name>' -ForEach $publicFunctions {
    BeforeAll {
        $script:command = Get-Command -Name $Name -Module WinsHost -ErrorAction Stop
        $script:help = Get-Help -Name $Name -Full
        $script:fileAst = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$null, [ref]$null)
    }

    It 'is the only function its file defines, named like the file' {
        $functions = @($fileAst.FindAll({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false))
        $functions.Count | Should -Be 1
        $functions[0].Name | Should -BeExactly $Name
    }

    It 'is an advanced function with an OutputType and a -Pipe parameter' {
        $command.CmdletBinding | Should -BeTrue
        # Exit-HostSession only ends Enter-HostSession's loop; it talks to no broker.
        if ($Name -ne 'Exit-HostSession') {
            $command.Parameters.Keys | Should -Contain 'Pipe'
        }
        if ($Name -ne 'Disconnect-HostBroker') {
            $outputTypes = @($command.OutputType.Name)
            $outputTypes.Count | Should -BeGreaterOrEqual 1
            if ($PlainOutputType) {
                $outputTypes[0] | Should -Be $PlainOutputType
            }
            else {
                $outputTypes[0] | Should -Match '^WinsHost\.'
            }
        }
    }

    It 'has a format view for every WinsHost type it outputs' {
        [xml]$formats = Get-Content -LiteralPath (Join-Path $moduleRoot 'WinsHost.Format.ps1xml') -Raw
        $viewTypes = @($formats.Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName)
        foreach ($typeName in @($command.OutputType.Name) | Where-Object { $_ -like 'WinsHost.*' }) {
            $viewTypes | Should -Contain $typeName
        }
    }

    It 'has a synopsis, a description and at least one example' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        # Without comment-based help, Get-Help makes the synopsis from the syntax.
        $help.Synopsis | Should -Not -Match ([regex]::Escape($Name))
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 1
        foreach ($example in @($help.Examples.Example)) {
            $example.Code | Should -Not -BeNullOrEmpty
        }
    }

    It 'documents every parameter' {
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        foreach ($parameter in $command.Parameters.Keys | Where-Object { $common -notcontains $_ }) {
            $entry = @($help.Parameters.Parameter | Where-Object Name -EQ $parameter)
            $entry.Count | Should -Be 1 -Because "-$parameter must appear in the help"
            ($entry[0].Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter needs a .PARAMETER description"
        }
    }
}

Describe 'Windows PowerShell 5.1 compatibility' {
    It 'the syntax check finds every PowerShell 7-only construct it looks for' {
        $sample = @'
$a = $b ? 1 : 2
Get-Item x && Get-Item y
$c = $d ?? 3
$e ??= 4
${f}?.Length
${g}?.Trim()
${h}?[0]
if ($IsWindows) { }
ConvertFrom-Json -InputObject '{}' -AsHashtable
ConvertFrom-Json -InputObject '{}' -Depth 5
1 | ForEach-Object -Parallel { $_ }
function k { process { } clean { } }
'@
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($sample, [ref]$null, [ref]$null)
        $findings = Find-Ps7OnlySyntax -Ast $ast
        $expected = @('ternary', 'pipeline chain', 'null-coalescing ??', 'null-coalescing assignment', 'member access ?.',
            'index ?[]', 'IsWindows', 'AsHashtable', 'ConvertFrom-Json -Depth', 'Parallel', 'clean block')
        foreach ($kind in $expected) {
            @($findings | Where-Object { $_.Contains($kind) }).Count | Should -BeGreaterOrEqual 1 -Because "'$kind' must be detected"
        }
        # Two member accesses: ${f}?.Length and ${g}?.Trim() (an InvokeMemberExpressionAst).
        @($findings | Where-Object { $_.Contains('member access ?.') }).Count | Should -Be 2
    }

    It '<Name> parses without errors and uses no PowerShell 7-only syntax' -ForEach $moduleFiles {
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$null, [ref]$errors)
        $errors | Should -BeNullOrEmpty
        Find-Ps7OnlySyntax -Ast $ast | Should -BeNullOrEmpty
    }

    It '<Name> (repository script) parses without errors and uses no PowerShell 7-only syntax' -ForEach $repoScripts {
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$null, [ref]$errors)
        $errors | Should -BeNullOrEmpty
        Find-Ps7OnlySyntax -Ast $ast | Should -BeNullOrEmpty
    }

    It '<Name> is ASCII or has a UTF-8 BOM' -ForEach ($allModuleFiles + $repoScripts) {
        # Windows PowerShell 5.1 reads BOM-less files in the ANSI code page, which mangles any non-ASCII text.
        $bytes = [System.IO.File]::ReadAllBytes($Path)
        $hasBom = $bytes.Length -ge 3 -and $bytes[0] -eq 0xEF -and $bytes[1] -eq 0xBB -and $bytes[2] -eq 0xBF
        if (-not $hasBom) {
            @($bytes | Where-Object { $_ -gt 0x7F }).Count | Should -Be 0
        }
    }
}

Describe 'Methods the module sends' {
    BeforeAll {
        $script:typingsMethods = Get-TypingsMethod
        $script:sent = @(Get-ChildItem -LiteralPath $moduleRoot -Recurse -File -Include '*.ps1', '*.psm1' | ForEach-Object {
                $ast = [System.Management.Automation.Language.Parser]::ParseFile($_.FullName, [ref]$null, [ref]$null)
                Find-RpcMethodLiteral -Ast $ast | Add-Member -NotePropertyName File -NotePropertyValue $_.Name -PassThru
            })
    }

    It 'finds the typings methods and the calls in the module' {
        $typingsMethods | Should -Contain 'initialize'
        $typingsMethods | Should -Contain 'host/info'
        $sent.Count | Should -BeGreaterOrEqual 4
    }

    It 'passes every method as a string literal' {
        $sent | Where-Object { $_.Method -like '<*' } | ForEach-Object { '{0}:{1} {2}' -f $_.File, $_.Line, $_.Method } | Should -BeNullOrEmpty
    }

    It 'sends only methods declared in typings/' {
        $sent | Where-Object { $typingsMethods -notcontains $_.Method } | ForEach-Object { '{0}:{1} {2}' -f $_.File, $_.Line, $_.Method } | Should -BeNullOrEmpty
    }

    It 'sends the methods of the public cmdlets' {
        $methods = @($sent.Method | Sort-Object -Unique)
        foreach ($method in 'initialize', 'host/info', 'network/adapters', 'network/routes', 'file/list', 'file/read', 'credspec/list', 'credspec/get', 'credspec/test',
            'process/start', 'process/list', 'process/wait', 'process/stop', 'process/receive', 'proxy/add', 'proxy/list', 'proxy/remove', 'session/invoke') {
            $methods | Should -Contain $method
        }
    }

    It 'sends every request method declared in typings/ (the module covers the protocol)' {
        # Declared methods this version of the module deliberately does not send, with the reason.
        $notSent = @{
            # Writing to a host process's stdin: no cmdlet yet (Start-HostProcess never asks for stdin: true).
            'process/write' = 'stdin'
        }
        $requests = @(Get-TypingsMessageType | Where-Object Kind -EQ 'Request')
        $requests.Count | Should -BeGreaterOrEqual 9
        $methods = @($sent.Method | Sort-Object -Unique)
        $requests | Where-Object { $methods -notcontains $_.Method -and -not $notSent.ContainsKey($_.Method) } | ForEach-Object { '{0} ({1})' -f $_.Method, $_.File } | Should -BeNullOrEmpty
        # An exemption must name a declared method the module really does not send.
        foreach ($method in $notSent.Keys) {
            $requests.Method | Should -Contain $method
            $methods | Should -Not -Contain $method
        }
    }

    It 'handles every notification declared in typings/ (its method appears as a string literal)' {
        $notifications = @(Get-TypingsMessageType | Where-Object Kind -EQ 'Notification')
        $notifications.Method | Should -Contain 'file/data'
        $literals = @(Get-ChildItem -LiteralPath $moduleRoot -Recurse -File -Include '*.ps1', '*.psm1' | ForEach-Object {
                $ast = [System.Management.Automation.Language.Parser]::ParseFile($_.FullName, [ref]$null, [ref]$null)
                $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.StringConstantExpressionAst] }, $true).Value
            })
        # The compiled part of the module (session/output is taken by WinsHost.SessionOutputSink).
        $clientSources = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost.Client'
        $literals += @(Get-ChildItem -LiteralPath $clientSources -Filter '*.cs' -File | ForEach-Object {
                [regex]::Matches([System.IO.File]::ReadAllText($_.FullName), '"([a-z$][A-Za-z/]+)"') | ForEach-Object { $_.Groups[1].Value }
            })
        $notifications | Where-Object { $literals -cnotcontains $_.Method } | ForEach-Object { '{0} ({1})' -f $_.Method, $_.File } | Should -BeNullOrEmpty
    }

    It 'every Invoke-HostRpc call of a public function is listed in the cmdlet table of these tests' -ForEach @(@{ Table = $rpcCmdlets }) {
        # The table's tests mock Invoke-HostRpc; session invocations (Invoke-HostCommand, Enter-HostSession) go
        # to the compiled client and are tested against a broker in Sessions.Tests.ps1.
        $listed = @($Table | ForEach-Object { '{0} {1}' -f $_.Command, $_.Method })
        $publicCalls = @($sent | Where-Object { $_.Via -eq 'Invoke-HostRpc' -and $_.File -in @(Get-ChildItem -LiteralPath (Join-Path $moduleRoot 'Public') -Filter '*.ps1' -File).Name })
        $publicCalls.Count | Should -BeGreaterOrEqual 8
        $publicCalls | ForEach-Object { '{0} {1}' -f [System.IO.Path]::GetFileNameWithoutExtension($_.File), $_.Method } |
            Where-Object { $listed -notcontains $_ } | Should -BeNullOrEmpty
    }
}

Describe 'Pipe selection' {
    BeforeEach {
        $script:savedPipe = $env:WINSHOST_PIPE
        Remove-Item -Path Env:WINSHOST_PIPE -ErrorAction SilentlyContinue
    }
    AfterEach {
        if ($null -eq $savedPipe) {
            Remove-Item -Path Env:WINSHOST_PIPE -ErrorAction SilentlyContinue
        }
        else {
            $env:WINSHOST_PIPE = $savedPipe
        }
        InModuleScope WinsHost { $script:HostBrokerConnection = $null }
    }

    Context 'on Linux and macOS' {
        BeforeEach {
            Mock -ModuleName WinsHost Test-HostBrokerWindows { $false }
        }

        It 'prefers -Pipe over $env:WINSHOST_PIPE over the default' {
            InModuleScope WinsHost {
                (Resolve-HostBrokerPipe).Pipe | Should -Be '/run/winshost/winshost.sock'
                (Resolve-HostBrokerPipe).Source | Should -Be 'Default'
                $env:WINSHOST_PIPE = '/srv/env/broker.sock'
                (Resolve-HostBrokerPipe).Pipe | Should -Be '/srv/env/broker.sock'
                (Resolve-HostBrokerPipe).Source | Should -Be 'Environment'
                $fromParameter = Resolve-HostBrokerPipe -Pipe '/srv/param/broker.sock'
                $fromParameter.Pipe | Should -Be '/srv/param/broker.sock'
                $fromParameter.Source | Should -Be 'Parameter'
                $fromParameter.PipeName | Should -Be '/srv/param/broker.sock'
                $fromParameter.IsUnixSocket | Should -BeTrue
            }
        }

        It 'normalizes socket paths' {
            InModuleScope WinsHost {
                (Resolve-HostBrokerPipe -Pipe '/run//winshost/../winshost/winshost.sock').Pipe | Should -Be '/run/winshost/winshost.sock'
            }
        }

        It 'rejects <Pipe>, which is not an absolute socket path' -ForEach @(
            @{ Pipe = 'winshost' }
            @{ Pipe = '\\.\pipe\winshost' }
            @{ Pipe = 'relative/broker.sock' }
        ) {
            InModuleScope WinsHost -Parameters @{ Pipe = $Pipe } {
                param($Pipe)
                { Resolve-HostBrokerPipe -Pipe $Pipe } | Should -Throw -ExpectedMessage '*absolute socket path*'
            }
            $record = $null
            try { Get-HostInfo -Pipe $Pipe } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -Be 'WinsHost.InvalidPipe,Get-HostInfo'
            $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
        }
    }

    Context 'on Windows' {
        BeforeEach {
            Mock -ModuleName WinsHost Test-HostBrokerWindows { $true }
        }

        It 'defaults to \\.\pipe\winshost and honours $env:WINSHOST_PIPE' {
            InModuleScope WinsHost {
                $default = Resolve-HostBrokerPipe
                $default.Pipe | Should -Be '\\.\pipe\winshost'
                $default.ServerName | Should -Be '.'
                $default.PipeName | Should -Be 'winshost'
                $default.IsUnixSocket | Should -BeFalse
                $env:WINSHOST_PIPE = 'fromenv'
                (Resolve-HostBrokerPipe).Pipe | Should -Be '\\.\pipe\fromenv'
                (Resolve-HostBrokerPipe -Pipe 'fromparam').Pipe | Should -Be '\\.\pipe\fromparam'
            }
        }

        It 'accepts <Pipe> as pipe <Expected>' -ForEach @(
            @{ Pipe = '\\.\pipe\winshost'; Expected = 'winshost'; Server = '.' }
            @{ Pipe = '//./pipe/winshost'; Expected = 'winshost'; Server = '.' }
            @{ Pipe = 'winshost'; Expected = 'winshost'; Server = '.' }
            @{ Pipe = '\\.\pipe\rancher_wins'; Expected = 'rancher_wins'; Server = '.' }
            @{ Pipe = '\\hostname\pipe\winshost'; Expected = 'winshost'; Server = 'hostname' }
        ) {
            InModuleScope WinsHost -Parameters @{ Pipe = $Pipe; Expected = $Expected; Server = $Server } {
                param($Pipe, $Expected, $Server)
                $endpoint = Resolve-HostBrokerPipe -Pipe $Pipe
                $endpoint.PipeName | Should -BeExactly $Expected
                $endpoint.ServerName | Should -BeExactly $Server
                $endpoint.Pipe | Should -BeExactly ('\\{0}\pipe\{1}' -f $Server, $Expected)
            }
        }

        It 'rejects <Pipe>' -ForEach @(@{ Pipe = 'C:\temp\broker.sock' }, @{ Pipe = '\\.\notapipe\x' }) {
            InModuleScope WinsHost -Parameters @{ Pipe = $Pipe } {
                param($Pipe)
                { Resolve-HostBrokerPipe -Pipe $Pipe } | Should -Throw -ExpectedMessage '*not a pipe name*'
            }
        }

        It 'treats pipe names case-insensitively when comparing connections' {
            InModuleScope WinsHost {
                Test-HostBrokerSamePipe -Left (Resolve-HostBrokerPipe -Pipe 'WinsHost') -Right (Resolve-HostBrokerPipe -Pipe '\\.\pipe\winshost') | Should -BeTrue
            }
        }
    }

    Context 'connection reuse' {
        BeforeEach {
            Mock -ModuleName WinsHost Test-HostBrokerWindows { $false }
            Mock -ModuleName WinsHost Open-HostRpcConnection {
                # Open as far as Get-HostRpcConnection can tell; nothing is sent on it.
                [WinsHost.RpcConnection]::new($Endpoint, [System.IO.Stream][System.IO.MemoryStream]::new(), $TimeoutSec)
            }
        }

        It 'keeps using the current connection without -Pipe and switches when -Pipe names another pipe' {
            InModuleScope WinsHost {
                $env:WINSHOST_PIPE = '/srv/env.sock'
                $first = Get-HostRpcConnection
                $first.Endpoint.Pipe | Should -Be '/srv/env.sock'

                $env:WINSHOST_PIPE = '/srv/other.sock'
                $again = Get-HostRpcConnection
                [object]::ReferenceEquals($first, $again) | Should -BeTrue

                $switched = Get-HostRpcConnection -Pipe '/srv/param.sock'
                $switched.Endpoint.Pipe | Should -Be '/srv/param.sock'
                $first.IsOpen | Should -BeFalse
                $script:HostBrokerConnection | Should -Be $switched
                Should -Invoke Open-HostRpcConnection -Times 2 -Exactly
            }
        }

        It 'reopens a closed connection to the same pipe with its timeout' {
            InModuleScope WinsHost {
                $first = Get-HostRpcConnection -Pipe '/srv/a.sock'
                $first.TimeoutSec = 42
                Close-HostRpcConnection -Connection $first
                $second = Get-HostRpcConnection
                $second.Endpoint.Pipe | Should -Be '/srv/a.sock'
                $second.TimeoutSec | Should -Be 42
            }
        }

        It 'Disconnect-HostBroker forgets the connection, so the next call follows $env:WINSHOST_PIPE again' {
            InModuleScope WinsHost {
                $null = Get-HostRpcConnection -Pipe '/srv/a.sock'
            }
            Disconnect-HostBroker
            $env:WINSHOST_PIPE = '/srv/env.sock'
            InModuleScope WinsHost {
                $script:HostBrokerConnection | Should -BeNullOrEmpty
                (Get-HostRpcConnection).Endpoint.Pipe | Should -Be '/srv/env.sock'
            }
        }

        It 'Disconnect-HostBroker -Pipe leaves a connection to another pipe open' {
            InModuleScope WinsHost { $null = Get-HostRpcConnection -Pipe '/srv/a.sock' }
            Disconnect-HostBroker -Pipe '/srv/b.sock'
            InModuleScope WinsHost { $script:HostBrokerConnection.IsOpen | Should -BeTrue }
            Disconnect-HostBroker -Pipe '/srv/a.sock'
            InModuleScope WinsHost { $script:HostBrokerConnection | Should -BeNullOrEmpty }
        }

        It 'Disconnect-HostBroker without a connection writes no error' {
            Disconnect-HostBroker -ErrorVariable errors
            $errors | Should -BeNullOrEmpty
        }
    }

    Context '<Command> (<Method>) -Pipe' -ForEach $rpcCmdlets {
        It 'passes -Pipe to the client' {
            $response = [pscustomobject]@{}
            if ($null -ne $Result) { $response = [pscustomobject]$Result }
            Mock -ModuleName WinsHost Invoke-HostRpc { $response }
            $expectedMethod = $Method
            $arguments = $Arguments.Clone()
            $null = & $Command @arguments -Pipe '/srv/explicit.sock' -ErrorAction SilentlyContinue
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Pipe -eq '/srv/explicit.sock' -and $Method -eq $expectedMethod }
        }
    }
}

Describe 'Error mapping' {
    AfterEach {
        InModuleScope WinsHost { $script:HostBrokerConnection = $null }
    }

    Context 'JSON-RPC error <Name> (<Code>)' -ForEach $errorCases {
        It 'becomes WinsHost.<Name> with category <Category> from <_.Command> (<_.Method>)' -ForEach $rpcCmdlets {
            # The outer data (the error case) is reachable as $Name/$Code/$Category; the inner as $Command etc.
            # Only the call of $Method fails; the cmdlet's other calls (process/start before process/wait) succeed.
            $response = [pscustomobject]@{}
            if ($null -ne $Result) { $response = [pscustomobject]$Result }
            $failingMethod = $Method
            Mock -ModuleName WinsHost Invoke-HostRpc { $response }
            Mock -ModuleName WinsHost Invoke-HostRpc -ParameterFilter { $Method -eq $failingMethod } {
                $rpcError = [pscustomobject]@{
                    code    = $Code
                    message = 'The broker said no.'
                    data    = [pscustomobject]@{ reason = 'RuleDenied'; rule = 'profiles.default.network' }
                }
                throw (Invoke-InWinsHost { New-HostRpcErrorException -Method $args[0] -RpcError $args[1] } $Method $rpcError)
            }
            $arguments = $Arguments.Clone()
            $record = $null
            # -ErrorAction Stop: the cmdlets that act on several process ids write per-id errors non-terminating.
            try { & $Command @arguments -ErrorAction Stop } catch { $record = $_ }

            $record | Should -Not -BeNullOrEmpty
            $record.FullyQualifiedErrorId | Should -BeExactly "WinsHost.$Name,$Command"
            $record.CategoryInfo.Category | Should -Be $Category
            $record.TargetObject | Should -Be $Method
            $record.Exception.Data['Code'] | Should -Be $Code
            $record.Exception.Data['CodeName'] | Should -Be $Name
            $record.Exception.Data['ErrorData']['reason'] | Should -Be 'RuleDenied'
            $record.Exception.Message | Should -BeLike 'The broker said no*'
            if ($Name -eq 'PolicyDenied') {
                $record.Exception.Message | Should -BeLike '*profiles.default.network*'
            }
            else {
                $record.Exception.Message | Should -Not -BeLike '*policy rule*'
            }
        }
    }

    It 'maps every code in typings/protocol.ts (and only those) to its name and category' {
        $table = Get-TypingsErrorTable
        @($table).Count | Should -BeGreaterOrEqual 12
        InModuleScope WinsHost -Parameters @{ Table = $table } {
            param($Table)
            foreach ($entry in $Table) {
                $info = Get-HostBrokerErrorInfo -Code $entry.Code
                $info.Name | Should -BeExactly $entry.Name
                [string]$info.Category | Should -BeExactly $entry.Category
            }
        }
    }

    It 'maps an unknown code to WinsHost.RpcError' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (Invoke-InWinsHost { New-HostRpcErrorException -Method $args[0] -RpcError ([pscustomobject]@{ code = -32099; message = 'Something new.' }) } $Method)
        }
        $record = $null
        try { Get-HostInfo } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.RpcError,Get-HostInfo'
        $record.CategoryInfo.Category | Should -Be 'NotSpecified'
        $record.Exception.Message | Should -Be 'Something new.'
    }

    It 'maps an unreachable broker to WinsHost.ConnectionError with the pipe and the mount to add' {
        Mock -ModuleName WinsHost Test-HostBrokerWindows { $false }
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (Invoke-InWinsHost {
                    $endpoint = Resolve-HostBrokerPipe -Pipe '/run/winshost/winshost.sock'
                    New-HostBrokerConnectionException -Endpoint $endpoint -Activity 'Cannot connect to the WinsHost broker' -Reason 'the socket does not exist' -MountHint
                })
        }
        $record = $null
        try { Get-HostNetwork } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Get-HostNetwork'
        $record.CategoryInfo.Category | Should -Be 'ConnectionError'
        $record.Exception | Should -BeOfType [System.IO.IOException]
        $record.Exception.Message | Should -BeLike "*'/run/winshost/winshost.sock'*"
        $record.Exception.Message | Should -BeLike '*-v /run/winshost:/run/winshost*'
        $record.Exception.Message | Should -BeLike '*$env:WINSHOST_PIPE*'
        $record.TargetObject | Should -Be '/run/winshost/winshost.sock'
    }

    It 'names the Windows pipe mount for an unreachable Windows broker' {
        Mock -ModuleName WinsHost Test-HostBrokerWindows { $true }
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (Invoke-InWinsHost {
                    New-HostBrokerConnectionException -Endpoint (Resolve-HostBrokerPipe) -Activity 'Cannot connect to the WinsHost broker' -Reason 'no broker answered within 5 seconds' -MountHint
                })
        }
        $record = $null
        try { Get-HostRoute } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Get-HostRoute'
        $record.Exception.Message | Should -BeLike '*-v \\.\pipe\winshost:\\.\pipe\winshost*'
    }

    It 'maps a framing violation to WinsHost.ProtocolError' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (Invoke-InWinsHost { New-HostBrokerException -ErrorId 'ProtocolError' -Category ProtocolError -ExceptionType InvalidData -Message 'bad frame' -Data @{ Method = $args[0] } } $Method)
        }
        $record = $null
        try { Get-HostInfo } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProtocolError,Get-HostInfo'
        $record.CategoryInfo.Category | Should -Be 'ProtocolError'
    }

    It 'passes errors that are not the client''s through unchanged' {
        Mock -ModuleName WinsHost Invoke-HostRpc { throw [System.FormatException]::new('not ours') }
        $record = $null
        try { Get-HostInfo } catch { $record = $_ }
        $record.Exception | Should -BeOfType [System.FormatException]
        $record.FullyQualifiedErrorId | Should -Not -BeLike 'WinsHost.*'
    }
}

Describe 'Formats and help topic' {
    BeforeAll {
        [xml]$script:formats = Get-Content -LiteralPath (Join-Path $moduleRoot 'WinsHost.Format.ps1xml') -Raw
        $script:views = @($formats.Configuration.ViewDefinitions.View)
    }

    It 'has a <Control> view for <TypeName>' -ForEach @(
        @{ TypeName = 'WinsHost.NetworkAdapter'; Control = 'TableControl'; Columns = @('InterfaceIndex', 'Name', 'Status', 'AddressCIDR', 'GatewayAddress', 'MacAddress', 'IsDefault') }
        @{ TypeName = 'WinsHost.NetworkRoute'; Control = 'TableControl'; Columns = @('DestinationPrefix', 'NextHop', 'InterfaceAlias', 'RouteMetric', 'AddressFamily') }
        @{ TypeName = 'WinsHost.HostInfo'; Control = 'ListControl'; Columns = @() }
        @{ TypeName = 'WinsHost.Connection'; Control = 'ListControl'; Columns = @('Pipe', 'Profile', 'Listener', 'ProtocolVersion') }
        @{ TypeName = 'WinsHost.IPAddress'; Control = 'TableControl'; Columns = @() }
        @{ TypeName = 'WinsHost.FileEntry'; Control = 'TableControl'; Columns = @(); Labels = @('Type', 'LastWriteTime', 'Length', 'Name') }
        @{ TypeName = 'WinsHost.CredentialSpecInfo'; Control = 'TableControl'; Columns = @('Source', 'Name', 'Uri', 'Path') }
        @{ TypeName = 'WinsHost.CredentialSpec'; Control = 'ListControl'; Columns = @('Uri', 'Source', 'Name', 'Path', 'Domain', 'GroupManagedServiceAccounts') }
        @{ TypeName = 'WinsHost.CredentialSpecTestResult'; Control = 'ListControl'; Columns = @('Uri', 'Path', 'Valid', 'Problems', 'Accounts') }
        @{ TypeName = 'WinsHost.CredentialSpecProblem'; Control = 'TableControl'; Columns = @('Field', 'Message') }
        @{ TypeName = 'WinsHost.CredentialSpecAccountCheck'; Control = 'TableControl'; Columns = @('Name', 'Scope', 'Resolved', 'Detail') }
        @{ TypeName = 'WinsHost.Process'; Control = 'TableControl'; Columns = @('Id', 'State', 'ExitCode', 'Detached', 'Path') }
        @{ TypeName = 'WinsHost.Process'; Control = 'ListControl'; Columns = @('Id', 'Path', 'Arguments', 'WorkingDirectory', 'State', 'ExitCode', 'Signal', 'Detached', 'Exposes', 'StartTime', 'ExitTime', 'Rule') }
        @{ TypeName = 'WinsHost.ProxyPolicy'; Control = 'TableControl'; Columns = @('Id', 'InboundProxyPort', 'OutboundProxyPort', 'Protocol', 'ExemptUser', 'Applied') }
        @{ TypeName = 'WinsHost.ProxyPolicy'; Control = 'ListControl'; Columns = @('Id', 'Target', 'InboundProxyPort', 'OutboundProxyPort', 'Protocol', 'InboundExceptions', 'OutboundExceptions', 'ExemptUser', 'Priority', 'Applied', 'Created') }
        @{ TypeName = 'WinsHost.ProxyExceptions'; Control = 'TableControl'; Columns = @(); Labels = @('Ports', 'IpAddresses') }
    ) {
        # One view per type and control (WinsHost.Process has a table, its default, and a list).
        $view = @($views | Where-Object { $_.ViewSelectedBy.TypeName -eq $TypeName -and $null -ne $_.$Control })
        $view.Count | Should -Be 1
        $view[0].$Control | Should -Not -BeNullOrEmpty
        if ($Control -eq 'TableControl') {
            $properties = @($view[0].TableControl.TableRowEntries.TableRowEntry.TableColumnItems.TableColumnItem.PropertyName)
            if ($Columns.Count) { $properties | Should -Be $Columns }
            if ($Labels) { @($view[0].TableControl.TableHeaders.TableColumnHeader.Label) | Should -Be $Labels }
        }
        else {
            $properties = @($view[0].ListControl.ListEntries.ListEntry.ListItems.ListItem | ForEach-Object { $_.PropertyName; $_.Label } | Where-Object { $_ })
            foreach ($column in $Columns) { $properties | Should -Contain $column }
        }
        Get-FormatData -TypeName $TypeName | Should -Not -BeNullOrEmpty
    }

    It 'ships about_WinsHost naming every error id' {
        $path = Join-Path $moduleRoot 'en-US/about_WinsHost.help.txt'
        $path | Should -Exist
        $text = Get-Content -LiteralPath $path -Raw
        $text | Should -BeLike '*about_WinsHost*'
        foreach ($id in @('ConnectionError', 'ProtocolError', 'InvalidPipe', 'AdapterNotFound', 'ContentMismatch', 'RpcError', 'ProcessStandardError', 'ProcessNotFound', 'WaitTimeout', 'ProxyPortRequired', 'ProxyPolicyNotFound') + @((Get-TypingsErrorTable).Name)) {
            $text | Should -BeLike "*WinsHost.$id*"
        }
    }
}
