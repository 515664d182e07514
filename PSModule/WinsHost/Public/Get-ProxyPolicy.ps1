function Get-ProxyPolicy {
    <#
    .SYNOPSIS
    Gets the proxy policies on this container's network.

    .DESCRIPTION
    Asks the WinsHost broker for the proxy policies added with Add-ProxyPolicy on the caller's network (the
    'proxy/list' method): the HNS endpoint of the caller's container on Windows hosts, the caller's network
    namespace on Linux hosts. Policies of other containers are not listed.

    Each is a WinsHost.ProxyPolicy: InboundProxyPort, OutboundProxyPort, Protocol, InboundExceptions and
    OutboundExceptions (WinsHost.ProxyExceptions objects with Ports and IpAddresses), ExemptUser, Priority,
    Id (assigned by the broker), Target (the network namespace, net:[inode], or the HNS endpoint's
    container), Applied and Created. Applied is checked while listing: $false means the host no longer
    carries what was asked (the broker applies it again on its next reconciliation). Protocol and Priority
    show the defaults (TCP, 100) when the policy was added without them.

    With -Id only those policies are returned; an Id the broker does not list is reported as the
    non-terminating error WinsHost.ProxyPolicyNotFound (category ObjectNotFound). Ids are compared exactly,
    as the broker does.

    .PARAMETER Id
    The ids of the policies to get (as Add-ProxyPolicy -PassThru shows them, e.g. pp-1a2b3c4d5e6f). Without it,
    every policy of this container is returned.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-ProxyPolicy

    Lists the proxy policies of this container, with their ports, exempt user and whether they are applied.

    .EXAMPLE
    Get-ProxyPolicy | Format-List

    Shows every field of the policies, the exceptions included.

    .EXAMPLE
    if (-not (Get-ProxyPolicy | Where-Object OutboundProxyPort -eq 15001)) {
        Add-ProxyPolicy -OutboundProxyPort 15001 -InboundProxyPort 15006 -ExemptUser 1337
    }

    Adds the sidecar's redirection only when it is not in place yet, so a restarted init step does not add it
    twice.

    .INPUTS
    None.

    .OUTPUTS
    WinsHost.ProxyPolicy

    .LINK
    Add-ProxyPolicy

    .LINK
    Remove-ProxyPolicy

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.ProxyPolicy')]
    param(
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    try {
        $result = Invoke-HostRpc -Method 'proxy/list' -Pipe $Pipe
    }
    catch {
        $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
    }

    # Assigned first: the helper returns the list as one object, and @() then holds its items.
    $list = Get-HostBrokerMember -InputObject $result -Path 'policies'
    $policies = @(foreach ($item in @($list)) {
            if ($null -ne $item) {
                ConvertTo-HostProxyPolicy -InputObject $item
            }
        })

    if (-not $PSBoundParameters.ContainsKey('Id')) {
        $policies
        return
    }

    # Ordinal, as the ids are compared.
    $seen = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::Ordinal)
    foreach ($policyId in $Id) {
        $matched = @($policies | Where-Object { $_.Id -ceq $policyId })
        if ($matched.Count -eq 0) {
            $record = New-HostBrokerErrorRecord -ErrorId 'ProxyPolicyNotFound' -Category ObjectNotFound -ExceptionType ItemNotFound `
                -Message "The broker has no proxy policy with id '$policyId' on this container's network." -TargetObject $policyId `
                -RecommendedAction 'Run Get-ProxyPolicy to list the proxy policies of this container.'
            $PSCmdlet.WriteError($record)
            continue
        }
        if ($seen.Add($policyId)) {
            $matched
        }
    }
}
