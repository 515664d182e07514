# End to end for proxy policies through the module: a sidecar in the caller namespace redirects the
# caller's TCP through itself with Add-ProxyPolicy; real connections show where traffic lands.
# Needs root and nft; in CI that is a failure.

BeforeDiscovery {
    $script:skipNamespaces = (-not ($IsLinux -and ((id -u) -eq '0'))) -and ($env:CI -ne 'true')
    if ($script:skipNamespaces) {
        Write-Warning 'e2e proxy tests skipped: they need root on Linux (ip netns, veth, nft).'
    }
}

Describe 'Proxy policies from a sidecar in another namespace' -Tag 'e2e' -Skip:$skipNamespaces {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'support' 'E2E.ps1')
        $script:uid = 4272
        $script:e2e = New-E2EEnvironment -CallerUid $uid -Policy @"
listeners:
  - name: proxy
    mode: '0666'
    profiles: [sidecar]
profiles:
  sidecar:
    match: { uid: $uid, netns: '{namespace}' }
    proxy: { ports: [15001], exemptUsers: ['uid:1337'] }
"@
        # The E2E environment joins the caller namespace (198.51.100.2) to the host (198.51.100.1).
        $probe = Join-Path $e2e.Repo 'test' 'broker' 'support' 'tcp-probe.ts'
        $script:servers = @(
            Start-Process -PassThru -FilePath ip -ArgumentList @('netns', 'exec', $e2e.Namespace, (Get-Command node).Source, '--import', 'tsx', $probe, 'serve', 'proxy', '15001') -WorkingDirectory $e2e.Repo
            Start-Process -PassThru -FilePath (Get-Command node).Source -ArgumentList @('--import', 'tsx', $probe, 'serve', 'direct', '18080') -WorkingDirectory $e2e.Repo
        )
        function Get-Landing([int] $As = 0) {
            $line = ip netns exec $e2e.Namespace setpriv "--reuid=$As" "--regid=$As" --clear-groups bash -c 'exec 3<>/dev/tcp/198.51.100.1/18080 && head -n1 <&3' 2>&1
            [string]$line
        }
        $deadline = (Get-Date).AddSeconds(20)
        while ((Get-Landing) -notlike 'direct*') {
            if ((Get-Date) -gt $deadline) { throw 'the probe servers did not start' }
            Start-Sleep -Milliseconds 200
        }
    }

    AfterAll {
        foreach ($server in $script:servers) { if ($server -and -not $server.HasExited) { $server.Kill() } }
        Remove-E2EEnvironment -Environment $script:e2e
    }

    It 'redirects the caller outbound TCP to its sidecar, exempts the sidecar user, and goes direct after removal' {
        (Get-Landing) | Should -BeLike 'direct 18080 198.51.100.1:18080'
        $added = Invoke-E2ECaller -Environment $e2e -Uid $uid -Script @'
Import-Module $env:WINSHOST_MODULE
$p = Add-ProxyPolicy -OutboundProxyPort 15001 -ExemptUser 'uid:1337' -PassThru
[pscustomobject]@{ Id = $p.Id; Type = $p.PSObject.TypeNames[0]; Listed = @(Get-ProxyPolicy).Count; Applied = (Get-ProxyPolicy).Applied } | ConvertTo-Json
'@
        $added.Type | Should -Be 'WinsHost.ProxyPolicy'
        $added.Listed | Should -Be 1
        $added.Applied | Should -BeTrue
        (Get-Landing) | Should -Be 'proxy 15001 198.51.100.1:18080'
        (Get-Landing -As 1337) | Should -BeLike 'direct 18080 *'
        $removed = Invoke-E2ECaller -Environment $e2e -Uid $uid -Script @'
Import-Module $env:WINSHOST_MODULE
Get-ProxyPolicy | Remove-ProxyPolicy -Confirm:$false
[pscustomobject]@{ Left = @(Get-ProxyPolicy).Count } | ConvertTo-Json
'@
        $removed.Left | Should -Be 0
        (Get-Landing) | Should -BeLike 'direct 18080 *'
    }

    It 'denies a proxy port the profile does not list, with the rule' {
        $failure = Invoke-E2ECaller -Environment $e2e -Uid $uid -Script @'
Import-Module $env:WINSHOST_MODULE
try { Add-ProxyPolicy -OutboundProxyPort 15002 -ErrorAction Stop; $r = $null } catch { $r = $_ }
[pscustomobject]@{ Id = [string]$r.FullyQualifiedErrorId; Message = [string]$r.Exception.Message } | ConvertTo-Json
'@
        $failure.Id | Should -Be 'WinsHost.PolicyDenied,Add-ProxyPolicy'
        $failure.Message | Should -BeLike '*profiles.sidecar.proxy.ports*'
    }
}
