function Add-ProxyPolicy {
    <#
    .SYNOPSIS
    Redirects this container's TCP (or UDP) traffic through a proxy listening in the container, such as a
    service mesh sidecar.

    .DESCRIPTION
    Asks the WinsHost broker to add a layer-4 proxy policy (the 'proxy/add' method) to the network of the
    caller: connections that leave the container are redirected to -OutboundProxyPort, connections that
    arrive are redirected to -InboundProxyPort, on the container's own network stack. This is what an
    Envoy or Istio sidecar needs to see all of a pod's traffic, and what hcnproxyctrl's 'add' command does on
    Windows - without an HNS endpoint id and without access to the container runtime (CRI): the broker knows
    which network the caller is in.

    On Windows hosts the broker puts an HNS L4WFPPROXY policy (L4WfpProxyPolicySetting) on the HNS endpoint
    of the caller's container (the container the profile's proxy.container names). On Linux hosts it writes
    an nftables table (inet winshost_proxy) in the caller's network namespace: inbound connections are
    redirected in prerouting, outbound ones in output. Loopback traffic and connections to the proxy ports
    themselves are never redirected. The broker keeps the policy and applies it again when the host lost it
    (a broker restart, a flushed ruleset); Get-ProxyPolicy shows whether it is applied.

    The proxy's own connections must not be redirected back to it, or they loop: run the proxy as a user the
    policy exempts with -ExemptUser. On Windows this is a SID; a group SID covers the users in that group (the
    convention is S-1-5-32-556, Network Configuration Operators, with the proxy running as a member). On Linux
    it is 'uid:N', 'gid:N' or a bare uid number; gid matches only the primary group of the process (Istio runs
    its proxy as uid 1337). The exemption applies to outbound traffic.

    At least one of -InboundProxyPort and -OutboundProxyPort is required; without either the command fails
    with WinsHost.ProxyPortRequired before anything is sent. Ports are checked here (1 to 65535); addresses
    and CIDRs are checked by the broker, which answers WinsHost.InvalidParams naming the field (for example
    policy.InboundExceptions.IpAddresses.0). The policy of your profile must allow the proxy ports
    (proxy.ports) and the exempt user (proxy.exemptUsers), otherwise the broker refuses with
    WinsHost.PolicyDenied naming that rule. UDP is refused with WinsHost.NotSupportedOnPlatform where the host
    cannot redirect it (HNS supports TCP only).

    .PARAMETER InboundProxyPort
    The port in the container that inbound connections are redirected to (Envoy's 15006 in Istio).

    .PARAMETER OutboundProxyPort
    The port in the container that outbound connections are redirected to (Envoy's 15001 in Istio).

    .PARAMETER Protocol
    TCP (the broker's default) or UDP.

    .PARAMETER InboundExceptionPort
    Local ports whose inbound connections are not redirected, such as a health or metrics port the kubelet
    probes directly.

    .PARAMETER InboundExceptionAddress
    Source IP addresses or CIDRs (IPv4 or IPv6) whose inbound connections are not redirected.

    .PARAMETER OutboundExceptionPort
    Destination ports whose outbound connections are not redirected.

    .PARAMETER OutboundExceptionAddress
    Destination IP addresses or CIDRs (IPv4 or IPv6) whose outbound connections are not redirected, such as
    the cloud metadata address 169.254.169.254.

    .PARAMETER ExemptUser
    The user whose traffic is not redirected: the proxy's own. Windows hosts: a user or group SID
    (S-1-5-32-556). Linux hosts: 'uid:N', 'gid:N' (the primary gid of the process) or a uid number (1337). The
    profile's proxy.exemptUsers must list it.

    .PARAMETER Priority
    The order among several policies of the same container, from 0 to 65535; lower applies first. The
    broker's default is 100.

    .PARAMETER PassThru
    Outputs the WinsHost.ProxyPolicy the broker added, with its Id.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .PARAMETER WhatIf
    Shows the policy that would be added without asking the broker.

    .PARAMETER Confirm
    Asks for confirmation before adding the policy.

    .EXAMPLE
    Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337

    The sidecar case on a Linux host: an Envoy/Istio-style proxy in the same pod, running as uid 1337 and
    listening on 15001 (outbound) and 15006 (inbound), gets every TCP connection of the container, except its
    own. Run it from the sidecar's init step; like hcnproxyctrl's 'add', but without an endpoint id or CRI
    access.

    .EXAMPLE
    Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser S-1-5-32-556

    The same sidecar case on a Windows host: the proxy runs as a member of Network Configuration Operators
    (S-1-5-32-556), whose traffic the HNS L4WFPPROXY policy leaves alone.

    .EXAMPLE
    Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337 -InboundExceptionPort 15020, 15021 -OutboundExceptionAddress 169.254.169.254/32 -PassThru

    Leaves the proxy's own health and metrics ports and the metadata service out of the redirection, and shows
    the policy with its Id.

    .EXAMPLE
    Add-ProxyPolicy -OutboundProxyPort 15001 -ExemptUser uid:1337 -WhatIf

    Shows the policy that would be added, without asking the broker.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.ProxyPolicy with -PassThru; otherwise none.

    .LINK
    Get-ProxyPolicy

    .LINK
    Remove-ProxyPolicy

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType('WinsHost.ProxyPolicy')]
    param(
        [ValidateRange(1, 65535)]
        [int] $InboundProxyPort,

        [ValidateRange(1, 65535)]
        [int] $OutboundProxyPort,

        [ValidateSet('TCP', 'UDP')]
        [string] $Protocol,

        [ValidateNotNullOrEmpty()]
        [ValidateRange(1, 65535)]
        [int[]] $InboundExceptionPort,

        [ValidateNotNullOrEmpty()]
        [string[]] $InboundExceptionAddress,

        [ValidateNotNullOrEmpty()]
        [ValidateRange(1, 65535)]
        [int[]] $OutboundExceptionPort,

        [ValidateNotNullOrEmpty()]
        [string[]] $OutboundExceptionAddress,

        [Alias('UserSid')]
        [ValidateNotNullOrEmpty()]
        [string] $ExemptUser,

        [ValidateRange(0, 65535)]
        [int] $Priority,

        [switch] $PassThru,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    end {
        if (-not $PSBoundParameters.ContainsKey('InboundProxyPort') -and -not $PSBoundParameters.ContainsKey('OutboundProxyPort')) {
            $record = New-HostBrokerErrorRecord -ErrorId 'ProxyPortRequired' -Category InvalidArgument -ExceptionType Argument `
                -Message 'A proxy policy needs a port to redirect to: give -OutboundProxyPort, -InboundProxyPort or both.' `
                -RecommendedAction 'Give the port your proxy listens on, for example -OutboundProxyPort 15001 -InboundProxyPort 15006.'
            $PSCmdlet.ThrowTerminatingError($record)
        }

        # Distinct values in the order given; $null when nothing was given, so that no empty list is sent.
        $distinctPorts = {
            param([int[]] $Values)
            $list = New-Object System.Collections.Generic.List[int]
            foreach ($value in $Values) {
                if (-not $list.Contains($value)) {
                    $list.Add($value)
                }
            }
            if ($list.Count -eq 0) {
                return $null
            }
            , $list.ToArray()
        }
        $distinctAddresses = {
            param([string[]] $Values)
            $list = New-Object System.Collections.Generic.List[string]
            foreach ($value in $Values) {
                $text = ([string]$value).Trim()
                if ($text -and -not ($list -contains $text)) {
                    $list.Add($text)
                }
            }
            if ($list.Count -eq 0) {
                return $null
            }
            , $list.ToArray()
        }
        # { Ports, IpAddresses } with only what was given, or $null: the broker refuses an empty object.
        $newExceptions = {
            param($Ports, $Addresses)
            $exceptions = [ordered]@{}
            if ($null -ne $Ports) {
                $exceptions['Ports'] = $Ports
            }
            if ($null -ne $Addresses) {
                $exceptions['IpAddresses'] = $Addresses
            }
            if ($exceptions.Count -eq 0) {
                return $null
            }
            $exceptions
        }

        $policy = [ordered]@{}
        $described = New-Object System.Collections.Generic.List[string]
        $protocolName = 'TCP'
        if ($PSBoundParameters.ContainsKey('Protocol')) {
            $protocolName = $Protocol.ToUpperInvariant()
        }
        if ($PSBoundParameters.ContainsKey('InboundProxyPort')) {
            $policy['InboundProxyPort'] = $InboundProxyPort
            $described.Add(('inbound {0} to port {1}' -f $protocolName, $InboundProxyPort))
        }
        if ($PSBoundParameters.ContainsKey('OutboundProxyPort')) {
            $policy['OutboundProxyPort'] = $OutboundProxyPort
            $described.Add(('outbound {0} to port {1}' -f $protocolName, $OutboundProxyPort))
        }
        if ($PSBoundParameters.ContainsKey('Protocol')) {
            $policy['Protocol'] = $protocolName
        }

        $inbound = & $newExceptions (& $distinctPorts $InboundExceptionPort) (& $distinctAddresses $InboundExceptionAddress)
        if ($null -ne $inbound) {
            $policy['InboundExceptions'] = $inbound
        }
        $outbound = & $newExceptions (& $distinctPorts $OutboundExceptionPort) (& $distinctAddresses $OutboundExceptionAddress)
        if ($null -ne $outbound) {
            $policy['OutboundExceptions'] = $outbound
        }
        if ($PSBoundParameters.ContainsKey('ExemptUser')) {
            $policy['ExemptUser'] = $ExemptUser.Trim()
            $described.Add(('except the traffic of user {0}' -f $policy['ExemptUser']))
        }
        if ($PSBoundParameters.ContainsKey('Priority')) {
            $policy['Priority'] = $Priority
        }

        $target = 'redirect this container''s ' + ($described -join ', ')
        if (-not $PSCmdlet.ShouldProcess($target, 'Add proxy policy')) {
            return
        }

        try {
            $result = Invoke-HostRpc -Method 'proxy/add' -Params @{ policy = $policy } -Pipe $Pipe
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }
        $added = ConvertTo-HostProxyPolicy -InputObject $result
        Write-Verbose ("WinsHost: added proxy policy {0} on {1}." -f $added.Id, $added.Target)
        if ($PassThru) {
            $added
        }
    }
}
