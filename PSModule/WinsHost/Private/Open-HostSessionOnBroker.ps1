function Open-HostSessionOnBroker {
    <#
    .SYNOPSIS
    Asks the broker for a new session ('session/new'); returns it as a WinsHost.Session.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Session')]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Name,

        # 'host' or a container name of the policy; empty: the broker's default (host).
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Target,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    $params = [ordered]@{}
    if ($Name) {
        $params['name'] = $Name
    }
    if ($Target) {
        $params['target'] = $Target
    }
    $opened = Invoke-HostRpc -Method 'session/new' -Params $params -Pipe $Pipe
    ConvertTo-HostSessionInfo -InputObject $opened
}
