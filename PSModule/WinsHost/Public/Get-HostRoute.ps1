function Get-HostRoute {
    <#
    .SYNOPSIS
    Gets the container host's IP routing table.

    .DESCRIPTION
    Asks the WinsHost broker for the host's routes (the 'network/routes' method), optionally only those of one
    address family or one interface. The broker filters, so only the selected routes cross the pipe.

    Each route is a WinsHost.NetworkRoute: DestinationPrefix (CIDR; 0.0.0.0/0 and ::/0 are default routes),
    NextHop ($null for on-link routes), InterfaceIndex, InterfaceAlias, RouteMetric, Protocol, Scope and
    IsDefault.

    .PARAMETER AddressFamily
    IPv4 or IPv6. Without it, routes of both families are returned.

    .PARAMETER InterfaceIndex
    Returns only the routes through the interface with this index. Objects with an InterfaceIndex (or
    ifIndex) property, such as the adapters from Get-HostNetwork, can be piped in.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostRoute

    Lists all IPv4 and IPv6 routes of the host.

    .EXAMPLE
    Get-HostRoute -AddressFamily IPv4 | Where-Object IsDefault

    Gets the host's IPv4 default routes.

    .EXAMPLE
    Get-HostNetwork | Get-HostRoute -AddressFamily IPv4

    Gets the IPv4 routes through the host's default adapter; the adapter's InterfaceIndex is piped.

    .INPUTS
    System.Int32. The InterfaceIndex (or ifIndex) property of piped objects binds to -InterfaceIndex.

    .OUTPUTS
    WinsHost.NetworkRoute

    .LINK
    Get-HostNetwork

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.NetworkRoute')]
    param(
        [ValidateSet('IPv4', 'IPv6')]
        [string] $AddressFamily,

        [Parameter(ValueFromPipelineByPropertyName)]
        [Alias('ifIndex')]
        [ValidateRange(0, 2147483647)]
        [int] $InterfaceIndex,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        $params = @{}
        if ($PSBoundParameters.ContainsKey('AddressFamily')) {
            # ValidateSet accepts any casing; the broker's schema does not.
            $params['addressFamily'] = @{ ipv4 = 'IPv4'; ipv6 = 'IPv6' }[$AddressFamily.ToLowerInvariant()]
        }
        if ($PSBoundParameters.ContainsKey('InterfaceIndex')) {
            $params['interfaceIndex'] = [int]$InterfaceIndex
        }

        try {
            $result = Invoke-HostRpc -Method 'network/routes' -Params $params -Pipe $Pipe
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }

        $routes = $null
        if ($null -ne $result -and $null -ne $result.PSObject.Properties['routes']) {
            $routes = $result.routes
        }
        foreach ($route in @($routes)) {
            if ($null -ne $route) {
                ConvertTo-HostNetworkRoute -InputObject $route
            }
        }
    }
}
