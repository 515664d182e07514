# End to end for host files and credential specs: the real broker, callers in another network namespace as
# other uids, every bypass tried for real on Linux. Needs root; in CI (CI=true) that is a failure.

BeforeDiscovery {
    $script:skipNamespaces = (-not ($IsLinux -and ((id -u) -eq '0'))) -and ($env:CI -ne 'true')
    if ($script:skipNamespaces) {
        Write-Warning 'e2e file tests skipped: they need root on Linux (ip netns, veth, setpriv).'
    }
}

Describe 'Host files and credential specs from a caller in another namespace' -Tag 'e2e' -Skip:$skipNamespaces {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'support' 'E2E.ps1')
        $script:readerUid = 4252
        $script:noRootsUid = 4253
        $script:e2e = New-E2EEnvironment -CallerUid $readerUid -Policy @"
listeners:
  - name: files
    mode: '0666'
    profiles: [reader, noroots]
profiles:
  reader:
    match: { uid: $readerUid, netns: '{namespace}' }
    files:
      roots:
        - path: {work}/logs
          include: '**.log'
    credentialSpecs:
      directory: {work}/CredentialSpecs
      allow: ['file://webapp1.json', 'file://link.json', 'file://../secret.txt', 'raw://']
  noroots:
    match: { uid: $noRootsUid }
    host: { read: true }
"@
        $work = $e2e.Work
        $script:logs = Join-Path $work 'logs'
        New-Item -ItemType Directory -Path $logs, (Join-Path $work 'logs2'), (Join-Path $work 'CredentialSpecs'), (Join-Path $work 'CredentialSpecs2') | Out-Null
        # A large log: 400,000 numbered lines, about 6 MB.
        $script:bigLines = 1..400000 | ForEach-Object { "kubelet line $_ of the host log" }
        [IO.File]::WriteAllText((Join-Path $logs 'kubelet.log'), (($bigLines -join "`n") + "`n"))
        Set-Content -Path (Join-Path $logs 'notes.txt') -Value 'not a log'
        Set-Content -Path (Join-Path $work 'secret.txt') -Value 'host secret'
        Set-Content -Path (Join-Path $work 'logs2' 'sibling.log') -Value 'sibling'
        ln -s (Join-Path $work 'secret.txt') (Join-Path $logs 'escape.log')
        $spec = [ordered]@{
            CmsPlugins            = @('ActiveDirectory')
            DomainJoinConfig      = [ordered]@{
                Sid = 'S-1-5-21-702590844-1001920913-2680819671'; MachineAccountName = 'WebApp01'
                Guid = '56d9b575-2e8a-4c7e-9ef1-1e7a3a3b2f11'; DnsTreeName = 'contoso.com'; DnsName = 'contoso.com'; NetBiosName = 'CONTOSO'
            }
            ActiveDirectoryConfig = [ordered]@{ GroupManagedServiceAccounts = @([ordered]@{ Name = 'WebApp01'; Scope = 'contoso.com' }) }
        } | ConvertTo-Json -Depth 5
        Set-Content -Path (Join-Path $work 'CredentialSpecs' 'webapp1.json') -Value $spec
        Set-Content -Path (Join-Path $work 'CredentialSpecs2' 'evil.json') -Value $spec
        ln -s (Join-Path $work 'CredentialSpecs2' 'evil.json') (Join-Path $work 'CredentialSpecs' 'link.json')
        chmod -R a+rX $work

        function Invoke-Reader([string] $Script) { Invoke-E2ECaller -Environment $e2e -Uid $readerUid -Script $Script }

        # Runs one cmdlet call in the caller and returns how it failed (or that it did not).
        function Get-CallerFailure([int] $Uid, [string] $Command) {
            Invoke-E2ECaller -Environment $e2e -Uid $Uid -Script @"
Import-Module `$env:WINSHOST_MODULE
try { `$null = $Command -ErrorAction Stop; `$r = `$null } catch { `$r = `$_ }
[pscustomobject]@{ Id = [string]`$r.FullyQualifiedErrorId; Category = [string]`$r.CategoryInfo.Category; Message = [string]`$r.Exception.Message } | ConvertTo-Json
"@
        }
    }

    AfterAll {
        Remove-E2EEnvironment -Environment $script:e2e
    }

    It 'reads a large log complete and in order' {
        $result = Invoke-Reader @"
Import-Module `$env:WINSHOST_MODULE
`$lines = @(Get-HostContent -Path '$logs/kubelet.log')
`$sha = [Security.Cryptography.SHA256]::Create()
`$hash = [BitConverter]::ToString(`$sha.ComputeHash([Text.Encoding]::UTF8.GetBytes(`$lines -join "``n"))).Replace('-', '')
[pscustomobject]@{ Count = `$lines.Count; First = `$lines[0]; Last = `$lines[-1]; Hash = `$hash } | ConvertTo-Json
"@
        $expected = [BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash([Text.Encoding]::UTF8.GetBytes($bigLines -join "`n"))).Replace('-', '')
        $result.Count | Should -Be 400000
        $result.First | Should -Be 'kubelet line 1 of the host log'
        $result.Last | Should -Be 'kubelet line 400000 of the host log'
        $result.Hash | Should -Be $expected
    }

    It 'reads the last lines with -Tail and lists the root' {
        $result = Invoke-Reader @"
Import-Module `$env:WINSHOST_MODULE
[pscustomobject]@{
    Tail  = @(Get-HostContent -Path '$logs/kubelet.log' -Tail 2)
    Names = @(Get-HostChildItem -Path '$logs' | ForEach-Object Name)
} | ConvertTo-Json
"@
        $result.Tail | Should -Be @('kubelet line 399999 of the host log', 'kubelet line 400000 of the host log')
        $result.Names | Should -Contain 'kubelet.log'
        $result.Names | Should -Not -Contain 'escape.log'
        $result.Names | Should -Not -Contain 'notes.txt'
    }

    It 'reads a file that grows during the read to a consistent length' {
        $growing = Join-Path $logs 'growing.log'
        [IO.File]::WriteAllText($growing, ((1..200000 | ForEach-Object { "line $_" }) -join "`n") + "`n")
        chmod a+r $growing
        # Appends whole lines (one write each) until stopped, so the file grows during the whole read.
        $writer = Start-Process -PassThru -FilePath bash -ArgumentList @('-c', "i=200001; while true; do echo ""line `$i""; i=`$((i+1)); done >> '$growing'")
        try {
            $result = Invoke-Reader @"
Import-Module `$env:WINSHOST_MODULE
`$lines = @(Get-HostContent -Path '$growing')
`$bad = @(`$lines | Where-Object { `$_ -notmatch '^line \d+$' }).Count
`$gaps = 0
for (`$i = 0; `$i -lt `$lines.Count; `$i++) { if (`$lines[`$i] -ne "line `$(`$i + 1)") { `$gaps++ } }
[pscustomobject]@{ Count = `$lines.Count; Bad = `$bad; Gaps = `$gaps } | ConvertTo-Json
"@
        }
        finally {
            $writer.Kill()
            $writer.WaitForExit()
        }
        $result.Count | Should -BeGreaterOrEqual 200000
        $result.Bad | Should -Be 0
        $result.Gaps | Should -Be 0
    }

    It 'reads an allowed credential spec and tests it' {
        $result = Invoke-Reader @'
Import-Module $env:WINSHOST_MODULE
$spec = Get-HostCredentialSpec -Name webapp1.json
$test = Test-HostCredentialSpec -Uri 'file://webapp1.json'
[pscustomobject]@{ Dns = $spec.Spec.DomainJoinConfig.DnsName; Type = $spec.PSObject.TypeNames[0]; Valid = $test.Valid; Resolved = $test.Accounts[0].Resolved; Accounts = @($test.Accounts).Count } | ConvertTo-Json
'@
        $result.Dns | Should -Be 'contoso.com'
        $result.Type | Should -Be 'WinsHost.CredentialSpec'
        $result.Valid | Should -BeTrue
        $result.Accounts | Should -Be 1
        $result.Resolved | Should -BeNullOrEmpty -Because 'a Linux host cannot ask a domain'
    }

    It 'refuses <Name>, and audits it' -ForEach @(
        @{ Name = 'a symlink in the root pointing out'; Command = "Get-HostContent -Path '{logs}/escape.log'"; Id = 'WinsHost.PolicyDenied,Get-HostContent'; Category = 'PermissionDenied'; Method = 'file/read' }
        @{ Name = 'a prefix sibling of the root'; Command = "Get-HostContent -Path '{work}/logs2/sibling.log'"; Id = 'WinsHost.PolicyDenied,Get-HostContent'; Category = 'PermissionDenied'; Method = 'file/read' }
        @{ Name = 'a parent segment'; Command = "Get-HostContent -Path '{logs}/../secret.txt'"; Id = 'WinsHost.InvalidParams,Get-HostContent'; Category = 'InvalidArgument'; Method = 'file/read' }
        @{ Name = 'a name outside the include pattern'; Command = "Get-HostContent -Path '{logs}/notes.txt'"; Id = 'WinsHost.PolicyDenied,Get-HostContent'; Category = 'PermissionDenied'; Method = 'file/read' }
        @{ Name = 'a spec name with a parent segment'; Command = "Get-HostCredentialSpec -Uri 'file://../secret.txt'"; Id = 'WinsHost.InvalidParams,Get-HostCredentialSpec'; Category = 'InvalidArgument'; Method = 'credspec/get' }
        @{ Name = 'a spec linked to the sibling directory'; Command = "Get-HostCredentialSpec -Name link.json"; Id = 'WinsHost.PolicyDenied,Get-HostCredentialSpec'; Category = 'PermissionDenied'; Method = 'credspec/get' }
        @{ Name = 'a spec not in the allow list'; Command = "Get-HostCredentialSpec -Name other.json"; Id = 'WinsHost.PolicyDenied,Get-HostCredentialSpec'; Category = 'PermissionDenied'; Method = 'credspec/get' }
    ) {
        $before = @(Get-E2EAuditEntry -Environment $e2e | Where-Object { $_.method -eq $Method -and $_.resultCode -ne 0 }).Count
        $failure = Get-CallerFailure -Uid $readerUid -Command $Command.Replace('{logs}', $logs).Replace('{work}', $e2e.Work)
        $failure.Id | Should -Be $Id
        $failure.Category | Should -Be $Category
        $failure.Message | Should -Not -Match 'host secret'
        Start-Sleep -Milliseconds 100
        @(Get-E2EAuditEntry -Environment $e2e | Where-Object { $_.method -eq $Method -and $_.resultCode -ne 0 }).Count | Should -Be ($before + 1)
    }

    It 'denies a caller whose profile lists no roots, and audits it' {
        $failure = Get-CallerFailure -Uid $noRootsUid -Command "Get-HostContent -Path '$logs/kubelet.log'"
        $failure.Id | Should -Be 'WinsHost.PolicyDenied,Get-HostContent'
        $failure.Category | Should -Be 'PermissionDenied'
        Start-Sleep -Milliseconds 100
        $line = Get-E2EAuditEntry -Environment $e2e | Where-Object { $_.peer.uid -eq $noRootsUid -and $_.method -eq 'file/read' }
        $line.decision | Should -Be 'deny'
        $line.rule | Should -Be 'profiles.noroots.files'
    }
}
