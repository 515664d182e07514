function ConvertTo-HostNetworkRoute {
    <#
    .SYNOPSIS
    Shapes a NetworkRoute from the wire (typings/network.ts) as a WinsHost.NetworkRoute.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.NetworkRoute')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [psobject] $InputObject
    )

    process {
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.NetworkRoute' -Property @(
            'AddressFamily'
            'DestinationPrefix'
            'NextHop'
            'InterfaceIndex'
            'InterfaceAlias'
            'RouteMetric'
            'Protocol'
            'Scope'
            'IsDefault'
        ) -Integer @('InterfaceIndex', 'RouteMetric') -Boolean @('IsDefault')
    }
}
