function ConvertTo-HostCredentialSpecInfo {
    <#
    .SYNOPSIS
    Shapes a CredentialSpecInfo from the wire (typings/credspec.ts) as a WinsHost.CredentialSpecInfo.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.CredentialSpecInfo')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [psobject] $InputObject
    )

    process {
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.CredentialSpecInfo' -Property @('Uri', 'Source', 'Name', 'Path')
    }
}
