function Get-HostNetwork {
    <#
    .SYNOPSIS
    Gets the container host's network adapters: addresses, gateway, subnet, MAC address and status.

    .DESCRIPTION
    Asks the WinsHost broker for the host's network adapters (the 'network/adapters' method).

    Without parameters, only the adapter that carries the host's default route is returned (IsDefault), the
    equivalent of 'wins cli net get'. -All returns every adapter; -InterfaceIndex and -Name select adapters.

    Unlike wins, numbers are numbers, AddressCIDR carries the real prefix length, and every IPv4 and IPv6
    address of an adapter is listed in IPv4Addresses and IPv6Addresses (WinsHost.IPAddress objects).

    An -InterfaceIndex, or a -Name without wildcards, that matches no adapter writes a non-terminating
    'WinsHost.AdapterNotFound' error and processing continues with the other values.

    .PARAMETER All
    Returns every adapter of the host instead of only the default one.

    .PARAMETER InterfaceIndex
    Returns the adapters with these interface indexes. Objects with an InterfaceIndex (or ifIndex) property,
    such as the routes from Get-HostRoute, can be piped in.

    .PARAMETER Name
    Returns the adapters with these names (e.g. eth0, 'vEthernet (nat)'). Wildcards are allowed; a pattern
    that matches nothing is not an error.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostNetwork

    Gets the host adapter of the default route, with its address, gateway and subnet.

    .EXAMPLE
    Get-HostNetwork -All | Format-Table -Property InterfaceIndex, Name, Status, AddressCIDR

    Lists every host adapter.

    .EXAMPLE
    Get-HostNetwork -Name 'vEthernet*' | Select-Object -ExpandProperty IPv4Addresses

    Shows all IPv4 addresses of the host's Hyper-V virtual adapters.

    .EXAMPLE
    Get-HostRoute -AddressFamily IPv4 | Where-Object IsDefault | Get-HostNetwork

    Gets the adapters that carry an IPv4 default route, by piping the routes' InterfaceIndex.

    .EXAMPLE
    (Get-HostNetwork).GatewayAddress

    Gets the host's default IPv4 gateway, for example to add a route from inside the container.

    .INPUTS
    System.Int32. The InterfaceIndex (or ifIndex) property of piped objects binds to -InterfaceIndex.

    .OUTPUTS
    WinsHost.NetworkAdapter

    .LINK
    Get-HostRoute

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(DefaultParameterSetName = 'Default')]
    [OutputType('WinsHost.NetworkAdapter')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'All')]
        [switch] $All,

        [Parameter(Mandatory, ParameterSetName = 'ByIndex', ValueFromPipelineByPropertyName)]
        [Alias('ifIndex')]
        [ValidateRange(0, 2147483647)]
        [int[]] $InterfaceIndex,

        [Parameter(Mandatory, ParameterSetName = 'ByName', Position = 0)]
        [SupportsWildcards()]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    begin {
        # -InterfaceIndex and -Name select here, from one full list per command however many values come
        # down the pipeline: that gives wildcard names and per-value "not found" errors without extra round
        # trips. The default adapter is selected by the broker (defaultOnly), which knows the routes.
        $adapters = $null
        # Adapters already output by this command: piped routes often name the same interface many times.
        $seen = @{}
        $getAdapters = {
            param([System.Collections.IDictionary] $Params)
            try {
                $result = Invoke-HostRpc -Method 'network/adapters' -Params $Params -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            $list = $null
            if ($null -ne $result -and $null -ne $result.PSObject.Properties['adapters']) {
                $list = $result.adapters
            }
            , @(foreach ($item in @($list)) {
                    if ($null -ne $item) {
                        ConvertTo-HostNetworkAdapter -InputObject $item
                    }
                })
        }
        $notFound = {
            param([string] $What, [object] $Target)
            $record = New-HostBrokerErrorRecord -ErrorId 'AdapterNotFound' -Category ObjectNotFound -ExceptionType ItemNotFound `
                -Message "The host has no network adapter $What." -TargetObject $Target `
                -RecommendedAction 'Run Get-HostNetwork -All to list the host adapters.'
            $PSCmdlet.WriteError($record)
        }
    }

    process {
        switch ($PSCmdlet.ParameterSetName) {
            'Default' {
                $selected = & $getAdapters @{ defaultOnly = $true }
                if ($selected.Count -eq 0) {
                    & $notFound 'with a default route' 'default'
                }
                $selected
            }
            'All' {
                # Assigned first: the helper returns the list as one object, and the cmdlet outputs its items.
                $everyAdapter = & $getAdapters @{}
                $everyAdapter
            }
            'ByIndex' {
                if ($null -eq $adapters) {
                    $adapters = & $getAdapters @{}
                }
                foreach ($index in $InterfaceIndex) {
                    $matched = @($adapters | Where-Object { $_.InterfaceIndex -eq $index })
                    if ($matched.Count -eq 0) {
                        & $notFound "with interface index $index" $index
                    }
                    foreach ($adapter in $matched) {
                        if (-not $seen.ContainsKey($adapter.InterfaceIndex)) {
                            $seen[$adapter.InterfaceIndex] = $true
                            $adapter
                        }
                    }
                }
            }
            'ByName' {
                if ($null -eq $adapters) {
                    $adapters = & $getAdapters @{}
                }
                foreach ($pattern in $Name) {
                    $hasWildcards = [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($pattern)
                    $wildcard = New-Object System.Management.Automation.WildcardPattern $pattern, ([System.Management.Automation.WildcardOptions]::IgnoreCase)
                    $matched = @($adapters | Where-Object { $wildcard.IsMatch([string]$_.Name) })
                    if ($matched.Count -eq 0 -and -not $hasWildcards) {
                        & $notFound "named '$pattern'" $pattern
                    }
                    foreach ($adapter in $matched) {
                        if (-not $seen.ContainsKey($adapter.InterfaceIndex)) {
                            $seen[$adapter.InterfaceIndex] = $true
                            $adapter
                        }
                    }
                }
            }
        }
    }
}
