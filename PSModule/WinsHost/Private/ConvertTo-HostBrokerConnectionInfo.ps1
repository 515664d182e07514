function ConvertTo-HostBrokerConnectionInfo {
    <#
    .SYNOPSIS
    Describes a connection (and what the broker said about this caller) as a WinsHost.Connection.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Connection')]
    param(
        [Parameter(Mandatory)]
        [psobject] $Connection
    )

    $read = {
        param($object, [string] $name)
        if ($null -eq $object) {
            return $null
        }
        $property = $object.PSObject.Properties[$name]
        if ($null -eq $property) {
            return $null
        }
        $property.Value
    }

    $caller = $Connection.Caller
    $server = $Connection.ServerInfo
    $methods = & $read $Connection.Capabilities 'methods'

    $info = [pscustomobject]@{
        PSTypeName      = 'WinsHost.Connection'
        Pipe            = [string]$Connection.Endpoint.Pipe
        Profile         = & $read $caller 'profile'
        Listener        = & $read $caller 'listener'
        Uid             = & $read $caller 'uid'
        Gid             = & $read $caller 'gid'
        Pid             = & $read $caller 'pid'
        NetNs           = & $read $caller 'netns'
        NetNsName       = & $read $caller 'netnsName'
        ServerName      = & $read $server 'name'
        ServerVersion   = & $read $server 'version'
        ServerPlatform  = & $read $server 'platform'
        ProtocolVersion = $Connection.ProtocolVersion
        Methods         = [string[]]@($methods | Where-Object { $null -ne $_ })
        IsOpen          = [bool]$Connection.IsOpen
        ConnectedAt     = $Connection.ConnectedAt
    }
    $info
}
