function ConvertTo-HostProxyPolicy {
    <#
    .SYNOPSIS
    Shapes a ProxyPolicy from the wire (typings/proxy.ts) as a WinsHost.ProxyPolicy.

    .DESCRIPTION
    The properties follow ProxyPolicy in the typings (the settings first, then Id, Target, Applied and
    Created). Ports and Priority become [int], Applied a [bool], Created a local [datetime] on every edition.

    InboundExceptions and OutboundExceptions are always WinsHost.ProxyExceptions objects (Ports as [int[]],
    IpAddresses as [string[]], both empty when the broker sent none), so that
    '$policy.OutboundExceptions.Ports -contains 9001' works for every policy; their ToString() reads
    'Ports: 9001, 9002; IpAddresses: 127.0.0.1' for Format-List * and Export-Csv.

    Protocol and Priority the broker left out are filled with the defaults the protocol declares (TCP, 100),
    so that 'Where-Object Protocol -eq TCP' also finds the policies added without -Protocol.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.ProxyPolicy')]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [AllowNull()]
        [psobject] $InputObject
    )

    process {
        $toExceptions = {
            param($value)
            # Assigned first: the helper returns a list as one object, and @() then holds its items.
            $wirePorts = Get-HostBrokerMember -InputObject $value -Path 'Ports'
            $wireAddresses = Get-HostBrokerMember -InputObject $value -Path 'IpAddresses'
            $ports = New-Object System.Collections.Generic.List[int]
            foreach ($item in @($wirePorts)) {
                if ($null -ne $item) {
                    $ports.Add([int]$item)
                }
            }
            $addresses = New-Object System.Collections.Generic.List[string]
            foreach ($item in @($wireAddresses)) {
                if ($null -ne $item) {
                    $addresses.Add([string]$item)
                }
            }
            $exceptions = New-Object System.Management.Automation.PSObject
            $exceptions.PSObject.Properties.Add((New-Object System.Management.Automation.PSNoteProperty 'Ports', $ports.ToArray()))
            $exceptions.PSObject.Properties.Add((New-Object System.Management.Automation.PSNoteProperty 'IpAddresses', $addresses.ToArray()))
            $exceptions.PSObject.Methods.Add((New-Object System.Management.Automation.PSScriptMethod 'ToString', {
                        $parts = New-Object System.Collections.Generic.List[string]
                        if ($this.Ports.Count -gt 0) {
                            $parts.Add('Ports: ' + ($this.Ports -join ', '))
                        }
                        if ($this.IpAddresses.Count -gt 0) {
                            $parts.Add('IpAddresses: ' + ($this.IpAddresses -join ', '))
                        }
                        $parts -join '; '
                    }))
            $exceptions.PSObject.TypeNames.Insert(0, 'WinsHost.ProxyExceptions')
            $exceptions
        }

        ConvertTo-HostBrokerObject -InputObject $InputObject -TypeName 'WinsHost.ProxyPolicy' -Property @(
            'InboundProxyPort'
            'OutboundProxyPort'
            'Protocol'
            'InboundExceptions'
            'OutboundExceptions'
            'ExemptUser'
            'Priority'
            'Id'
            'Target'
            'Applied'
            'Created'
        ) -Integer @('InboundProxyPort', 'OutboundProxyPort') -Boolean @('Applied') -Transform @{
            Protocol           = {
                param($value)
                if ($null -eq $value -or [string]$value -eq '') {
                    return 'TCP'
                }
                ([string]$value).ToUpperInvariant()
            }
            Priority           = {
                param($value)
                if ($null -eq $value) {
                    return 100
                }
                [int]$value
            }
            InboundExceptions  = $toExceptions
            OutboundExceptions = $toExceptions
            Id                 = { param($value) if ($null -ne $value) { [string]$value } }
            Created            = { param($value) ConvertTo-HostBrokerDateTime -Value $value }
        }
    }
}
