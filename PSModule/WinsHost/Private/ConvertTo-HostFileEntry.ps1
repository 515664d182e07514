function ConvertTo-HostFileEntry {
    <#
    .SYNOPSIS
    Shapes a HostFileEntry from the wire (typings/files.ts) as a WinsHost.FileEntry.

    .DESCRIPTION
    Length becomes an [long] (files over 2 GiB exist) and LastWriteTime a local [datetime], like the
    FileInfo objects Get-ChildItem returns.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.FileEntry')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [psobject] $InputObject
    )

    process {
        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.FileEntry' -Property @(
            'Name'
            'FullName'
            'Type'
            'Length'
            'LastWriteTime'
            'Root'
        ) -Transform @{
            Length        = {
                param($value)
                if ($null -eq $value) {
                    return $null
                }
                [long]$value
            }
            LastWriteTime = { param($value) ConvertTo-HostBrokerDateTime -Value $value }
        }
    }
}
