# The host Start-WinsHostTestBroker plays when -Fixture is not given, or under the keys a -Fixture hashtable
# does not set: a Windows Server 2022 container host with its physical adapter and the NAT switch. It is the
# fixture format of 'winshost-broker serve --fixture' (JSON there); 'winshost-broker record-fixture' writes
# one from a real host.
@{
    version     = 1
    description = 'WinsHost.Testing default: a Windows Server 2022 container host (node-1)'
    host        = @{
        HostName       = 'node-1'
        Platform       = 'windows'
        OSName         = 'Windows Server 2022 Datacenter'
        OSVersion      = '10.0.20348'
        OSBuild        = '20348.2227'
        KernelVersion  = '10.0.20348.2227'
        Architecture   = 'x86_64'
        UptimeSeconds  = 86400
        BootTime       = '2026-01-01T00:00:00.000Z'
    }
    network     = @{
        defaultInterfaceIndex = 6
        adapters              = @(
            @{
                InterfaceIndex     = 1
                GatewayAddress     = $null
                SubnetCIDR         = '127.0.0.0/8'
                HostName           = 'node-1'
                AddressCIDR        = '127.0.0.1/8'
                Name               = 'Loopback Pseudo-Interface 1'
                Description        = 'Software Loopback Interface 1'
                MacAddress         = $null
                Mtu                = 1500
                Status             = 'Up'
                Type               = 'loopback'
                IsDefault          = $false
                IPv4Addresses      = @(@{ Address = '127.0.0.1'; PrefixLength = 8; AddressCIDR = '127.0.0.1/8'; SubnetCIDR = '127.0.0.0/8' })
                IPv6Addresses      = @(@{ Address = '::1'; PrefixLength = 128; AddressCIDR = '::1/128'; SubnetCIDR = '::1/128'; Scope = 'host' })
                IPv6GatewayAddress = $null
            }
            @{
                InterfaceIndex     = 6
                GatewayAddress     = '10.170.0.1'
                SubnetCIDR         = '10.170.0.0/20'
                HostName           = 'node-1'
                AddressCIDR        = '10.170.15.229/20'
                Name               = 'Ethernet'
                Description        = 'Microsoft Hyper-V Network Adapter'
                MacAddress         = '00:15:5d:01:02:03'
                Mtu                = 1500
                Status             = 'Up'
                Type               = 'ethernet'
                IsDefault          = $true
                IPv4Addresses      = @(@{ Address = '10.170.15.229'; PrefixLength = 20; AddressCIDR = '10.170.15.229/20'; SubnetCIDR = '10.170.0.0/20' })
                IPv6Addresses      = @(@{ Address = 'fe80::215:5dff:fe01:203'; PrefixLength = 64; AddressCIDR = 'fe80::215:5dff:fe01:203/64'; SubnetCIDR = 'fe80::/64'; Scope = 'link' })
                IPv6GatewayAddress = $null
            }
            @{
                InterfaceIndex     = 12
                GatewayAddress     = $null
                SubnetCIDR         = '172.22.16.0/20'
                HostName           = 'node-1'
                AddressCIDR        = '172.22.16.1/20'
                Name               = 'vEthernet (nat)'
                Description        = 'Hyper-V Virtual Ethernet Adapter'
                MacAddress         = '00:15:5d:0a:0b:0c'
                Mtu                = 1500
                Status             = 'Up'
                Type               = 'ethernet'
                IsDefault          = $false
                IPv4Addresses      = @(@{ Address = '172.22.16.1'; PrefixLength = 20; AddressCIDR = '172.22.16.1/20'; SubnetCIDR = '172.22.16.0/20' })
                IPv6Addresses      = @()
                IPv6GatewayAddress = $null
            }
        )
        routes                = @(
            @{ AddressFamily = 'IPv4'; DestinationPrefix = '0.0.0.0/0'; NextHop = '10.170.0.1'; InterfaceIndex = 6; InterfaceAlias = 'Ethernet'; RouteMetric = 0; Protocol = 'NetMgmt'; Scope = 'universe'; IsDefault = $true }
            @{ AddressFamily = 'IPv4'; DestinationPrefix = '10.170.0.0/20'; NextHop = $null; InterfaceIndex = 6; InterfaceAlias = 'Ethernet'; RouteMetric = 256; Protocol = 'Local'; Scope = 'universe'; IsDefault = $false }
            @{ AddressFamily = 'IPv4'; DestinationPrefix = '172.22.16.0/20'; NextHop = $null; InterfaceIndex = 12; InterfaceAlias = 'vEthernet (nat)'; RouteMetric = 256; Protocol = 'Local'; Scope = 'universe'; IsDefault = $false }
            @{ AddressFamily = 'IPv6'; DestinationPrefix = '::1/128'; NextHop = $null; InterfaceIndex = 1; InterfaceAlias = 'Loopback Pseudo-Interface 1'; RouteMetric = 256; Protocol = 'Local'; Scope = 'universe'; IsDefault = $false }
        )
    }
    processes   = @{}
}
