#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The proxy policy cmdlets (Add-, Get-, Remove-ProxyPolicy) with the private RPC function mocked: the params
# they send (omitted fields absent, exceptions shaped as { Ports, IpAddresses }, compared with typings/proxy.ts),
# client-side validation before anything is sent, -WhatIf, pipeline binding, the shape of their output
# (compared with ProxyPolicy and ProxyExceptions in the typings), not-found errors and broker errors. The last
# block runs them against the fake broker over a real socket, to check what arrives on the wire.

BeforeDiscovery {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # A ProxyPolicy exactly as ConvertFrom-Json gives it, built from JSON so the types are the real ones. Only
    # the settings given are present, as the broker echoes the settings it was sent.
    function New-WirePolicy {
        param(
            [string] $Id = 'pp-0123456789ab',
            [System.Collections.IDictionary] $Settings = @{ OutboundProxyPort = 15001 },
            [bool] $Applied = $true
        )
        $wire = [ordered]@{}
        foreach ($key in $Settings.Keys) {
            $wire[$key] = $Settings[$key]
        }
        $wire['Id'] = $Id
        $wire['Target'] = 'net:[4026532001]'
        $wire['Applied'] = $Applied
        $wire['Created'] = '2024-05-01T10:00:00.000Z'
        ConvertFrom-Json -InputObject (ConvertTo-Json -InputObject $wire -Depth 5 -Compress)
    }

    function Invoke-InWinsHost {
        param([scriptblock] $ScriptBlock)
        & (Get-Module -Name WinsHost) $ScriptBlock @args
    }

    # The exception the client throws for a JSON-RPC error response.
    function New-RpcError {
        param([string] $Method, [int] $Code, [string] $Message, [hashtable] $Data)
        $rpcError = [pscustomobject]@{ code = $Code; message = $Message; data = [pscustomobject]$Data }
        Invoke-InWinsHost { New-HostRpcErrorException -Method $args[0] -RpcError $args[1] } $Method $rpcError
    }

    $script:policyProperties = Get-TypingsInterfaceProperty -File 'proxy.ts' -Interface 'ProxyPolicy'
    $script:settingsProperties = Get-TypingsInterfaceProperty -File 'proxy.ts' -Interface 'ProxyPolicySettings'
    $script:exceptionsProperties = Get-TypingsInterfaceProperty -File 'proxy.ts' -Interface 'ProxyExceptions'
    $script:addParamsProperties = Get-TypingsInterfaceProperty -File 'proxy.ts' -Interface 'ProxyAddParams'
    $script:removeParamsProperties = Get-TypingsInterfaceProperty -File 'proxy.ts' -Interface 'ProxyRemoveParams'
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
}

Describe 'Proxy policy cmdlets' {
    BeforeEach {
        # Every call the cmdlets make, and per method the answer: a script block given the params.
        $script:calls = New-Object System.Collections.Generic.List[object]
        $script:listed = @(
            (New-WirePolicy -Id 'pp-aaaaaaaaaaaa' -Settings ([ordered]@{ InboundProxyPort = 15006; OutboundProxyPort = 15001; ExemptUser = '1337' })),
            (New-WirePolicy -Id 'pp-bbbbbbbbbbbb' -Settings ([ordered]@{ OutboundProxyPort = 15001; Protocol = 'TCP'; OutboundExceptions = [ordered]@{ Ports = @(9001); IpAddresses = @('169.254.169.254/32') }; Priority = 50 }) -Applied $false)
        )
        $script:answers = @{
            'proxy/add'    = { param($p) New-WirePolicy -Settings $p['policy'] }
            'proxy/list'   = { param($p) [pscustomobject]@{ policies = $listed } }
            'proxy/remove' = {
                param($p)
                if ($p.Contains('all')) {
                    return [pscustomobject]@{ removed = @($listed | ForEach-Object Id) }
                }
                [pscustomobject]@{ removed = @($p['id']) }
            }
        }
        Mock -ModuleName WinsHost Invoke-HostRpc {
            $calls.Add([pscustomobject]@{ Method = $Method; Params = $Params; Pipe = $Pipe })
            $answer = $answers[$Method]
            if ($null -eq $answer) {
                return [pscustomobject]@{}
            }
            & $answer $Params
        }
    }

    It 'reads ProxyPolicy, ProxyPolicySettings and ProxyExceptions from typings/proxy.ts' {
        $settingsProperties | Should -Be @('InboundProxyPort', 'OutboundProxyPort', 'Protocol', 'InboundExceptions', 'OutboundExceptions', 'ExemptUser', 'Priority')
        $policyProperties | Should -Be (@($settingsProperties) + @('Id', 'Target', 'Applied', 'Created'))
        $exceptionsProperties | Should -Be @('Ports', 'IpAddresses')
        $addParamsProperties | Should -Be @('policy')
        $removeParamsProperties | Should -Be @('id', 'all')
    }

    Describe 'Add-ProxyPolicy: what it sends' {
        It 'sends one proxy/add with every setting, in the order and with the names of ProxyPolicySettings' {
            Add-ProxyPolicy -InboundProxyPort 15006 -OutboundProxyPort 15001 -Protocol TCP -InboundExceptionPort 15020, 15021 -InboundExceptionAddress 10.0.0.0/8 `
                -OutboundExceptionPort 9001 -OutboundExceptionAddress 169.254.169.254/32, 'fd00::/8' -ExemptUser 1337 -Priority 50
            $calls.Count | Should -Be 1
            $calls[0].Method | Should -BeExactly 'proxy/add'
            @($calls[0].Params.Keys) | Should -Be $addParamsProperties
            $policy = $calls[0].Params['policy']
            @($policy.Keys) | Should -Be $settingsProperties
            $policy['InboundProxyPort'] | Should -BeOfType [int]
            $policy['InboundProxyPort'] | Should -Be 15006
            $policy['OutboundProxyPort'] | Should -Be 15001
            $policy['Protocol'] | Should -BeExactly 'TCP'
            @($policy['InboundExceptions'].Keys) | Should -Be $exceptionsProperties
            $policy['InboundExceptions']['Ports'] | Should -Be @(15020, 15021)
            $policy['InboundExceptions']['IpAddresses'] | Should -Be @('10.0.0.0/8')
            @($policy['OutboundExceptions'].Keys) | Should -Be $exceptionsProperties
            $policy['OutboundExceptions']['Ports'] | Should -Be @(9001)
            $policy['OutboundExceptions']['IpAddresses'] | Should -Be @('169.254.169.254/32', 'fd00::/8')
            $policy['ExemptUser'] | Should -BeExactly '1337'
            $policy['Priority'] | Should -BeOfType [int]
            $policy['Priority'] | Should -Be 50
        }

        It 'serializes the params as the protocol declares them (ports numbers, one-item lists still arrays)' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -InboundExceptionPort 15021 -OutboundExceptionAddress 169.254.169.254 -ExemptUser S-1-5-32-556
            $json = ConvertTo-Json -InputObject $calls[0].Params -Depth 10 -Compress
            $json | Should -BeExactly '{"policy":{"InboundProxyPort":15006,"OutboundProxyPort":15001,"InboundExceptions":{"Ports":[15021]},"OutboundExceptions":{"IpAddresses":["169.254.169.254"]},"ExemptUser":"S-1-5-32-556"}}'
        }

        It 'sends only what was given for the sidecar case: the two proxy ports and the exempt user' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337
            @($calls[0].Params['policy'].Keys) | Should -Be @('InboundProxyPort', 'OutboundProxyPort', 'ExemptUser')
        }

        It 'sends only <Expected> for <Case>' -ForEach @(
            @{ Case = 'an outbound port alone'; Arguments = @{ OutboundProxyPort = 15001 }; Expected = @('OutboundProxyPort') }
            @{ Case = 'an inbound port alone'; Arguments = @{ InboundProxyPort = 15006 }; Expected = @('InboundProxyPort') }
            @{ Case = 'a protocol'; Arguments = @{ OutboundProxyPort = 15001; Protocol = 'UDP' }; Expected = @('OutboundProxyPort', 'Protocol') }
            @{ Case = 'a priority of 0'; Arguments = @{ OutboundProxyPort = 15001; Priority = 0 }; Expected = @('OutboundProxyPort', 'Priority') }
            @{ Case = 'outbound exception ports'; Arguments = @{ OutboundProxyPort = 15001; OutboundExceptionPort = 9001 }; Expected = @('OutboundProxyPort', 'OutboundExceptions') }
            @{ Case = 'inbound exception addresses'; Arguments = @{ InboundProxyPort = 15006; InboundExceptionAddress = '10.1.0.0/16' }; Expected = @('InboundProxyPort', 'InboundExceptions') }
        ) {
            $arguments = $Arguments.Clone()
            Add-ProxyPolicy @arguments
            @($calls[0].Params['policy'].Keys) | Should -Be $Expected
        }

        It 'shapes an exceptions object with only the member given, never an empty one' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -OutboundExceptionPort 9001, 9002 -InboundExceptionAddress 127.0.0.1
            $policy = $calls[0].Params['policy']
            @($policy['OutboundExceptions'].Keys) | Should -Be @('Ports')
            @($policy['InboundExceptions'].Keys) | Should -Be @('IpAddresses')
            foreach ($exceptions in $policy['InboundExceptions'], $policy['OutboundExceptions']) {
                foreach ($key in $exceptions.Keys) {
                    $exceptionsProperties | Should -Contain $key
                    @($exceptions[$key]).Count | Should -BeGreaterThan 0
                }
            }
        }

        It 'sends each exception port and address once, in the order given' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -OutboundExceptionPort 9002, 9001, 9002 -OutboundExceptionAddress '10.0.0.1', ' 10.0.0.2 ', '10.0.0.1'
            $calls[0].Params['policy']['OutboundExceptions']['Ports'] | Should -Be @(9002, 9001)
            $calls[0].Params['policy']['OutboundExceptions']['IpAddresses'] | Should -Be @('10.0.0.1', '10.0.0.2')
        }

        It 'sends -Protocol <Protocol> as <Expected>' -ForEach @(
            @{ Protocol = 'tcp'; Expected = 'TCP' }
            @{ Protocol = 'Udp'; Expected = 'UDP' }
        ) {
            Add-ProxyPolicy -OutboundProxyPort 15001 -Protocol $Protocol
            $calls[0].Params['policy']['Protocol'] | Should -BeExactly $Expected
        }

        It 'passes -ExemptUser <User> to the broker as it is' -ForEach @(
            @{ User = '1337' }
            @{ User = 'uid:1337' }
            @{ User = 'gid:1337' }
            @{ User = 'S-1-5-32-556' }
        ) {
            Add-ProxyPolicy -OutboundProxyPort 15001 -ExemptUser $User
            $calls[0].Params['policy']['ExemptUser'] | Should -BeExactly $User
        }

        It 'takes an integer -ExemptUser as the uid string' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -ExemptUser 1337
            $calls[0].Params['policy']['ExemptUser'] | Should -BeOfType [string]
        }

        It 'sends nothing and outputs nothing with -WhatIf, also with -PassThru' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337 -WhatIf | Should -BeNullOrEmpty
            Add-ProxyPolicy -OutboundProxyPort 15001 -PassThru -WhatIf | Should -BeNullOrEmpty
            $calls.Count | Should -Be 0
        }

        It 'refuses -<Parameter> <Value> with a parameter error, before sending anything' -ForEach @(
            @{ Parameter = 'InboundProxyPort'; Value = 0 }
            @{ Parameter = 'InboundProxyPort'; Value = 65536 }
            @{ Parameter = 'OutboundProxyPort'; Value = -1 }
            @{ Parameter = 'OutboundProxyPort'; Value = 70000 }
            @{ Parameter = 'InboundExceptionPort'; Value = @(80, 0) }
            @{ Parameter = 'OutboundExceptionPort'; Value = @(443, 65536) }
            @{ Parameter = 'Priority'; Value = -1 }
            @{ Parameter = 'Priority'; Value = 65536 }
            @{ Parameter = 'Protocol'; Value = 'SCTP' }
            @{ Parameter = 'ExemptUser'; Value = '' }
            @{ Parameter = 'OutboundExceptionAddress'; Value = @() }
        ) {
            $arguments = @{ OutboundProxyPort = 15001 }
            $arguments[$Parameter] = $Value
            $record = $null
            try { Add-ProxyPolicy @arguments } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentValidationError*,Add-ProxyPolicy'
            $record.CategoryInfo.Category | Should -Be 'InvalidData'
            $record.Exception.Message | Should -BeLike "*'$Parameter'*"
            $calls.Count | Should -Be 0
        }

        It 'requires a proxy port: WinsHost.ProxyPortRequired, terminating, before sending anything (also with -WhatIf)' {
            foreach ($arguments in @(@{ ExemptUser = '1337' }, @{ OutboundExceptionPort = 9001; PassThru = $true }, @{ ExemptUser = '1337'; WhatIf = $true })) {
                $record = $null
                try { Add-ProxyPolicy @arguments -ErrorAction SilentlyContinue } catch { $record = $_ }
                $record | Should -Not -BeNullOrEmpty
                $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProxyPortRequired,Add-ProxyPolicy'
                $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
                $record.Exception | Should -BeOfType [System.ArgumentException]
                $record.Exception.Message | Should -BeLike '*-OutboundProxyPort*-InboundProxyPort*'
            }
            $calls.Count | Should -Be 0
        }

        It 'passes -Pipe to the client' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -Pipe '/srv/explicit.sock'
            $calls[0].Pipe | Should -BeExactly '/srv/explicit.sock'
        }
    }

    Describe 'Add-ProxyPolicy: output and errors' {
        It 'outputs nothing without -PassThru' {
            Add-ProxyPolicy -OutboundProxyPort 15001 | Should -BeNullOrEmpty
            $calls.Count | Should -Be 1
        }

        It 'outputs a WinsHost.ProxyPolicy with exactly the properties of ProxyPolicy with -PassThru' {
            $policy = Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337 -InboundExceptionPort 15020, 15021 -OutboundExceptionAddress 169.254.169.254/32 -Priority 10 -PassThru
            @($policy).Count | Should -Be 1
            $policy.PSObject.TypeNames[0] | Should -Be 'WinsHost.ProxyPolicy'
            @($policy.PSObject.Properties.Name) | Should -Be $policyProperties
            $policy.Id | Should -BeOfType [string]
            $policy.Id | Should -BeExactly 'pp-0123456789ab'
            $policy.Target | Should -BeExactly 'net:[4026532001]'
            $policy.InboundProxyPort | Should -BeOfType [int]
            $policy.InboundProxyPort | Should -Be 15006
            $policy.OutboundProxyPort | Should -BeOfType [int]
            $policy.OutboundProxyPort | Should -Be 15001
            $policy.ExemptUser | Should -BeExactly '1337'
            $policy.Priority | Should -BeOfType [int]
            $policy.Priority | Should -Be 10
            $policy.Applied | Should -BeOfType [bool]
            $policy.Applied | Should -BeTrue
            $policy.Created | Should -BeOfType [datetime]
            $policy.Created.ToUniversalTime() | Should -Be ([datetime]::new(2024, 5, 1, 10, 0, 0, [System.DateTimeKind]::Utc))
        }

        It 'outputs the exceptions as WinsHost.ProxyExceptions objects with the properties of ProxyExceptions' {
            $policy = Add-ProxyPolicy -OutboundProxyPort 15001 -InboundExceptionPort 15020, 15021 -OutboundExceptionAddress 169.254.169.254/32 -PassThru
            foreach ($exceptions in $policy.InboundExceptions, $policy.OutboundExceptions) {
                $exceptions.PSObject.TypeNames[0] | Should -Be 'WinsHost.ProxyExceptions'
                @($exceptions.PSObject.Properties.Name) | Should -Be $exceptionsProperties
                , $exceptions.Ports | Should -BeOfType [int[]]
                , $exceptions.IpAddresses | Should -BeOfType [string[]]
            }
            $policy.InboundExceptions.Ports | Should -Be @(15020, 15021)
            $policy.InboundExceptions.IpAddresses.Count | Should -Be 0
            $policy.OutboundExceptions.Ports.Count | Should -Be 0
            $policy.OutboundExceptions.IpAddresses | Should -Be @('169.254.169.254/32')
            $policy.InboundExceptions.ToString() | Should -BeExactly 'Ports: 15020, 15021'
            $policy.OutboundExceptions.ToString() | Should -BeExactly 'IpAddresses: 169.254.169.254/32'
        }

        It 'fills the protocol defaults the broker left out (TCP, priority 100) and gives empty exceptions' {
            $policy = Add-ProxyPolicy -OutboundProxyPort 15001 -PassThru
            $policy.Protocol | Should -BeExactly 'TCP'
            $policy.Priority | Should -Be 100
            $null -eq $policy.InboundProxyPort | Should -BeTrue
            $null -eq $policy.ExemptUser | Should -BeTrue
            , $policy.InboundExceptions.Ports | Should -BeOfType [int[]]
            $policy.InboundExceptions.Ports.Count | Should -Be 0
            $policy.OutboundExceptions.IpAddresses.Count | Should -Be 0
            $policy.OutboundExceptions.ToString() | Should -BeExactly ''
        }

        It 'reports a policy denial as a terminating WinsHost.PolicyDenied with the rule in the message' {
            $answers['proxy/add'] = {
                throw (New-RpcError -Method 'proxy/add' -Code -32001 -Message 'ExemptUser 0 is not a user this profile may exempt' -Data @{ reason = 'UserNotAllowed'; rule = 'profiles.mesh.proxy.exemptUsers' })
            }
            $record = $null
            try { Add-ProxyPolicy -OutboundProxyPort 15001 -ExemptUser 0 -PassThru -ErrorAction SilentlyContinue } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Add-ProxyPolicy'
            $record.CategoryInfo.Category | Should -Be 'PermissionDenied'
            $record.Exception.Message | Should -BeExactly 'ExemptUser 0 is not a user this profile may exempt (policy rule: profiles.mesh.proxy.exemptUsers)'
            $record.Exception.Data['ErrorData']['reason'] | Should -Be 'UserNotAllowed'
            $record.TargetObject | Should -Be 'proxy/add'
            $record.ErrorDetails.RecommendedAction | Should -BeLike '*broker policy*'
        }

        It 'reports an address the broker refuses as WinsHost.InvalidParams naming the field' {
            $answers['proxy/add'] = {
                throw (New-RpcError -Method 'proxy/add' -Code -32602 -Message 'policy.OutboundExceptions.IpAddresses.0: must be an IP address or CIDR' -Data @{ reason = 'FieldInvalid'; field = 'policy.OutboundExceptions.IpAddresses.0' })
            }
            $record = $null
            try { Add-ProxyPolicy -OutboundProxyPort 15001 -OutboundExceptionAddress 'metadata.internal' } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.InvalidParams,Add-ProxyPolicy'
            $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $record.Exception.Message | Should -BeLike '*policy.OutboundExceptions.IpAddresses.0*'
            $record.Exception.Data['ErrorData']['field'] | Should -BeExactly 'policy.OutboundExceptions.IpAddresses.0'
            $calls[0].Params['policy']['OutboundExceptions']['IpAddresses'] | Should -Be @('metadata.internal')
        }
    }

    Describe 'Get-ProxyPolicy' {
        It 'sends proxy/list without params and outputs every policy in the broker''s order' {
            $policies = @(Get-ProxyPolicy)
            $calls.Count | Should -Be 1
            $calls[0].Method | Should -BeExactly 'proxy/list'
            $calls[0].Params.Count | Should -Be 0
            $policies.Count | Should -Be 2
            @($policies.Id) | Should -Be @('pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb')
            foreach ($policy in $policies) {
                $policy.PSObject.TypeNames[0] | Should -Be 'WinsHost.ProxyPolicy'
                @($policy.PSObject.Properties.Name) | Should -Be $policyProperties
                $policy.InboundExceptions.PSObject.TypeNames[0] | Should -Be 'WinsHost.ProxyExceptions'
            }
            $policies[1].Applied | Should -BeFalse
            $policies[1].Priority | Should -Be 50
            $policies[1].OutboundExceptions.Ports | Should -Be @(9001)
            $policies[1].OutboundExceptions.IpAddresses | Should -Be @('169.254.169.254/32')
        }

        It 'keeps properties a newer broker adds after the known ones' {
            $script:listed = @(New-WirePolicy -Settings ([ordered]@{ OutboundProxyPort = 15001; Mode = 'tproxy' }))
            $policy = Get-ProxyPolicy
            @($policy.PSObject.Properties.Name) | Should -Be (@($policyProperties) + @('Mode'))
        }

        It 'outputs nothing and writes no error when there are no policies (<Case>)' -ForEach @(
            @{ Case = 'empty list'; Answer = { [pscustomobject]@{ policies = @() } } }
            @{ Case = 'no policies member'; Answer = { [pscustomobject]@{} } }
        ) {
            $answers['proxy/list'] = $Answer
            Get-ProxyPolicy -ErrorVariable errors | Should -BeNullOrEmpty
            $errors.Count | Should -Be 0
        }

        It 'returns the policies named by -Id, in the order given, each once' {
            $policies = @(Get-ProxyPolicy -Id 'pp-bbbbbbbbbbbb', 'pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb')
            @($policies.Id) | Should -Be @('pp-bbbbbbbbbbbb', 'pp-aaaaaaaaaaaa')
            $calls.Count | Should -Be 1
        }

        It 'reports an unknown -Id as the non-terminating WinsHost.ProxyPolicyNotFound and still outputs the others' {
            $policies = @(Get-ProxyPolicy -Id 'pp-gone', 'pp-aaaaaaaaaaaa', 'PP-AAAAAAAAAAAA' -ErrorVariable errors -ErrorAction SilentlyContinue)
            @($policies.Id) | Should -Be @('pp-aaaaaaaaaaaa')
            $errors.Count | Should -Be 2
            foreach ($record in $errors) {
                $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ProxyPolicyNotFound,Get-ProxyPolicy'
                $record.CategoryInfo.Category | Should -Be 'ObjectNotFound'
                $record.Exception | Should -BeOfType [System.Management.Automation.ItemNotFoundException]
            }
            $errors[0].TargetObject | Should -BeExactly 'pp-gone'
            $errors[0].Exception.Message | Should -BeLike "*'pp-gone'*"
            # Ids are compared exactly, as the broker does.
            $errors[1].TargetObject | Should -BeExactly 'PP-AAAAAAAAAAAA'
        }

        It 'ends with the broker''s error when the list is refused' {
            $answers['proxy/list'] = {
                throw (New-RpcError -Method 'proxy/list' -Code -32001 -Message 'proxy.manage is not granted to profile default' -Data @{ reason = 'RuleDenied'; rule = 'profiles.default.proxy' })
            }
            $record = $null
            try { Get-ProxyPolicy -ErrorAction SilentlyContinue } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Get-ProxyPolicy'
            $record.Exception.Message | Should -BeLike '*(policy rule: profiles.default.proxy)'
        }

        It 'formats as a table of Id, InboundProxyPort, OutboundProxyPort, Protocol, ExemptUser and Applied' {
            $text = Get-ProxyPolicy | Out-String -Width 140
            $text | Should -Match 'Id\s+InboundProxyPort\s+OutboundProxyPort\s+Protocol\s+ExemptUser\s+Applied'
            $text | Should -Match 'pp-aaaaaaaaaaaa\s+15006\s+15001\s+TCP\s+1337\s+True'
            $text | Should -Match 'pp-bbbbbbbbbbbb\s+15001\s+TCP\s+False'
        }

        It 'formats as a list with the target, the exceptions as text, the priority and the creation time' {
            $text = Get-ProxyPolicy -Id 'pp-bbbbbbbbbbbb' | Format-List | Out-String -Width 140
            $text | Should -Match 'Target\s+: net:\[4026532001\]'
            $text | Should -Match 'OutboundExceptions\s+: Ports: 9001; IpAddresses: 169.254.169.254/32'
            $text | Should -Match 'Priority\s+: 50'
            $text | Should -Match 'Created\s+: \S'
            $all = Get-ProxyPolicy -Id 'pp-bbbbbbbbbbbb' | Format-List * | Out-String -Width 140
            $all | Should -Match 'OutboundExceptions\s+: Ports: 9001; IpAddresses: 169.254.169.254/32'
        }
    }

    Describe 'Remove-ProxyPolicy' {
        It 'is SupportsShouldProcess with ConfirmImpact Medium, and ById is the default parameter set' {
            $command = Get-Command -Name Remove-ProxyPolicy -Module WinsHost
            $binding = $command.ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] }
            $binding.SupportsShouldProcess | Should -BeTrue
            $binding.ConfirmImpact | Should -Be 'Medium'
            $command.DefaultParameterSet | Should -Be 'ById'
            @($command.ParameterSets.Name | Sort-Object) | Should -Be @('All', 'ById')
            $add = Get-Command -Name Add-ProxyPolicy -Module WinsHost
            ($add.ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] }).SupportsShouldProcess | Should -BeTrue
        }

        It 'sends one proxy/remove with id per -Id, in order, and outputs nothing' {
            Remove-ProxyPolicy -Id 'pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb' | Should -BeNullOrEmpty
            $calls.Count | Should -Be 2
            foreach ($call in $calls) {
                $call.Method | Should -BeExactly 'proxy/remove'
                @($call.Params.Keys) | Should -Be @('id')
                $removeParamsProperties | Should -Contain 'id'
            }
            @($calls | ForEach-Object { $_.Params['id'] }) | Should -Be @('pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb')
            ConvertTo-Json -InputObject $calls[0].Params -Compress | Should -BeExactly '{"id":"pp-aaaaaaaaaaaa"}'
        }

        It 'removes what Get-ProxyPolicy pipes to it, one request per policy' {
            Get-ProxyPolicy | Remove-ProxyPolicy | Should -BeNullOrEmpty
            @($calls.Method) | Should -Be @('proxy/list', 'proxy/remove', 'proxy/remove')
            @($calls | Select-Object -Skip 1 | ForEach-Object { $_.Params['id'] }) | Should -Be @('pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb')
        }

        It 'removes what Add-ProxyPolicy -PassThru and Select-Object pipe to it (the Id property binds)' {
            Add-ProxyPolicy -OutboundProxyPort 15001 -PassThru | Remove-ProxyPolicy
            [pscustomobject]@{ Id = 'pp-aaaaaaaaaaaa' } | Remove-ProxyPolicy
            @($calls.Method) | Should -Be @('proxy/add', 'proxy/remove', 'proxy/remove')
            $calls[1].Params['id'] | Should -BeExactly 'pp-0123456789ab'
            $calls[2].Params['id'] | Should -BeExactly 'pp-aaaaaaaaaaaa'
        }

        It 'sends one proxy/remove with all = $true for -All, and outputs nothing' {
            Remove-ProxyPolicy -All | Should -BeNullOrEmpty
            $calls.Count | Should -Be 1
            $calls[0].Method | Should -BeExactly 'proxy/remove'
            @($calls[0].Params.Keys) | Should -Be @('all')
            $calls[0].Params['all'] | Should -BeExactly $true
            ConvertTo-Json -InputObject $calls[0].Params -Compress | Should -BeExactly '{"all":true}'
        }

        It 'shows the ids -All removed with -Verbose' {
            $verbose = Remove-ProxyPolicy -All -Verbose 4>&1 | Out-String
            $verbose | Should -BeLike '*removed 2 proxy policies (pp-aaaaaaaaaaaa, pp-bbbbbbbbbbbb)*'
        }

        It 'does not accept -Id and -All together' {
            { Remove-ProxyPolicy -Id 'pp-aaaaaaaaaaaa' -All } | Should -Throw -ErrorId 'AmbiguousParameterSet,Remove-ProxyPolicy'
            $calls.Count | Should -Be 0
        }

        It 'sends nothing with -WhatIf: -Id, -All and the pipeline' {
            Remove-ProxyPolicy -Id 'pp-aaaaaaaaaaaa' -WhatIf
            Remove-ProxyPolicy -All -WhatIf
            Get-ProxyPolicy | Remove-ProxyPolicy -WhatIf
            @($calls.Method) | Should -Be @('proxy/list')
        }

        It 'reports a policy the broker does not know as a non-terminating WinsHost.NotFound and removes the others' {
            $answers['proxy/remove'] = {
                param($p)
                if ($p['id'] -eq 'pp-gone') {
                    throw (New-RpcError -Method 'proxy/remove' -Code -32003 -Message "no proxy policy pp-gone on this caller's endpoint" -Data @{ id = 'pp-gone' })
                }
                [pscustomobject]@{ removed = @($p['id']) }
            }
            # -ErrorAction Continue: scripts/run-pester.ps1 runs with $ErrorActionPreference = 'Stop'.
            $errors = @(Remove-ProxyPolicy -Id 'pp-aaaaaaaaaaaa', 'pp-gone', 'pp-bbbbbbbbbbbb' -ErrorAction Continue 2>&1)
            $calls.Count | Should -Be 3
            $errors.Count | Should -Be 1
            $errors[0] | Should -BeOfType [System.Management.Automation.ErrorRecord]
            $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.NotFound,Remove-ProxyPolicy'
            $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $errors[0].Exception.Message | Should -BeLike '*pp-gone*'
        }

        It 'ends at a lost connection instead of trying the other ids' {
            $answers['proxy/remove'] = {
                throw (Invoke-InWinsHost { New-HostBrokerException -ErrorId 'ConnectionError' -Category ConnectionError -ExceptionType IO -Message 'The connection to the broker was lost.' })
            }
            $record = $null
            try { Remove-ProxyPolicy -Id 'pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb' -ErrorAction SilentlyContinue } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.ConnectionError,Remove-ProxyPolicy'
            $calls.Count | Should -Be 1
        }

        It 'ends with the broker''s error for -All' {
            $answers['proxy/remove'] = {
                throw (New-RpcError -Method 'proxy/remove' -Code -32007 -Message 'nft failed' -Data @{ reason = 'HostFailed' })
            }
            $record = $null
            try { Remove-ProxyPolicy -All -ErrorAction SilentlyContinue } catch { $record = $_ }
            $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.HostOperationFailed,Remove-ProxyPolicy'
        }

        It 'passes -Pipe to every call' {
            Remove-ProxyPolicy -Id 'pp-aaaaaaaaaaaa', 'pp-bbbbbbbbbbbb' -Pipe '/srv/explicit.sock'
            Remove-ProxyPolicy -All -Pipe '/srv/explicit.sock'
            @($calls | Where-Object Pipe -NE '/srv/explicit.sock').Count | Should -Be 0
            $calls.Count | Should -Be 3
        }
    }
}

Describe 'Proxy policy cmdlets over the wire (fake broker)' {
    BeforeAll {
        . (Join-Path -Path $PSScriptRoot -ChildPath 'support/FakeBroker.ps1')
        $script:workDir = New-FakeBrokerDirectory
        $script:socket = Join-Path $workDir 'broker.sock'
        $null = Start-FakeBroker -SocketPath $socket
        Connect-HostBroker -Pipe $socket

        function Invoke-Rpc {
            param([string] $Method, [hashtable] $Params = @{})
            Invoke-FakeBrokerRpc -Method $Method -Params $Params -Pipe $socket
        }

        function Get-CallCount {
            param([string] $Method)
            $calls = (Invoke-Rpc -Method 'test/stats').calls
            $property = $calls.PSObject.Properties[$Method]
            if ($null -eq $property) { return 0 }
            [int]$property.Value
        }

        $script:wirePolicies = @(
            @{ InboundProxyPort = 15006; OutboundProxyPort = 15001; ExemptUser = '1337'; Id = 'pp-aaaaaaaaaaaa'; Target = 'net:[4026531840]'; Applied = $true; Created = '2024-05-01T10:00:00.000Z' }
            @{ OutboundProxyPort = 15001; OutboundExceptions = @{ Ports = @(9001) }; Id = 'pp-bbbbbbbbbbbb'; Target = 'net:[4026531840]'; Applied = $true; Created = '2024-05-01T10:00:01.000Z' }
        )
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'proxy/add'; result = $wirePolicies[0] }
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'proxy/list'; result = @{ policies = $wirePolicies } }
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'proxy/remove'; result = @{ removed = @('pp-aaaaaaaaaaaa') } }
    }

    AfterAll {
        Disconnect-HostBroker
        Stop-FakeBroker
        Remove-Item -LiteralPath $workDir -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'sends the nested policy intact and reads the answer as a WinsHost.ProxyPolicy' {
        $policy = Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337 -InboundExceptionPort 15021 -OutboundExceptionAddress 169.254.169.254/32, 10.96.0.0/12 -PassThru
        $sent = (Invoke-Rpc -Method 'test/stats').lastParams.'proxy/add'
        ConvertTo-Json -InputObject $sent -Depth 10 -Compress | Should -BeExactly '{"policy":{"InboundProxyPort":15006,"OutboundProxyPort":15001,"InboundExceptions":{"Ports":[15021]},"OutboundExceptions":{"IpAddresses":["169.254.169.254/32","10.96.0.0/12"]},"ExemptUser":"1337"}}'
        $policy.PSObject.TypeNames[0] | Should -Be 'WinsHost.ProxyPolicy'
        $policy.Id | Should -BeExactly 'pp-aaaaaaaaaaaa'
        $policy.InboundProxyPort | Should -BeOfType [int]
        $policy.Created | Should -BeOfType [datetime]
    }

    It 'pipes Get-ProxyPolicy into Remove-ProxyPolicy with one proxy/remove per policy' {
        $before = Get-CallCount -Method 'proxy/remove'
        Get-ProxyPolicy | Remove-ProxyPolicy
        (Get-CallCount -Method 'proxy/remove') - $before | Should -Be 2
        $last = (Invoke-Rpc -Method 'test/stats').lastParams.'proxy/remove'
        ConvertTo-Json -InputObject $last -Compress | Should -BeExactly '{"id":"pp-bbbbbbbbbbbb"}'
    }

    It 'sends all = true for -All' {
        Remove-ProxyPolicy -All
        $last = (Invoke-Rpc -Method 'test/stats').lastParams.'proxy/remove'
        ConvertTo-Json -InputObject $last -Compress | Should -BeExactly '{"all":true}'
    }

    It 'maps a PolicyDenied answer with its rule' {
        $null = Invoke-Rpc -Method 'test/respondWith' -Params @{ method = 'proxy/add'; error = @{ code = -32001; message = 'OutboundProxyPort 8080 is not a proxy port this profile may use'; data = @{ reason = 'PortNotAllowed'; rule = 'profiles.test.proxy.ports' } } }
        $record = $null
        try { Add-ProxyPolicy -OutboundProxyPort 8080 } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Add-ProxyPolicy'
        $record.Exception.Message | Should -BeExactly 'OutboundProxyPort 8080 is not a proxy port this profile may use (policy rule: profiles.test.proxy.ports)'
    }
}
