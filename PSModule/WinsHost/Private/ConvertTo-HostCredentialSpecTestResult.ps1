function ConvertTo-HostCredentialSpecTestResult {
    <#
    .SYNOPSIS
    Shapes a credspec/test result (typings/credspec.ts) as a WinsHost.CredentialSpecTestResult.

    .DESCRIPTION
    Problems become WinsHost.CredentialSpecProblem objects (Field, Message) and Accounts
    WinsHost.CredentialSpecAccountCheck objects (Name, Scope, Resolved, Detail); both are always arrays.
    Resolved stays $null where the host cannot check an account (Linux hosts), so that
    'Where-Object Resolved -eq $false' finds only the accounts that were checked and failed.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.CredentialSpecTestResult')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [psobject] $InputObject
    )

    process {
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.CredentialSpecTestResult' -Property @(
            'Uri'
            'Source'
            'Name'
            'Path'
            'Valid'
            'Problems'
            'Accounts'
        ) -Boolean @('Valid') -Transform @{
            Problems = {
                param($list)
                $converted = @(foreach ($item in @($list)) {
                        if ($null -ne $item) {
                            ConvertTo-HostBrokerObject -InputObject $item -TypeName 'WinsHost.CredentialSpecProblem' -Property @('Field', 'Message')
                        }
                    })
                , $converted
            }
            Accounts = {
                param($list)
                $converted = @(foreach ($item in @($list)) {
                        if ($null -ne $item) {
                            ConvertTo-HostBrokerObject -InputObject $item -TypeName 'WinsHost.CredentialSpecAccountCheck' -Property @('Name', 'Scope', 'Resolved', 'Detail') -Boolean @('Resolved')
                        }
                    })
                , $converted
            }
        }
    }
}
