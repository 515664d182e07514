#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# The public cmdlets with the private RPC function mocked: what they send, how they select, and the shape
# of what they output (compared with the interfaces in typings/).

BeforeDiscovery {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # Wire objects exactly as ConvertFrom-Json gives them, built from JSON so the types are the real ones.
    $script:adaptersJson = @'
{"adapters":[
 {"InterfaceIndex":1,"GatewayAddress":null,"SubnetCIDR":"127.0.0.0/8","HostName":"h","AddressCIDR":"127.0.0.1/8","Name":"lo",
  "Description":"loopback","MacAddress":null,"Mtu":4294967295,"Status":"Up","Type":"loopback","IsDefault":false,
  "IPv4Addresses":[{"Address":"127.0.0.1","PrefixLength":8,"AddressCIDR":"127.0.0.1/8","SubnetCIDR":"127.0.0.0/8"}],
  "IPv6Addresses":[{"Address":"::1","PrefixLength":128,"AddressCIDR":"::1/128","SubnetCIDR":"::1/128","Scope":"host"}],
  "IPv6GatewayAddress":null},
 {"InterfaceIndex":7,"GatewayAddress":"10.170.0.1","SubnetCIDR":"10.170.0.0/20","HostName":"h","AddressCIDR":"10.170.15.229/20",
  "Name":"Ethernet 2","Description":"vmxnet3","MacAddress":"00:15:5d:01:02:03","Mtu":1500,"Status":"Up","Type":"ethernet","IsDefault":true,
  "IPv4Addresses":[{"Address":"10.170.15.229","PrefixLength":20,"AddressCIDR":"10.170.15.229/20","SubnetCIDR":"10.170.0.0/20"}],
  "IPv6Addresses":[],"IPv6GatewayAddress":"fe80::1"},
 {"InterfaceIndex":12,"GatewayAddress":null,"SubnetCIDR":"172.20.0.0/16","HostName":"h","AddressCIDR":"172.20.0.1/16",
  "Name":"vEthernet (nat)","Description":"Hyper-V","MacAddress":"00:15:5d:aa:bb:cc","Mtu":1500,"Status":"Up","Type":"ethernet","IsDefault":false,
  "IPv4Addresses":[{"Address":"172.20.0.1","PrefixLength":16,"AddressCIDR":"172.20.0.1/16","SubnetCIDR":"172.20.0.0/16"}],
  "IPv6Addresses":[],"IPv6GatewayAddress":null}
],"defaultInterfaceIndex":7}
'@
    $script:routesJson = @'
{"routes":[
 {"AddressFamily":"IPv4","DestinationPrefix":"0.0.0.0/0","NextHop":"10.170.0.1","InterfaceIndex":7,"InterfaceAlias":"Ethernet 2",
  "RouteMetric":25,"Protocol":"NetMgmt","Scope":"universe","IsDefault":true},
 {"AddressFamily":"IPv6","DestinationPrefix":"fe80::/64","NextHop":null,"InterfaceIndex":7,"InterfaceAlias":"Ethernet 2",
  "RouteMetric":256,"Protocol":"Local","Scope":"universe","IsDefault":false}
]}
'@
    $script:hostInfoJson = @'
{"HostName":"WIN-HOST","Platform":"windows","OSName":"Windows Server 2022 Datacenter","OSVersion":"10.0.20348","OSBuild":"20348.2340",
 "KernelVersion":"10.0.20348","Architecture":"x64","UptimeSeconds":86400.5,"BootTime":"2024-05-01T10:00:00.000Z","BrokerVersion":"0.1.0",
 "WindowsVersion":{"CurrentMajorVersionNumber":10,"CurrentMinorVersionNumber":0,"CurrentBuildNumber":"20348","UBR":2340,"ReleaseId":"2009",
  "BuildLabEx":"20348.1.amd64fre.fe_release.210507-1500","CurrentBuild":"20348","ProductName":"Windows Server 2022 Datacenter","DisplayVersion":"21H2"}}
'@

    # All adapters, or the default one when the client asks for defaultOnly, like the broker.
    function Get-AdapterResult {
        param($Params)
        $result = ConvertFrom-Json -InputObject $adaptersJson
        if ($Params -and $Params['defaultOnly']) {
            $result.adapters = @($result.adapters | Where-Object IsDefault)
        }
        $result
    }
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
}

Describe 'Get-HostNetwork' {
    BeforeEach {
        Mock -ModuleName WinsHost Invoke-HostRpc { Get-AdapterResult -Params $Params } -ParameterFilter { $Method -eq 'network/adapters' }
    }

    It 'asks the broker for the default adapter only and returns it' {
        $adapters = @(Get-HostNetwork)
        $adapters.Count | Should -Be 1
        $adapters[0].InterfaceIndex | Should -Be 7
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter {
            $Params['defaultOnly'] -eq $true -and $Params.Count -eq 1
        }
    }

    It 'returns every adapter with -All and sends no selector' {
        @(Get-HostNetwork -All).InterfaceIndex | Should -Be @(1, 7, 12)
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params.Count -eq 0 }
    }

    It 'outputs WinsHost.NetworkAdapter objects with exactly the properties of NetworkAdapter in typings/network.ts' {
        $expected = Get-TypingsInterfaceProperty -File 'network.ts' -Interface 'NetworkAdapter'
        $expected.Count | Should -BeGreaterThan 10
        foreach ($adapter in Get-HostNetwork -All) {
            $adapter.PSObject.TypeNames[0] | Should -Be 'WinsHost.NetworkAdapter'
            @($adapter.PSObject.Properties.Name) | Should -Be $expected
        }
    }

    It 'outputs the nested addresses as WinsHost.IPAddress with the typings properties' {
        $ipv6 = Get-TypingsInterfaceProperty -File 'network.ts' -Interface 'IPv6AddressInfo'
        $ipv4 = Get-TypingsInterfaceProperty -File 'network.ts' -Interface 'IPv4AddressInfo'
        $loopback = Get-HostNetwork -InterfaceIndex 1
        $loopback.IPv4Addresses[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.IPAddress'
        $loopback.IPv6Addresses[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.IPAddress'
        @($loopback.IPv6Addresses[0].PSObject.Properties.Name) | Should -Be $ipv6
        @($loopback.IPv4Addresses[0].PSObject.Properties.Name) | Should -Be $ipv4
        $loopback.IPv6Addresses[0].Scope | Should -Be 'host'
    }

    It 'keeps address lists as arrays, also when empty' {
        $default = Get-HostNetwork
        , $default.IPv6Addresses | Should -BeOfType [array]
        $default.IPv6Addresses.Count | Should -Be 0
        , $default.IPv4Addresses | Should -BeOfType [array]
        $default.IPv4Addresses.Count | Should -Be 1
    }

    It 'gives numbers and booleans their types' {
        $default = Get-HostNetwork
        $default.InterfaceIndex | Should -BeOfType [int]
        $default.Mtu | Should -BeOfType [long]
        $default.IsDefault | Should -BeOfType [bool]
        $default.IPv4Addresses[0].PrefixLength | Should -BeOfType [int]
        $default.GatewayAddress | Should -Be '10.170.0.1'
        $default.MacAddress | Should -Be '00:15:5d:01:02:03'
    }

    It "keeps an MTU beyond Int32, as Windows reports for its loopback adapter" {
        (Get-HostNetwork -All | Where-Object Type -EQ 'loopback').Mtu | Should -Be 4294967295
    }

    It 'selects by -Name with wildcards, case-insensitively' {
        @(Get-HostNetwork -Name 'veth*').InterfaceIndex | Should -Be @(12)
        @(Get-HostNetwork -Name 'ETHERNET 2').InterfaceIndex | Should -Be @(7)
        @(Get-HostNetwork -Name '*').Count | Should -Be 3
        @(Get-HostNetwork 'lo').InterfaceIndex | Should -Be @(1)
    }

    It 'outputs an adapter once when several names match it' {
        @(Get-HostNetwork -Name 'lo', 'l*').InterfaceIndex | Should -Be @(1)
    }

    It 'writes a non-terminating WinsHost.AdapterNotFound for a name without a match and goes on' {
        $adapters = @(Get-HostNetwork -Name 'nope', 'lo' -ErrorVariable errors -ErrorAction SilentlyContinue)
        $adapters.InterfaceIndex | Should -Be @(1)
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.AdapterNotFound,Get-HostNetwork'
        $errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errors[0].TargetObject | Should -Be 'nope'
        $errors[0].Exception.Message | Should -BeLike "*'nope'*"
    }

    It 'writes no error for a wildcard without a match' {
        $adapters = @(Get-HostNetwork -Name 'nothing*' -ErrorVariable errors)
        $adapters.Count | Should -Be 0
        $errors.Count | Should -Be 0
    }

    It 'selects by -InterfaceIndex and reports indexes without a match' {
        $adapters = @(Get-HostNetwork -InterfaceIndex 12, 99, 1 -ErrorVariable errors -ErrorAction SilentlyContinue)
        $adapters.InterfaceIndex | Should -Be @(12, 1)
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.AdapterNotFound,Get-HostNetwork'
        $errors[0].TargetObject | Should -Be 99
    }

    It 'takes InterfaceIndex and ifIndex from the pipeline with one request' {
        $adapters = @(
            [pscustomobject]@{ InterfaceIndex = 1 }
            [pscustomobject]@{ ifIndex = 12 }
        ) | Get-HostNetwork
        $adapters.InterfaceIndex | Should -Be @(1, 12)
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly
    }

    It 'takes the InterfaceIndex of routes from Get-HostRoute' {
        Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $routesJson } -ParameterFilter { $Method -eq 'network/routes' }
        @(Get-HostRoute -AddressFamily IPv4 | Get-HostNetwork).Name | Should -Be @('Ethernet 2')
    }

    It 'reports a host without a default route as WinsHost.AdapterNotFound' {
        Mock -ModuleName WinsHost Invoke-HostRpc { [pscustomobject]@{ adapters = @(); defaultInterfaceIndex = $null } } -ParameterFilter { $Method -eq 'network/adapters' }
        $adapters = @(Get-HostNetwork -ErrorVariable errors -ErrorAction SilentlyContinue)
        $adapters.Count | Should -Be 0
        $errors[0].FullyQualifiedErrorId | Should -BeExactly 'WinsHost.AdapterNotFound,Get-HostNetwork'
    }

    It 'has the parameter sets Default, All, ByIndex and ByName' {
        $command = Get-Command Get-HostNetwork
        @($command.ParameterSets.Name | Sort-Object) | Should -Be @('All', 'ByIndex', 'ByName', 'Default')
        $command.DefaultParameterSet | Should -Be 'Default'
        { Get-HostNetwork -All -Name x } | Should -Throw -ErrorId 'AmbiguousParameterSet,Get-HostNetwork'
        $command.Parameters['InterfaceIndex'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0].ValueFromPipelineByPropertyName | Should -BeTrue
    }

    It 'keeps properties a newer broker adds, after the known ones' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            $result = Get-AdapterResult -Params $Params
            $result.adapters[0] | Add-Member -NotePropertyName 'FutureField' -NotePropertyValue 'x'
            $result
        } -ParameterFilter { $Method -eq 'network/adapters' }
        $adapter = Get-HostNetwork
        @($adapter.PSObject.Properties.Name)[-1] | Should -Be 'FutureField'
    }
}

Describe 'Get-HostRoute' {
    BeforeEach {
        Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $routesJson } -ParameterFilter { $Method -eq 'network/routes' }
    }

    It 'sends no filter by default' {
        @(Get-HostRoute).Count | Should -Be 2
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Params.Count -eq 0 }
    }

    It 'sends addressFamily (as the protocol spells it) and interfaceIndex' {
        $null = Get-HostRoute -AddressFamily ipv6 -InterfaceIndex 7
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter {
            $Params['addressFamily'] -ceq 'IPv6' -and $Params['interfaceIndex'] -eq 7 -and $Params['interfaceIndex'] -is [int]
        }
    }

    It 'rejects an unknown address family' {
        { Get-HostRoute -AddressFamily IPv5 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-HostRoute'
    }

    It 'outputs WinsHost.NetworkRoute objects with exactly the properties of NetworkRoute in typings/network.ts' {
        $expected = Get-TypingsInterfaceProperty -File 'network.ts' -Interface 'NetworkRoute'
        foreach ($route in Get-HostRoute) {
            $route.PSObject.TypeNames[0] | Should -Be 'WinsHost.NetworkRoute'
            @($route.PSObject.Properties.Name) | Should -Be $expected
            $route.RouteMetric | Should -BeOfType [int]
        }
        (Get-HostRoute)[1].NextHop | Should -BeNullOrEmpty
    }

    It 'takes InterfaceIndex from piped adapters, one request per adapter' {
        Mock -ModuleName WinsHost Invoke-HostRpc { Get-AdapterResult -Params @{} } -ParameterFilter { $Method -eq 'network/adapters' }
        $null = Get-HostNetwork -All | Get-HostRoute
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 3 -Exactly -ParameterFilter { $Method -eq 'network/routes' }
        foreach ($index in 1, 7, 12) {
            Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'network/routes' -and $Params['interfaceIndex'] -eq $index }
        }
    }
}

Describe 'Get-HostInfo' {
    BeforeEach {
        Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $hostInfoJson } -ParameterFilter { $Method -eq 'host/info' }
    }

    It 'outputs WinsHost.HostInfo with the properties of HostInfoResult in typings/host.ts' {
        $info = Get-HostInfo
        $info.PSObject.TypeNames[0] | Should -Be 'WinsHost.HostInfo'
        @($info.PSObject.Properties.Name) | Should -Be (Get-TypingsInterfaceProperty -File 'host.ts' -Interface 'HostInfoResult')
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'host/info' }
    }

    It 'returns BootTime as a [datetime] on every edition' {
        $info = Get-HostInfo
        $info.BootTime | Should -BeOfType [datetime]
        $info.BootTime.ToUniversalTime() | Should -Be ([datetime]::new(2024, 5, 1, 10, 0, 0, [System.DateTimeKind]::Utc))
    }

    It 'outputs the Windows version values with the properties of WindowsVersionInfo' {
        $version = (Get-HostInfo).WindowsVersion
        $version.PSObject.TypeNames[0] | Should -Be 'WinsHost.WindowsVersionInfo'
        @($version.PSObject.Properties.Name) | Should -Be (Get-TypingsInterfaceProperty -File 'host.ts' -Interface 'WindowsVersionInfo')
        $version.UBR | Should -Be 2340
        $version.CurrentBuildNumber | Should -Be '20348'
    }

    It 'formats as a list' {
        $text = Get-HostInfo | Out-String
        $text | Should -Match 'HostName\s+: WIN-HOST'
        $text | Should -Match 'Uptime\s+: 1\.00:00:00'
        $text | Should -Match 'WindowsVersion\s+: Windows Server 2022 Datacenter 21H2'
    }
}

Describe 'Connect-HostBroker and Disconnect-HostBroker' {
    BeforeEach {
        Mock -ModuleName WinsHost Test-HostBrokerWindows { $false }
        Mock -ModuleName WinsHost Open-HostRpcConnection {
            # Open as far as the module can tell (nothing is sent on it); what Connect-HostBroker shows comes
            # from initialize, set here.
            $connection = [WinsHost.RpcConnection]::new($Endpoint, [System.IO.Stream][System.IO.MemoryStream]::new(), $TimeoutSec)
            $connection.ServerInfo = [pscustomobject]@{ name = 'winshost-broker'; version = '0.1.0'; platform = 'linux' }
            $connection.ProtocolVersion = 1
            $connection.Capabilities = [pscustomobject]@{ methods = @('host/info', 'network/adapters') }
            $connection.Caller = [pscustomobject]@{ listener = 'default'; profile = 'web'; uid = 1001; gid = 1001; pid = 77; netns = 'net:[4026532000]'; netnsName = 'web1' }
            $connection
        }
    }
    AfterEach {
        Disconnect-HostBroker
    }

    It 'outputs nothing without -PassThru' {
        Connect-HostBroker -Pipe '/srv/a.sock' | Should -BeNullOrEmpty
        Should -Invoke Open-HostRpcConnection -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Endpoint.Pipe -eq '/srv/a.sock' -and $TimeoutSec -eq 5 }
    }

    It 'outputs a WinsHost.Connection with -PassThru' {
        $connection = Connect-HostBroker -Pipe '/srv/a.sock' -TimeoutSec 9 -PassThru
        $connection.PSObject.TypeNames[0] | Should -Be 'WinsHost.Connection'
        foreach ($name in 'Pipe', 'Profile', 'Listener', 'Uid', 'Pid', 'NetNs', 'ServerVersion', 'ProtocolVersion', 'Methods') {
            $connection.PSObject.Properties.Name | Should -Contain $name
        }
        $connection.Pipe | Should -Be '/srv/a.sock'
        $connection.Profile | Should -Be 'web'
        $connection.Uid | Should -Be 1001
        $connection.Pid | Should -Be 77
        $connection.NetNs | Should -Be 'net:[4026532000]'
        $connection.ServerVersion | Should -Be '0.1.0'
        $connection.Methods | Should -Be @('host/info', 'network/adapters')
        Should -Invoke Open-HostRpcConnection -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $TimeoutSec -eq 9 }
        ($connection | Out-String) | Should -Match 'NetNs\s+: net:\[4026532000\] \(web1\)'
    }

    It 'replaces the current connection' {
        Connect-HostBroker -Pipe '/srv/a.sock'
        $first = InModuleScope WinsHost { $script:HostBrokerConnection }
        Connect-HostBroker -Pipe '/srv/a.sock'
        $first.IsOpen | Should -BeFalse
        InModuleScope WinsHost { $script:HostBrokerConnection.IsOpen } | Should -BeTrue
    }

    It 'reconnects when a WinsHost.Connection is piped to it' {
        Connect-HostBroker -Pipe '/srv/a.sock' -PassThru | Connect-HostBroker
        Should -Invoke Open-HostRpcConnection -ModuleName WinsHost -Times 2 -Exactly -ParameterFilter { $Endpoint.Pipe -eq '/srv/a.sock' }
    }

    It 'rejects an invalid pipe with WinsHost.InvalidPipe and keeps the connection' {
        Connect-HostBroker -Pipe '/srv/a.sock'
        $record = $null
        try { Connect-HostBroker -Pipe 'not-a-path' } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.InvalidPipe,Connect-HostBroker'
        InModuleScope WinsHost { $script:HostBrokerConnection.Endpoint.Pipe } | Should -Be '/srv/a.sock'
    }

    It 'Disconnect-HostBroker closes and forgets the connection' {
        Connect-HostBroker -Pipe '/srv/a.sock'
        $first = InModuleScope WinsHost { $script:HostBrokerConnection }
        Disconnect-HostBroker
        $first.IsOpen | Should -BeFalse
        InModuleScope WinsHost { $script:HostBrokerConnection } | Should -BeNullOrEmpty
        { Disconnect-HostBroker -ErrorAction Stop } | Should -Not -Throw
    }
}
