<#
.SYNOPSIS
An example container script: sends the container's outbound traffic through a sidecar proxy and registers
the node with the mesh, using the host through WinsHost.

.DESCRIPTION
What a sidecar's init step might run. It reads the host's default adapter (Get-HostNetwork), redirects the
container's outbound TCP traffic to the proxy port except for the host's own subnet (Add-ProxyPolicy), then
runs the host's registration tool with the gateway (Start-HostProcess -Wait). When the tool fails, the proxy
policy is removed again so that the container is left as it was, and the script fails with the tool's
standard error. ContainerScript.Tests.ps1 tests it against a test broker; docs/testing.md explains how.

.OUTPUTS
An object with the adapter, subnet, policy id and the tool's output lines.
#>
[CmdletBinding()]
param(
    # The host program that registers this node with the mesh; it gets '--gateway <address>'.
    [Parameter(Mandatory)]
    [string] $RegisterTool,

    [ValidateRange(1, 65535)]
    [int] $ProxyPort = 15001
)

$ErrorActionPreference = 'Stop'

$adapter = Get-HostNetwork
if (-not $adapter.SubnetCIDR -or -not $adapter.GatewayAddress) {
    throw "The host's default adapter '$($adapter.Name)' has no IPv4 subnet or gateway; cannot set up the proxy."
}

$policy = Add-ProxyPolicy -OutboundProxyPort $ProxyPort -OutboundExceptionAddress $adapter.SubnetCIDR -PassThru

# The tool's stderr lines arrive as non-terminating errors: collect them for the message instead of stopping
# at the first one.
$toolErrors = @()
$registration = @(Start-HostProcess -FilePath $RegisterTool -ArgumentList '--gateway', $adapter.GatewayAddress -Wait -ErrorAction SilentlyContinue -ErrorVariable toolErrors)
if ($LASTEXITCODE -ne 0) {
    Remove-ProxyPolicy -Id $policy.Id
    $detail = @($toolErrors | ForEach-Object { $_.Exception.Message }) -join '; '
    throw "Registering the node failed (exit code $LASTEXITCODE): $detail"
}

[pscustomobject]@{
    Adapter       = $adapter.Name
    Subnet        = $adapter.SubnetCIDR
    ProxyPolicyId = $policy.Id
    Registration  = $registration
}
