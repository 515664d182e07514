function Remove-ProxyPolicy {
    <#
    .SYNOPSIS
    Removes proxy policies from this container's network, so its traffic is no longer redirected.

    .DESCRIPTION
    Asks the WinsHost broker to remove proxy policies added with Add-ProxyPolicy (the 'proxy/remove'
    method): one request per -Id, or one request for all of this container's policies with -All. The broker
    takes them off the host (the HNS endpoint's L4WFPPROXY policies on Windows, the nftables table in the
    caller's network namespace on Linux) at once and forgets them, so they are not applied again.

    Only the policies of the caller's own network can be removed. An id the broker does not know there is
    WinsHost.NotFound; errors the broker returns for one id are non-terminating, so that the other ids are
    still removed, and a lost connection ends the command. -All on a container without policies is not an
    error. Nothing is written to the pipeline; -Verbose shows the ids removed.

    .PARAMETER Id
    The ids of the policies to remove. The Id property of piped objects (Get-ProxyPolicy,
    Add-ProxyPolicy -PassThru) binds to it.

    .PARAMETER All
    Removes every proxy policy of this container's network.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .PARAMETER WhatIf
    Shows which policies would be removed without asking the broker.

    .PARAMETER Confirm
    Asks for confirmation before removing each policy.

    .EXAMPLE
    Remove-ProxyPolicy -Id pp-1a2b3c4d5e6f

    Removes one policy; the container's traffic it redirected goes directly again.

    .EXAMPLE
    Get-ProxyPolicy | Where-Object OutboundProxyPort -eq 15001 | Remove-ProxyPolicy

    Removes the policies that redirect outbound traffic to port 15001, one request per policy.

    .EXAMPLE
    Remove-ProxyPolicy -All -Confirm:$false

    Removes every proxy policy of this container, as hcnproxyctrl's 'clear' does for an endpoint; for
    example when the sidecar shuts down.

    .INPUTS
    Objects with an Id property, such as WinsHost.ProxyPolicy: it binds to -Id.

    .OUTPUTS
    None.

    .LINK
    Add-ProxyPolicy

    .LINK
    Get-ProxyPolicy

    .LINK
    about_WinsHost
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium', DefaultParameterSetName = 'ById')]
    [OutputType([void])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName, ParameterSetName = 'ById')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Id,

        [Parameter(Mandatory, ParameterSetName = 'All')]
        [switch] $All,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        if ($PSCmdlet.ParameterSetName -eq 'All') {
            if (-not $All) {
                return
            }
            if (-not $PSCmdlet.ShouldProcess('every proxy policy of this container', 'Remove')) {
                return
            }
            try {
                $result = Invoke-HostRpc -Method 'proxy/remove' -Params @{ all = $true } -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            # Assigned first: the helper returns the list as one object, and @() then holds its items.
            $list = Get-HostBrokerMember -InputObject $result -Path 'removed'
            $removed = @(@($list) | Where-Object { $null -ne $_ })
            Write-Verbose ("WinsHost: removed {0} proxy policies ({1})." -f $removed.Count, ($removed -join ', '))
            return
        }

        foreach ($policyId in $Id) {
            if (-not $PSCmdlet.ShouldProcess("proxy policy $policyId", 'Remove')) {
                continue
            }
            try {
                $null = Invoke-HostRpc -Method 'proxy/remove' -Params @{ id = $policyId } -Pipe $Pipe
            }
            catch {
                $record = New-HostBrokerErrorRecord -ErrorRecord $_
                if (@('WinsHost.ConnectionError', 'WinsHost.ProtocolError') -contains $record.FullyQualifiedErrorId -or
                    $record.FullyQualifiedErrorId -notlike 'WinsHost.*') {
                    $PSCmdlet.ThrowTerminatingError($record)
                }
                $PSCmdlet.WriteError($record)
                continue
            }
            Write-Verbose "WinsHost: removed proxy policy $policyId."
        }
    }
}
