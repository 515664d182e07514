# End to end: the real broker process, and PowerShell callers in another network namespace running as other
# uids, through the real module. Needs root (ip netns, setpriv); in CI (CI=true) that is a failure, elsewhere
# the tests skip with a message.

BeforeDiscovery {
    $script:isRoot = $IsLinux -and ((id -u) -eq '0')
    $script:skipNamespaces = (-not $script:isRoot) -and ($env:CI -ne 'true')
    if ($script:skipNamespaces) {
        Write-Warning 'e2e namespace tests skipped: they need root on Linux (ip netns, veth, setpriv). Run npm test as root to include them.'
    }
}

Describe 'WinsHost end to end from a caller in another network namespace' -Tag 'e2e' -Skip:$skipNamespaces {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'support' 'E2E.ps1')
        $script:readerUid = 4242
        $script:hostOnlyUid = 4243
        $script:strangerUid = 4244
        $script:e2e = New-E2EEnvironment -CallerUid $readerUid -Policy @"
listeners:
  - name: e2e
    mode: '0666'
    profiles: [reader, hostonly]
profiles:
  reader:
    match: { uid: $readerUid, netns: '{namespace}' }
    host: { read: true }
    network: { read: true }
  hostonly:
    match: { uid: $hostOnlyUid }
    host: { read: true }
"@
        $script:namespace = $e2e.Namespace
        $script:hostVeth = $e2e.HostVeth
        $script:callerVeth = $e2e.CallerVeth
        $script:socket = $e2e.Socket
        $script:broker = $e2e.Broker
        function Invoke-Caller {
            param([int] $Uid, [string] $Script)
            Invoke-E2ECaller -Environment $e2e -Uid $Uid -Script $Script
        }
        function Get-AuditEntries { Get-E2EAuditEntry -Environment $e2e }

        $script:readerView = Invoke-Caller -Uid $readerUid -Script @'
$ErrorActionPreference = 'Stop'
Import-Module $env:WINSHOST_MODULE
$connection = Connect-HostBroker -PassThru
$all = @(Get-HostNetwork -All)
[pscustomobject]@{
    Connection  = $connection
    Adapters    = $all
    AdapterType = $all[0].PSObject.TypeNames[0]
    Default     = @(Get-HostNetwork)
    Routes      = @(Get-HostRoute)
    RouteType   = @(Get-HostRoute)[0].PSObject.TypeNames[0]
    Info        = Get-HostInfo
    OwnAddresses = @(ip -j addr | ConvertFrom-Json | ForEach-Object { $_.ifname })
} | ConvertTo-Json -Depth 8
'@
        $script:hostLinks = ip -j addr show | ConvertFrom-Json
        $script:hostRoutes4 = ip -j -4 route show table main | ConvertFrom-Json
        $script:hostRoutes6 = ip -j -6 route show table main | ConvertFrom-Json
    }

    AfterAll {
        Remove-E2EEnvironment -Environment $script:e2e
    }

    It 'identifies the caller by the kernel: uid, namespace and profile' {
        $connection = $readerView.Connection
        $connection.Uid | Should -Be $readerUid
        $connection.NetNsName | Should -Be $namespace
        $connection.NetNs | Should -Match '^net:\[\d+\]$'
        $connection.Profile | Should -Be 'reader'
    }

    It 'the caller really is in another namespace' {
        $readerView.OwnAddresses | Should -Contain $callerVeth
        $readerView.OwnAddresses | Should -Not -Contain $hostVeth
    }

    It 'returns typed adapter and route objects' {
        $readerView.AdapterType | Should -Be 'WinsHost.NetworkAdapter'
        $readerView.RouteType | Should -Be 'WinsHost.NetworkRoute'
    }

    It 'gets every host adapter, equal to ip -j addr on the host' {
        $adapters = @($readerView.Adapters)
        ($adapters.InterfaceIndex | Sort-Object) | Should -Be ($hostLinks.ifindex | Sort-Object)
        foreach ($link in $hostLinks) {
            $adapter = $adapters | Where-Object InterfaceIndex -EQ $link.ifindex
            $adapter.Name | Should -Be $link.ifname
            $adapter.Mtu | Should -Be $link.mtu
            if ($link.link_type -eq 'ether') { $adapter.MacAddress | Should -Be $link.address.ToLowerInvariant() }
            $expected4 = @($link.addr_info | Where-Object family -EQ 'inet' | ForEach-Object { "$($_.local)/$($_.prefixlen)" })
            $expected6 = @($link.addr_info | Where-Object family -EQ 'inet6' | ForEach-Object { "$($_.local)/$($_.prefixlen)" })
            @($adapter.IPv4Addresses | ForEach-Object AddressCIDR) | Should -Be $expected4
            @($adapter.IPv6Addresses | ForEach-Object AddressCIDR) | Should -Be $expected6
        }
        ($adapters | Where-Object Name -EQ $hostVeth).AddressCIDR | Should -Be '198.51.100.1/30'
        ($adapters | Where-Object Name -EQ $hostVeth).SubnetCIDR | Should -Be '198.51.100.0/30'
    }

    It 'gets the default adapter: the one of the host default route, with its gateway' {
        $defaultRoute = $hostRoutes4 | Where-Object dst -EQ 'default' | Select-Object -First 1
        if (-not $defaultRoute) { Set-ItResult -Inconclusive -Because 'the host has no IPv4 default route' }
        $default = @($readerView.Default)
        $default.Count | Should -Be 1
        $default[0].Name | Should -Be $defaultRoute.dev
        $default[0].GatewayAddress | Should -Be $defaultRoute.gateway
        $default[0].IsDefault | Should -BeTrue
        $default[0].HostName | Should -Be (hostname)
    }

    It 'gets the host routes, equal to ip -j route on the host' {
        $routes = @($readerView.Routes)
        foreach ($family in @(@{ Name = 'IPv4'; Routes = $hostRoutes4; Default = '0.0.0.0/0'; Width = 32 }, @{ Name = 'IPv6'; Routes = $hostRoutes6; Default = '::/0'; Width = 128 })) {
            $mine = @($routes | Where-Object AddressFamily -EQ $family.Name)
            $mine.Count | Should -Be @($family.Routes).Count
            foreach ($route in $family.Routes) {
                $prefix = if ($route.dst -eq 'default') { $family.Default } elseif ($route.dst -like '*/*') { $route.dst } else { "$($route.dst)/$($family.Width)" }
                $metric = if ($null -ne $route.metric) { $route.metric } else { 0 }
                $match = @($mine | Where-Object { $_.DestinationPrefix -eq $prefix -and $_.InterfaceAlias -eq $route.dev -and $_.RouteMetric -eq $metric -and $_.NextHop -eq $route.gateway })
                $match.Count | Should -Be 1 -Because "route $prefix dev $($route.dev) should be reported once"
            }
        }
    }

    It 'gets the host facts' {
        $readerView.Info.HostName | Should -Be (hostname)
        $readerView.Info.Platform | Should -Be 'linux'
        $readerView.Info.KernelVersion | Should -Be (uname -r)
    }

    It 'denies network reading to a profile that does not grant it, naming the rule, and audits it' {
        $denied = Invoke-Caller -Uid $hostOnlyUid -Script @'
Import-Module $env:WINSHOST_MODULE
$info = Get-HostInfo
try { Get-HostNetwork -ErrorAction Stop; $record = $null } catch { $record = $_ }
[pscustomobject]@{
    HostName = $info.HostName
    Id       = $record.FullyQualifiedErrorId
    Category = [string]$record.CategoryInfo.Category
    Message  = $record.Exception.Message
} | ConvertTo-Json
'@
        $denied.HostName | Should -Be (hostname)
        $denied.Id | Should -Be 'WinsHost.PolicyDenied,Get-HostNetwork'
        $denied.Category | Should -Be 'PermissionDenied'
        $denied.Message | Should -Match 'profiles\.hostonly\.network\.read'
        $line = Get-AuditEntries | Where-Object { $_.peer.uid -eq $hostOnlyUid -and $_.method -eq 'network/adapters' }
        $line.decision | Should -Be 'deny'
        $line.rule | Should -Be 'profiles.hostonly.network.read'
        $line.resultCode | Should -Be -32001
        $line.peer.netnsName | Should -Be $namespace
    }

    It 'refuses a caller that no profile matches' {
        $refused = Invoke-Caller -Uid $strangerUid -Script @'
Import-Module $env:WINSHOST_MODULE
try { Get-HostInfo -ErrorAction Stop; $record = $null } catch { $record = $_ }
[pscustomobject]@{ Id = $record.FullyQualifiedErrorId; Category = [string]$record.CategoryInfo.Category } | ConvertTo-Json
'@
        $refused.Id | Should -Match '^WinsHost\.PolicyDenied,'
        $refused.Category | Should -Be 'PermissionDenied'
        $connect = Get-AuditEntries | Where-Object { $_.peer.uid -eq $strangerUid -and $_.method -eq '<connect>' }
        $connect.decision | Should -Be 'deny'
        $connect.reason | Should -Be 'NoProfileMatched'
    }

    It 'writes an audit line for every decision, allowed and denied' {
        $entries = @(Get-AuditEntries)
        $reader = @($entries | Where-Object { $_.peer.uid -eq $readerUid })
        ($reader | Where-Object method -EQ 'network/adapters' | Select-Object -First 1).decision | Should -Be 'allow'
        ($reader | Where-Object method -EQ 'host/info').rule | Should -Be 'profiles.reader.host.read'
        foreach ($entry in $entries) {
            $entry.time | Should -Not -BeNullOrEmpty
            $entry.listener | Should -Be 'e2e'
            $entry.decision | Should -BeIn 'allow', 'deny', 'error'
        }
    }

    It 'survives garbage on the socket without disturbing another client' {
        $garbage = New-Object System.IO.Pipes.NamedPipeClientStream('.', $socket, [System.IO.Pipes.PipeDirection]::InOut)
        $garbage.Connect(5000)
        $bytes = [Text.Encoding]::ASCII.GetBytes("Content-Length: -1`r`n`r`n" + ('x' * 5000))
        $garbage.Write($bytes, 0, $bytes.Length)
        $garbage.Flush()
        $again = Invoke-Caller -Uid $readerUid -Script 'Import-Module $env:WINSHOST_MODULE; @(Get-HostNetwork -All).Count | ConvertTo-Json'
        $again | Should -Be @($readerView.Adapters).Count
        $garbage.Dispose()
        $broker.HasExited | Should -BeFalse
    }

    It 'stops cleanly on SIGTERM: socket removed, exit code 0' {
        kill -TERM $broker.Id
        $broker.WaitForExit(10000) | Should -BeTrue
        $broker.ExitCode | Should -Be 0
        Test-Path $socket | Should -BeFalse
    }
}

Describe 'WinsHost with no broker' -Tag 'e2e' {
    It 'names the pipe it tried in a ConnectionError' {
        $modulePath = Join-Path $PSScriptRoot '..' '..' 'PSModule' 'WinsHost' 'WinsHost.psd1'
        $missing = Join-Path ([IO.Path]::GetTempPath()) "winshost-none-$([Guid]::NewGuid().ToString('n')).sock"
        $result = & (Join-Path $PSScriptRoot '..' '..' '.tools' 'pwsh' 'pwsh') -NoLogo -NoProfile -NonInteractive -Command @"
Import-Module '$modulePath'
try { Get-HostNetwork -Pipe '$missing' -ErrorAction Stop } catch { `$r = `$_ }
[pscustomobject]@{ Id = `$r.FullyQualifiedErrorId; Category = [string]`$r.CategoryInfo.Category; Message = `$r.Exception.Message } | ConvertTo-Json
"@ | ConvertFrom-Json
        $result.Id | Should -Be 'WinsHost.ConnectionError,Get-HostNetwork'
        $result.Category | Should -Be 'ConnectionError'
        $result.Message | Should -BeLike "*$missing*"
    }
}
