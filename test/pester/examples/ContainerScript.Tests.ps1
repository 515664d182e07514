#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The example suite of docs/testing.md: a container script (Set-IngressProxy.ps1) tested without a container
# host. A real WinsHost broker runs on a temporary socket with a policy from this file and a fixture host
# (WinsHost.Testing); one Describe also mocks a private function of WinsHost to play a broker failure.
# Keep it in step with docs/testing.md, which shows it whole.

BeforeAll {
    # A user imports the installed modules by name; this suite takes them from the repository.
    $repository = Join-Path $PSScriptRoot '../../..'
    Import-Module (Join-Path $repository 'PSModule/WinsHost/WinsHost.psd1') -Force
    Import-Module (Join-Path $repository 'PSModule/WinsHost.Testing/WinsHost.Testing.psd1') -Force
    $script:containerScript = Join-Path $PSScriptRoot 'Set-IngressProxy.ps1'

    # The host programs the script may run. The broker opens and checks them as always, so they must exist;
    # the fixture plays their output, so they are never executed.
    New-Item -ItemType Directory -Path TestDrive:/mesh | Out-Null
    $script:registerTool = Join-Path (Resolve-Path TestDrive:/mesh).ProviderPath 'register-node'
    $script:brokenTool = Join-Path (Resolve-Path TestDrive:/mesh).ProviderPath 'register-node-broken'
    Set-Content -Path $registerTool, $brokenTool -Value 'not run: scripted by the fixture'

    $script:broker = Start-WinsHostTestBroker -Policy @{
        profiles = @{
            sidecar = @{
                network   = @{ read = $true }
                processes = @(
                    @{ path = $registerTool; args = @{ pattern = '^(--gateway|[0-9.]+)$' } }
                    @{ path = $brokenTool; args = @{ any = $true } }
                )
                # 'container' names the caller's container on Windows hosts; Linux hosts use the caller's namespace.
                proxy     = @{ ports = @(15001); container = 'sidecar-test' }
            }
        }
    } -Fixture @{
        # Host and network stay those of the default fixture: a host whose default adapter is 'Ethernet',
        # 10.170.15.229/20 with gateway 10.170.0.1.
        processes = @{
            $registerTool = @{ stdout = "registered node-1`nmesh: ok`n"; exitCode = 0 }
            $brokenTool   = @{ stdout = "contacting mesh`n"; stderr = "mesh unreachable`n"; exitCode = 2 }
        }
    }
}

AfterAll {
    Stop-WinsHostTestBroker
    Remove-Module WinsHost, WinsHost.Testing -ErrorAction SilentlyContinue
}

Describe 'Set-IngressProxy against a test broker' {
    AfterEach {
        # Each test starts from a container without proxy policies.
        Remove-ProxyPolicy -All
    }

    It 'redirects outbound traffic to the proxy, except the host subnet' {
        $result = & $containerScript -RegisterTool $registerTool

        $result.Adapter | Should -Be 'Ethernet'
        $result.Subnet | Should -Be '10.170.0.0/20'
        $policy = @(Get-ProxyPolicy)
        $policy.Count | Should -Be 1
        $policy[0].Id | Should -Be $result.ProxyPolicyId
        $policy[0].OutboundProxyPort | Should -Be 15001
        @($policy[0].OutboundExceptions.IpAddresses) | Should -Be @('10.170.0.0/20')
        $policy[0].Applied | Should -BeTrue
    }

    It 'runs the registration tool with the host gateway and returns its output' {
        $result = & $containerScript -RegisterTool $registerTool

        $result.Registration | Should -Be @('registered node-1', 'mesh: ok')
        $run = Get-HostProcess | Where-Object Path -EQ $registerTool | Select-Object -Last 1
        $run.Arguments | Should -Be @('--gateway', '10.170.0.1')
        $run.ExitCode | Should -Be 0
    }

    It 'fails with the tool''s error and removes its proxy policy when the tool fails' {
        { & $containerScript -RegisterTool $brokenTool } | Should -Throw '*exit code 2*mesh unreachable*'

        @(Get-ProxyPolicy).Count | Should -Be 0
    }

    It 'is refused a proxy port the policy does not grant, and the broker audits the denial' {
        $startsBefore = @(Get-WinsHostTestAuditLog -Method 'process/start').Count

        { & $containerScript -RegisterTool $registerTool -ProxyPort 16001 } | Should -Throw -ErrorId 'WinsHost.PolicyDenied,Add-ProxyPolicy'

        $denial = @(Get-WinsHostTestAuditLog -Method 'proxy/add' -Decision deny)
        $denial.Count | Should -Be 1
        $denial[0].profile | Should -Be 'sidecar'
        $denial[0].rule | Should -Be 'profiles.sidecar.proxy.ports'
        # The script stopped at the denial: the tool never ran for it.
        @(Get-WinsHostTestAuditLog -Method 'process/start').Count | Should -Be $startsBefore
    }
}

Describe 'Set-IngressProxy when the host cannot apply the policy' {
    BeforeAll {
        # Only proxy/add is replaced; Get-HostNetwork still goes to the test broker through the real client.
        Mock -ModuleName WinsHost Invoke-HostRpc {
            $hnsDown = [pscustomobject]@{ code = -32007; message = 'HNS did not answer'; data = [pscustomobject]@{ reason = 'OperationFailed' } }
            # The module's own error mapping (a private helper) turns the JSON-RPC error into what the broker would cause.
            throw (& (Get-Module WinsHost) { New-HostRpcErrorException -Method 'proxy/add' -RpcError $args[0] } $hnsDown)
        } -ParameterFilter { $Method -eq 'proxy/add' }
    }

    It 'stops with the broker''s error and does not run the tool' {
        { & $containerScript -RegisterTool $registerTool } | Should -Throw -ErrorId 'WinsHost.HostOperationFailed,Add-ProxyPolicy'

        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -ParameterFilter { $Method -eq 'proxy/add' } -Times 1 -Exactly
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -ParameterFilter { $Method -eq 'process/start' } -Times 0 -Exactly
    }

    It 'still read the host network from the test broker' {
        $adapter = Get-HostNetwork
        $adapter.Name | Should -Be 'Ethernet'
    }
}
