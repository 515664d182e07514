function Close-HostRpcConnection {
    <#
    .SYNOPSIS
    Closes the connection's stream; the connection object stays, closed, so that its pipe can be reopened.

    .DESCRIPTION
    Called whenever the stream can no longer be trusted to start at a message boundary (a broken frame, a
    response whose wait was abandoned and not cancelled), and by Disconnect-HostBroker and Remove-Module.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [AllowNull()]
        [WinsHost.RpcConnection] $Connection
    )

    if ($null -ne $Connection) {
        $Connection.Close()
    }
}
