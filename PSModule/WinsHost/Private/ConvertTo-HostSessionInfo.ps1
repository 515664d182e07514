function ConvertTo-HostSessionInfo {
    <#
    .SYNOPSIS
    Shapes a HostSessionInfo from the wire (typings/session.ts) as a WinsHost.Session.

    .DESCRIPTION
    ProcessId and IdleTimeoutSeconds become [int]; Created and LastUsed local [datetime] values on every
    edition. Location stays $null for a session without a provider.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Session')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [AllowNull()]
        [psobject] $InputObject
    )

    process {
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.Session' -Property @(
            'Id'
            'Name'
            'Target'
            'State'
            'LanguageMode'
            'Location'
            'PSVersion'
            'ProcessId'
            'Created'
            'LastUsed'
            'IdleTimeoutSeconds'
            'Rule'
        ) -Integer @('ProcessId', 'IdleTimeoutSeconds') -Transform @{
            Created  = { param($value) ConvertTo-HostBrokerDateTime -Value $value }
            LastUsed = { param($value) ConvertTo-HostBrokerDateTime -Value $value }
        }
    }
}
