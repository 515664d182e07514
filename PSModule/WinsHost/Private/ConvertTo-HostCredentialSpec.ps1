function ConvertTo-HostCredentialSpec {
    <#
    .SYNOPSIS
    Shapes a credspec/get result (typings/credspec.ts) as a WinsHost.CredentialSpec.

    .DESCRIPTION
    Uri, Source, Name, Path and Spec (the document, as nested objects) come from the broker. Two properties
    are computed here from the document, for the questions a gMSA container is set up around:

      Domain                        Spec.DomainJoinConfig.DnsName, the domain the container joins;
      GroupManagedServiceAccounts   the distinct names in
                                    Spec.ActiveDirectoryConfig.GroupManagedServiceAccounts (always an
                                    array; specs list each account once per domain name form).
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.CredentialSpec')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [psobject] $InputObject
    )

    process {
        $spec = Get-HostBrokerMember -InputObject $InputObject -Path 'Spec'
        $domain = Get-HostBrokerMember -InputObject $spec -Path 'DomainJoinConfig', 'DnsName'
        if ($null -ne $domain) {
            $domain = [string]$domain
        }
        # Assigned first: the helper returns an array member as one object.
        $accountList = Get-HostBrokerMember -InputObject $spec -Path 'ActiveDirectoryConfig', 'GroupManagedServiceAccounts'
        # New-CredentialSpec lists each account twice, with the DNS and the NetBIOS domain as Scope: one name.
        $seen = @{}
        $accounts = @(foreach ($account in @($accountList)) {
                $accountName = Get-HostBrokerMember -InputObject $account -Path 'Name'
                if ($null -ne $accountName -and -not $seen.ContainsKey(([string]$accountName).ToUpperInvariant())) {
                    $seen[([string]$accountName).ToUpperInvariant()] = $true
                    [string]$accountName
                }
            })
        [string[]] $accountNames = $accounts

        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.CredentialSpec' -Property @(
            'Uri'
            'Source'
            'Name'
            'Path'
            'Spec'
            'Domain'
            'GroupManagedServiceAccounts'
        ) -Transform @{
            # Computed, not read: a broker that sent these would not be describing this document.
            Domain                      = { $domain }.GetNewClosure()
            GroupManagedServiceAccounts = { , $accountNames }.GetNewClosure()
        }
    }
}
