function ConvertTo-HostNetworkAdapter {
    <#
    .SYNOPSIS
    Shapes a NetworkAdapter from the wire (typings/network.ts) as a WinsHost.NetworkAdapter.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.NetworkAdapter')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [psobject] $InputObject
    )

    process {
        # IPv4AddressInfo and IPv6AddressInfo differ only in Scope, which IPv4 addresses do not have.
        $ipv4Properties = @('Address', 'PrefixLength', 'AddressCIDR', 'SubnetCIDR')
        $ipv6Properties = @('Address', 'PrefixLength', 'AddressCIDR', 'SubnetCIDR', 'Scope')
        $addresses = {
            param($list, [string[]] $properties)
            # Always an array, also for one or no address, so that .Count and indexing are safe for callers.
            $converted = @(foreach ($item in @($list)) {
                    if ($null -ne $item) {
                        ConvertTo-HostBrokerObject -InputObject $item -TypeName 'WinsHost.IPAddress' -Property $properties -Integer @('PrefixLength')
                    }
                })
            , $converted
        }
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.NetworkAdapter' -Property @(
            'InterfaceIndex'
            'GatewayAddress'
            'SubnetCIDR'
            'HostName'
            'AddressCIDR'
            'Name'
            'Description'
            'MacAddress'
            'Mtu'
            'Status'
            'Type'
            'IsDefault'
            'IPv4Addresses'
            'IPv6Addresses'
            'IPv6GatewayAddress'
        ) -Integer @('InterfaceIndex') -Boolean @('IsDefault') -Transform @{
            # A ULONG on Windows, where the loopback adapter reports 4294967295: too big for Int32.
            Mtu = { param($value) if ($null -ne $value) { [long]$value } }
            IPv4Addresses = { param($list) & $addresses $list $ipv4Properties }.GetNewClosure()
            IPv6Addresses = { param($list) & $addresses $list $ipv6Properties }.GetNewClosure()
        }
    }
}
