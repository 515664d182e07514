#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# WinsHost.Testing on its own: manifest and help, starting and stopping test brokers (environment, cleanup,
# errors), the audit log reader and the command-line quoting. The example suite under examples/ shows it in use.
# Module.Tests.ps1 checks the module's files for Windows PowerShell 5.1 syntax.

BeforeDiscovery {
    $testingRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../../PSModule/WinsHost.Testing')).ProviderPath
    $publicFunctions = @(Get-ChildItem -LiteralPath (Join-Path $testingRoot 'Public') -Filter '*.ps1' -File | ForEach-Object { @{ Name = $_.BaseName } })
}

BeforeAll {
    $script:testingRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../../PSModule/WinsHost.Testing')).ProviderPath
    $script:manifestPath = Join-Path $testingRoot 'WinsHost.Testing.psd1'
    Get-Module -Name WinsHost, WinsHost.Testing | Remove-Module -Force
    Import-Module (Join-Path $PSScriptRoot '../../PSModule/WinsHost/WinsHost.psd1') -Force
    Import-Module $manifestPath -Force
    $script:readerPolicy = @{ profiles = @{ reader = @{ host = @{ read = $true }; network = @{ read = $true } } } }
}

AfterAll {
    Stop-WinsHostTestBroker
    Get-Module -Name WinsHost, WinsHost.Testing | Remove-Module -Force
}

Describe 'WinsHost.Testing manifest' {
    It 'is a valid manifest for Windows PowerShell 5.1 and PowerShell 7 that does not require WinsHost' {
        $manifest = Test-ModuleManifest -Path $manifestPath -ErrorAction Stop
        $data = Import-PowerShellDataFile -LiteralPath $manifestPath
        $manifest.Version | Should -Be ([version]'0.1.0')
        $data.PowerShellVersion | Should -Be '5.1'
        $data.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
        $data.ContainsKey('RequiredModules') | Should -BeFalse
    }

    It 'exports exactly the functions in Public/' {
        $publicNames = @(Get-ChildItem -LiteralPath (Join-Path $testingRoot 'Public') -Filter '*.ps1' -File | ForEach-Object BaseName | Sort-Object)
        @((Import-PowerShellDataFile -LiteralPath $manifestPath).FunctionsToExport | Sort-Object) | Should -Be $publicNames
        @((Get-Module -Name WinsHost.Testing).ExportedFunctions.Keys | Sort-Object) | Should -Be $publicNames
    }

    It 'ships a default fixture the broker accepts' {
        $broker = Start-WinsHostTestBroker -Policy $readerPolicy
        try {
            (Get-HostInfo).HostName | Should -Be 'node-1'
            @(Get-HostNetwork -All).Name | Should -Be @('Loopback Pseudo-Interface 1', 'Ethernet', 'vEthernet (nat)')
        }
        finally {
            Stop-WinsHostTestBroker -TestBroker $broker
        }
    }
}

Describe 'Public function <Name>' -ForEach $publicFunctions {
    BeforeAll {
        $script:command = Get-Command -Name $Name -Module WinsHost.Testing -ErrorAction Stop
        $script:help = Get-Help -Name $Name -Full
    }

    It 'is an advanced function with an OutputType, a synopsis, a description and an example' {
        $command.CmdletBinding | Should -BeTrue
        @($command.OutputType).Count | Should -BeGreaterOrEqual 1
        $help.Synopsis | Should -Not -Match ([regex]::Escape($Name))
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 1
    }

    It 'documents every parameter' {
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        foreach ($parameter in $command.Parameters.Keys | Where-Object { $common -notcontains $_ }) {
            $entry = @($help.Parameters.Parameter | Where-Object Name -EQ $parameter)
            ($entry[0].Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter needs a .PARAMETER description"
        }
    }
}

Describe 'Start-WinsHostTestBroker and Stop-WinsHostTestBroker' {
    BeforeEach {
        $script:savedPipe = $env:WINSHOST_PIPE
        $env:WINSHOST_PIPE = '/run/winshost/before-the-test.sock'
        if (Test-Path Variable:IsWindows) {
            if ($IsWindows) { $env:WINSHOST_PIPE = '\\.\pipe\before-the-test' }
        }
        elseif ($PSVersionTable.PSEdition -eq 'Desktop') { $env:WINSHOST_PIPE = '\\.\pipe\before-the-test' }
        $script:pipeBefore = $env:WINSHOST_PIPE
    }
    AfterEach {
        Stop-WinsHostTestBroker
        $env:WINSHOST_PIPE = $savedPipe
    }

    It 'starts a broker on a temporary pipe, points WINSHOST_PIPE at it, and undoes all of it on stop' {
        $broker = Start-WinsHostTestBroker -Policy $readerPolicy

        $broker.PSObject.TypeNames[0] | Should -Be 'WinsHost.TestBroker'
        $env:WINSHOST_PIPE | Should -Be $broker.Pipe
        $broker.PreviousPipe | Should -Be $pipeBefore
        (Get-Process -Id $broker.ProcessId).Id | Should -Be $broker.ProcessId
        $broker.StateDirectory | Should -BeLike "$($broker.Directory)*"
        (Get-HostInfo).Platform | Should -Be 'windows'

        Stop-WinsHostTestBroker -TestBroker $broker

        $env:WINSHOST_PIPE | Should -Be $pipeBefore
        $broker.Process.HasExited | Should -BeTrue
        $broker.Directory | Should -Not -Exist
        InModuleScope WinsHost { $script:HostBrokerConnection } | Should -BeNullOrEmpty
        # A second stop has nothing left to do.
        { Stop-WinsHostTestBroker -TestBroker $broker -ErrorAction Stop } | Should -Not -Throw
    }

    It 'takes a policy file and a fixture file, and stops brokers newest first from the pipeline' {
        $policyPath = Join-Path $TestDrive 'policy.yaml'
        Set-Content -Path $policyPath -Value @'
listeners:
  - name: files
    profiles: [reader]
profiles:
  reader:
    host: { read: true }
'@
        $fixture = Import-PowerShellDataFile (Join-Path $testingRoot 'Fixtures/DefaultFixture.psd1')
        $fixture.host.HostName = 'recorded-node'
        $fixturePath = Join-Path $TestDrive 'fixture.json'
        Set-Content -Path $fixturePath -Value (ConvertTo-Json -InputObject $fixture -Depth 20)

        $first = Start-WinsHostTestBroker -Policy $readerPolicy
        $second = Start-WinsHostTestBroker -Policy $policyPath -Fixture $fixturePath
        $second.PreviousPipe | Should -Be $first.Pipe
        (Get-HostInfo).HostName | Should -Be 'recorded-node'
        { Get-HostNetwork } | Should -Throw -ErrorId 'WinsHost.PolicyDenied,Get-HostNetwork'

        $second, $first | Stop-WinsHostTestBroker
        $env:WINSHOST_PIPE | Should -Be $pipeBefore
    }

    It 'refuses an invalid fixture with the broker''s message naming the field, and leaves nothing behind' {
        $before = @(Get-ChildItem -Path ([System.IO.Path]::GetTempPath()) -Filter 'winshost-test-*' -ErrorAction SilentlyContinue).Count
        $bad = @{ network = @{ defaultInterfaceIndex = 99; adapters = @(); routes = @() } }

        $failure = { Start-WinsHostTestBroker -Policy $readerPolicy -Fixture $bad } | Should -Throw -ErrorId 'WinsHost.Testing.BrokerStartFailed,Start-WinsHostTestBroker' -PassThru

        $failure.CategoryInfo.Category | Should -Be 'InvalidData'
        $failure.Exception.Message | Should -BeLike '*network.defaultInterfaceIndex: no adapter has InterfaceIndex 99*'
        $env:WINSHOST_PIPE | Should -Be $pipeBefore
        @(Get-ChildItem -Path ([System.IO.Path]::GetTempPath()) -Filter 'winshost-test-*' -ErrorAction SilentlyContinue).Count | Should -Be $before
    }

    It 'names what is missing: <Case>' -ForEach @(
        @{ Case = 'policy file'; Arguments = @{ Policy = '/nonexistent/policy.yaml' }; ErrorId = 'WinsHost.Testing.PolicyNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'fixture file'; Arguments = @{ Fixture = '/nonexistent/fixture.json' }; ErrorId = 'WinsHost.Testing.FixtureNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'a policy that is neither'; Arguments = @{ Policy = 42 }; ErrorId = 'WinsHost.Testing.InvalidPolicy'; Category = 'InvalidArgument' }
        @{ Case = 'node'; Arguments = @{ NodePath = 'no-such-node-binary' }; ErrorId = 'WinsHost.Testing.NodeNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'broker bundle'; Arguments = @{ BrokerPath = '/nonexistent/cli.js' }; ErrorId = 'WinsHost.Testing.BrokerNotFound'; Category = 'ObjectNotFound' }
    ) {
        if (-not $Arguments.ContainsKey('Policy')) { $Arguments.Policy = $readerPolicy }
        $failure = { Start-WinsHostTestBroker @Arguments } | Should -Throw -ErrorId "$ErrorId,Start-WinsHostTestBroker" -PassThru
        $failure.CategoryInfo.Category | Should -Be $Category
        $env:WINSHOST_PIPE | Should -Be $pipeBefore
    }
}

Describe 'Get-WinsHostTestAuditLog' {
    AfterEach { Stop-WinsHostTestBroker }

    It 'returns the audit lines as objects, filtered by method and decision' {
        $broker = Start-WinsHostTestBroker -Policy @{ profiles = @{ netonly = @{ network = @{ read = $true } } } }
        $null = Get-HostNetwork
        { Get-HostInfo } | Should -Throw -ErrorId 'WinsHost.PolicyDenied,Get-HostInfo'

        $denied = @(Get-WinsHostTestAuditLog -Method 'host/*' -Decision deny)
        $denied.Count | Should -Be 1
        $denied[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.TestAuditEntry'
        $denied[0].method | Should -Be 'host/info'
        $denied[0].profile | Should -Be 'netonly'
        $denied[0].resultCode | Should -Be -32001
        @(Get-WinsHostTestAuditLog -TestBroker $broker -Method 'network/adapters').decision | Should -Be @('allow')
        @(Get-WinsHostTestAuditLog -Method 'process/start' -TimeoutSec 0).Count | Should -Be 0
    }

    It 'says when there is no test broker to read' {
        { Get-WinsHostTestAuditLog } | Should -Throw -ErrorId 'WinsHost.Testing.NoTestBroker,Get-WinsHostTestAuditLog'
    }
}

Describe 'Command-line quoting' {
    It 'gives the program back exactly the arguments: <Case>' -ForEach @(
        @{ Case = 'spaces'; Arguments = @('C:\Users\Jane Doe\AppData\Local\Temp\x', 'a b') }
        @{ Case = 'quotes and backslashes'; Arguments = @('say "hi"', 'C:\dir\', 'back\\"slash', '\\.\pipe\winshost-test-1') }
        @{ Case = 'empty and plain'; Arguments = @('', 'plain', '--flag') }
    ) {
        $commandLine = InModuleScope WinsHost.Testing -Parameters @{ Arguments = $Arguments } {
            param($Arguments)
            ConvertTo-WinsHostTestArgument -Argument (@('-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))') + $Arguments)
        }
        $start = New-Object System.Diagnostics.ProcessStartInfo -ArgumentList (Get-Command node -CommandType Application | Select-Object -First 1).Path, $commandLine
        $start.RedirectStandardOutput = $true
        $start.UseShellExecute = $false
        $process = [System.Diagnostics.Process]::Start($start)
        $received = $process.StandardOutput.ReadToEnd()
        $process.WaitForExit()
        @(ConvertFrom-Json -InputObject $received) | Should -Be $Arguments
    }
}

Describe 'docs/testing.md' {
    It 'shows <File> as it is in test/pester/examples' -ForEach @(
        @{ File = 'Set-IngressProxy.ps1' }
        @{ File = 'ContainerScript.Tests.ps1' }
    ) {
        $doc = (Get-Content -LiteralPath (Join-Path $PSScriptRoot '../../docs/testing.md') -Raw).Replace("`r`n", "`n")
        $example = (Get-Content -LiteralPath (Join-Path $PSScriptRoot "examples/$File") -Raw).Replace("`r`n", "`n")
        $doc.Contains("``````powershell`n$example``````") | Should -BeTrue -Because "docs/testing.md must show examples/$File whole"
    }
}

Describe 'Removing the module' {
    It 'stops the test brokers still running' {
        $broker = Start-WinsHostTestBroker -Policy $readerPolicy
        Remove-Module -Name WinsHost.Testing -Force
        try {
            $broker.Process.HasExited | Should -BeTrue
            $broker.Directory | Should -Not -Exist
        }
        finally {
            Import-Module $manifestPath -Force
        }
    }
}
