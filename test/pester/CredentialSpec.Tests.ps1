#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Get-HostCredentialSpec and Test-HostCredentialSpec with the private RPC function mocked: the uri each
# parameter set sends, the shape of the output (compared with typings/credspec.ts), the computed Domain and
# account names, pipeline binding by Uri, -Quiet, and errors.

BeforeDiscovery {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
}

BeforeAll {
    . (Join-Path -Path $PSScriptRoot -ChildPath 'support/Typings.ps1')
    $manifestPath = Join-Path -Path $PSScriptRoot -ChildPath '../../PSModule/WinsHost/WinsHost.psd1'
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop

    # Wire objects exactly as ConvertFrom-Json gives them. The document is what New-CredentialSpec writes:
    # each account twice, once with the DNS and once with the NetBIOS domain name as Scope.
    $script:specJson = @'
{"CmsPlugins":["ActiveDirectory"],
 "DomainJoinConfig":{"Sid":"S-1-5-21-702590844-1001920913-2680819671","MachineAccountName":"WebApp01",
  "Guid":"56d9b66c-d746-4f87-bd26-26760cfdca2e","DnsTreeName":"contoso.com","DnsName":"contoso.com","NetBiosName":"CONTOSO"},
 "ActiveDirectoryConfig":{"GroupManagedServiceAccounts":[{"Name":"WebApp01","Scope":"contoso.com"},{"Name":"WebApp01","Scope":"CONTOSO"},
  {"Name":"SqlSvc","Scope":"contoso.com"}]}}
'@
    $script:listJson = @'
{"specs":[
 {"Uri":"file://webapp1.json","Source":"file","Name":"webapp1.json","Path":"C:\\ProgramData\\docker\\CredentialSpecs\\webapp1.json"},
 {"Uri":"registry://webapp2","Source":"registry","Name":"webapp2"}
]}
'@

    # What the broker answers for credspec/get of a uri.
    function Get-SpecResult {
        param([string] $Uri)
        $source = ($Uri -split '://', 2)[0].ToLowerInvariant()
        $name = ($Uri -split '://', 2)[1]
        $result = [ordered]@{ Uri = $Uri; Source = $source; Name = $name }
        if ($source -eq 'file') { $result['Path'] = 'C:\ProgramData\docker\CredentialSpecs\' + $name }
        $result['Spec'] = ConvertFrom-Json -InputObject $specJson
        ConvertFrom-Json -InputObject ($result | ConvertTo-Json -Depth 10)
    }

    # What the broker answers for credspec/test: per name, valid or not and how the accounts resolve.
    function Get-TestResult {
        param([string] $Uri)
        $name = ($Uri -split '://', 2)[1]
        $json = switch -Wildcard ($name) {
            'broken*' { '{"Valid":false,"Problems":[{"Field":"DomainJoinConfig.Sid","Message":"is not a domain SID"}],"Accounts":[]}' }
            'unresolved*' { '{"Valid":true,"Problems":[],"Accounts":[{"Name":"WebApp02","Scope":"contoso.com","Resolved":false,"Detail":"not found"},{"Name":"WebApp02","Scope":"CONTOSO","Resolved":true,"Detail":"ok"}]}' }
            'linux*' { '{"Valid":true,"Problems":[],"Accounts":[{"Name":"WebApp01","Scope":"contoso.com","Resolved":null,"Detail":"cannot be checked on Linux"}]}' }
            default { '{"Valid":true,"Problems":[],"Accounts":[{"Name":"WebApp01","Scope":"contoso.com","Resolved":true,"Detail":"ok"}]}' }
        }
        $result = ConvertFrom-Json -InputObject $json
        $info = [pscustomobject]@{ Uri = $Uri; Source = ($Uri -split '://', 2)[0]; Name = $name }
        foreach ($property in $result.PSObject.Properties) {
            $info | Add-Member -NotePropertyName $property.Name -NotePropertyValue $property.Value
        }
        $info
    }
}

AfterAll {
    Get-Module -Name WinsHost | Remove-Module -Force
}

Describe 'Get-HostCredentialSpec' {
    BeforeEach {
        Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $listJson } -ParameterFilter { $Method -eq 'credspec/list' }
        Mock -ModuleName WinsHost Invoke-HostRpc { Get-SpecResult -Uri $Params['uri'] } -ParameterFilter { $Method -eq 'credspec/get' }
    }

    It 'lists by default and with -List, sending credspec/list with no params' {
        @(Get-HostCredentialSpec).Count | Should -Be 2
        @(Get-HostCredentialSpec -List).Count | Should -Be 2
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 2 -Exactly -ParameterFilter { $Method -eq 'credspec/list' -and $Params.Count -eq 0 }
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 0 -Exactly -ParameterFilter { $Method -eq 'credspec/get' }
    }

    It 'outputs WinsHost.CredentialSpecInfo objects with exactly the properties of CredentialSpecInfo in typings/credspec.ts' {
        $expected = Get-TypingsInterfaceProperty -File 'credspec.ts' -Interface 'CredentialSpecInfo'
        $expected | Should -Be @('Uri', 'Source', 'Name', 'Path')
        $specs = @(Get-HostCredentialSpec -List)
        foreach ($spec in $specs) {
            $spec.PSObject.TypeNames[0] | Should -Be 'WinsHost.CredentialSpecInfo'
            @($spec.PSObject.Properties.Name) | Should -Be $expected
        }
        $specs[1].Path | Should -BeNullOrEmpty
        $specs.Uri | Should -Be @('file://webapp1.json', 'registry://webapp2')
    }

    It 'sends -Name as file://NAME' {
        $spec = Get-HostCredentialSpec -Name 'webapp1.json'
        $spec.Uri | Should -BeExactly 'file://webapp1.json'
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter {
            $Method -eq 'credspec/get' -and $Params.Count -eq 1 -and $Params['uri'] -ceq 'file://webapp1.json'
        }
    }

    It 'takes -Name by position and several names, one request each' {
        $specs = @(Get-HostCredentialSpec 'a.json', 'b.json')
        $specs.Uri | Should -Be @('file://a.json', 'file://b.json')
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 2 -Exactly -ParameterFilter { $Method -eq 'credspec/get' }
    }

    It 'sends -Uri <Uri> unchanged' -ForEach @(
        @{ Uri = 'file://webapp1.json' }
        @{ Uri = 'registry://webapp2' }
        @{ Uri = 'raw://{"CmsPlugins":["ActiveDirectory"]}' }
        @{ Uri = 'FILE://Upper.json' }
    ) {
        $expectedUri = $Uri
        $null = Get-HostCredentialSpec -Uri $Uri
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/get' -and $Params['uri'] -ceq $expectedUri }
    }

    It 'outputs WinsHost.CredentialSpec with the properties of CredentialSpecGetResult, then Domain and GroupManagedServiceAccounts' {
        $expected = @(Get-TypingsInterfaceProperty -File 'credspec.ts' -Interface 'CredentialSpecGetResult') + @('Domain', 'GroupManagedServiceAccounts')
        $expected[0..4] | Should -Be @('Uri', 'Source', 'Name', 'Path', 'Spec')
        $spec = Get-HostCredentialSpec -Name 'webapp1.json'
        $spec.PSObject.TypeNames[0] | Should -Be 'WinsHost.CredentialSpec'
        @($spec.PSObject.Properties.Name) | Should -Be $expected
        $spec.Source | Should -Be 'file'
        $spec.Path | Should -Be 'C:\ProgramData\docker\CredentialSpecs\webapp1.json'
    }

    It 'keeps the document as nested objects in Spec' {
        $spec = Get-HostCredentialSpec -Name 'webapp1.json'
        $spec.Spec | Should -BeOfType [System.Management.Automation.PSCustomObject]
        $spec.Spec.DomainJoinConfig.NetBiosName | Should -Be 'CONTOSO'
        $spec.Spec.DomainJoinConfig.Sid | Should -Be 'S-1-5-21-702590844-1001920913-2680819671'
        @($spec.Spec.CmsPlugins) | Should -Be @('ActiveDirectory')
        @($spec.Spec.ActiveDirectoryConfig.GroupManagedServiceAccounts).Count | Should -Be 3
    }

    It 'computes Domain from DomainJoinConfig.DnsName and the distinct account names' {
        $spec = Get-HostCredentialSpec -Name 'webapp1.json'
        $spec.Domain | Should -BeExactly 'contoso.com'
        , $spec.GroupManagedServiceAccounts | Should -BeOfType [string[]]
        $spec.GroupManagedServiceAccounts | Should -Be @('WebApp01', 'SqlSvc')
    }

    It 'leaves Domain $null and the account names empty for a document without them' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            ConvertFrom-Json -InputObject '{"Uri":"raw://{}","Source":"raw","Name":"","Spec":{"CmsPlugins":["ActiveDirectory"]}}'
        } -ParameterFilter { $Method -eq 'credspec/get' }
        $spec = Get-HostCredentialSpec -Uri 'raw://{}'
        $spec.Domain | Should -BeNullOrEmpty
        , $spec.GroupManagedServiceAccounts | Should -BeOfType [string[]]
        $spec.GroupManagedServiceAccounts.Count | Should -Be 0
        $spec.Path | Should -BeNullOrEmpty
    }

    It 'gets every listed spec by piping the Uri property' {
        $specs = @(Get-HostCredentialSpec -List | Get-HostCredentialSpec)
        $specs.Uri | Should -Be @('file://webapp1.json', 'registry://webapp2')
        $specs | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'WinsHost.CredentialSpec' }
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/get' -and $Params['uri'] -eq 'registry://webapp2' }
    }

    It 'has the parameter sets List (default), Name and Uri' {
        $command = Get-Command Get-HostCredentialSpec
        @($command.ParameterSets.Name | Sort-Object) | Should -Be @('List', 'Name', 'Uri')
        $command.DefaultParameterSet | Should -Be 'List'
        $uriAttribute = $command.Parameters['Uri'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0]
        $uriAttribute.ValueFromPipelineByPropertyName | Should -BeTrue
        $nameAttribute = $command.Parameters['Name'].Attributes.Where({ $_ -is [System.Management.Automation.ParameterAttribute] })[0]
        $nameAttribute.ValueFromPipelineByPropertyName | Should -BeFalse -Because 'a piped CredentialSpecInfo has a Name too, and must bind by Uri only'
        { Get-HostCredentialSpec -List -Name x } | Should -Throw -ErrorId 'AmbiguousParameterSet,Get-HostCredentialSpec'
        { Get-HostCredentialSpec -Name '' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-HostCredentialSpec'
    }

    It 'reports a missing spec as a terminating WinsHost.NotFound with the method as target' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (& (Get-Module WinsHost) { New-HostRpcErrorException -Method 'credspec/get' -RpcError ([pscustomobject]@{ code = -32003; message = 'no credential spec file://nope.json'; data = [pscustomobject]@{ reason = 'NotFound' } }) })
        } -ParameterFilter { $Method -eq 'credspec/get' }
        $record = $null
        try { Get-HostCredentialSpec -Name 'nope.json' } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.NotFound,Get-HostCredentialSpec'
        $record.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $record.TargetObject | Should -Be 'credspec/get'
        $record.Exception.Message | Should -Be 'no credential spec file://nope.json'
    }

    It 'formats a spec as a list with the domain and the account names' {
        $text = Get-HostCredentialSpec -Name 'webapp1.json' | Out-String
        $text | Should -Match 'Domain\s+: contoso\.com'
        $text | Should -Match 'NetBiosName\s+: CONTOSO'
        $text | Should -Match 'GroupManagedServiceAccounts\s+: WebApp01, SqlSvc'
    }
}

Describe 'Test-HostCredentialSpec' {
    BeforeEach {
        Mock -ModuleName WinsHost Invoke-HostRpc { ConvertFrom-Json -InputObject $listJson } -ParameterFilter { $Method -eq 'credspec/list' }
        Mock -ModuleName WinsHost Invoke-HostRpc { Get-TestResult -Uri $Params['uri'] } -ParameterFilter { $Method -eq 'credspec/test' }
    }

    It 'sends -Name as file://NAME to credspec/test' {
        $null = Test-HostCredentialSpec -Name 'webapp1.json'
        $null = Test-HostCredentialSpec 'positional.json'
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/test' -and $Params.Count -eq 1 -and $Params['uri'] -ceq 'file://webapp1.json' }
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/test' -and $Params['uri'] -ceq 'file://positional.json' }
    }

    It 'sends -Uri unchanged' {
        $null = Test-HostCredentialSpec -Uri 'registry://webapp2'
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/test' -and $Params['uri'] -ceq 'registry://webapp2' }
    }

    It 'outputs WinsHost.CredentialSpecTestResult with exactly the properties of CredentialSpecTestResult' {
        $expected = Get-TypingsInterfaceProperty -File 'credspec.ts' -Interface 'CredentialSpecTestResult'
        $expected | Should -Be @('Uri', 'Source', 'Name', 'Path', 'Valid', 'Problems', 'Accounts')
        $result = Test-HostCredentialSpec -Name 'broken.json'
        $result.PSObject.TypeNames[0] | Should -Be 'WinsHost.CredentialSpecTestResult'
        @($result.PSObject.Properties.Name) | Should -Be $expected
        $result.Valid | Should -BeOfType [bool]
        $result.Valid | Should -BeFalse
    }

    It 'outputs problems as WinsHost.CredentialSpecProblem and accounts as WinsHost.CredentialSpecAccountCheck, always as arrays' {
        $broken = Test-HostCredentialSpec -Name 'broken.json'
        , $broken.Problems | Should -BeOfType [array]
        $broken.Problems.Count | Should -Be 1
        $broken.Problems[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.CredentialSpecProblem'
        @($broken.Problems[0].PSObject.Properties.Name) | Should -Be (Get-TypingsInterfaceProperty -File 'credspec.ts' -Interface 'CredentialSpecProblem')
        $broken.Problems[0].Field | Should -Be 'DomainJoinConfig.Sid'
        , $broken.Accounts | Should -BeOfType [array]
        $broken.Accounts.Count | Should -Be 0

        $good = Test-HostCredentialSpec -Name 'webapp1.json'
        $good.Accounts[0].PSObject.TypeNames[0] | Should -Be 'WinsHost.CredentialSpecAccountCheck'
        @($good.Accounts[0].PSObject.Properties.Name) | Should -Be (Get-TypingsInterfaceProperty -File 'credspec.ts' -Interface 'CredentialSpecAccountCheck')
        $good.Accounts[0].Resolved | Should -BeOfType [bool]
        $good.Accounts[0].Resolved | Should -BeTrue
    }

    It 'keeps Resolved $null where the host cannot check' {
        $result = Test-HostCredentialSpec -Name 'linux.json'
        $result.Accounts[0].Resolved | Should -BeNullOrEmpty
        $null -eq $result.Accounts[0].Resolved | Should -BeTrue
    }

    It '-Quiet returns <Expected> for <Name>' -ForEach @(
        @{ Name = 'webapp1.json'; Expected = $true }
        @{ Name = 'broken.json'; Expected = $false }
        @{ Name = 'unresolved.json'; Expected = $false }
        @{ Name = 'linux.json'; Expected = $true }
    ) {
        $answer = @(Test-HostCredentialSpec -Name $Name -Quiet)
        $answer.Count | Should -Be 1
        $answer[0] | Should -BeOfType [bool]
        $answer[0] | Should -Be $Expected
    }

    It 'checks every listed spec when Get-HostCredentialSpec -List is piped to it (binding Uri, not Name)' {
        $results = @(Get-HostCredentialSpec -List | Test-HostCredentialSpec)
        $results.Uri | Should -Be @('file://webapp1.json', 'registry://webapp2')
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/test' -and $Params['uri'] -ceq 'file://webapp1.json' }
        Should -Invoke Invoke-HostRpc -ModuleName WinsHost -Times 1 -Exactly -ParameterFilter { $Method -eq 'credspec/test' -and $Params['uri'] -ceq 'registry://webapp2' }
        @(Get-HostCredentialSpec -List | Test-HostCredentialSpec -Quiet) | Should -Be @($true, $true)
    }

    It 'takes the Uri of any piped object, e.g. a WinsHost.CredentialSpec' {
        Mock -ModuleName WinsHost Invoke-HostRpc { Get-SpecResult -Uri $Params['uri'] } -ParameterFilter { $Method -eq 'credspec/get' }
        $result = Get-HostCredentialSpec -Name 'broken.json' | Test-HostCredentialSpec
        $result.Uri | Should -Be 'file://broken.json'
        [pscustomobject]@{ Uri = 'registry://x' } | Test-HostCredentialSpec -Quiet | Should -BeTrue
    }

    It 'has the parameter sets Name (default) and Uri' {
        $command = Get-Command Test-HostCredentialSpec
        @($command.ParameterSets.Name | Sort-Object) | Should -Be @('Name', 'Uri')
        $command.DefaultParameterSet | Should -Be 'Name'
        @($command.OutputType.Name) | Should -Be @('WinsHost.CredentialSpecTestResult', 'System.Boolean')
    }

    It 'formats the result as a list naming the problems and how each account resolved' {
        $broken = Test-HostCredentialSpec -Name 'broken.json' | Out-String
        $broken | Should -Match 'Valid\s+: False'
        $broken | Should -Match 'Problems\s+: DomainJoinConfig\.Sid: is not a domain SID'
        $unresolved = Test-HostCredentialSpec -Name 'unresolved.json' | Out-String
        $unresolved | Should -Match 'WebApp02 \(contoso\.com\): NOT resolved'
        $unresolved | Should -Match 'WebApp02 \(CONTOSO\): resolved'
        Test-HostCredentialSpec -Name 'linux.json' | Out-String | Should -Match 'WebApp01 \(contoso\.com\): not checked'
    }

    It 'reports a denied spec as a terminating WinsHost.PolicyDenied naming the rule' {
        Mock -ModuleName WinsHost Invoke-HostRpc {
            throw (& (Get-Module WinsHost) { New-HostRpcErrorException -Method 'credspec/test' -RpcError ([pscustomobject]@{ code = -32001; message = 'the credential spec file://other.json is not in this profile''s allow list'; data = [pscustomobject]@{ reason = 'RuleDenied'; rule = 'profiles.web.credentialSpecs.allow' } }) })
        } -ParameterFilter { $Method -eq 'credspec/test' }
        $record = $null
        try { Test-HostCredentialSpec -Name 'other.json' -Quiet } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeExactly 'WinsHost.PolicyDenied,Test-HostCredentialSpec'
        $record.Exception.Message | Should -BeLike '*profiles.web.credentialSpecs.allow*'
    }
}
