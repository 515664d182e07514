function Close-HostSessionOnBroker {
    <#
    .SYNOPSIS
    Asks the broker to close a session ('session/remove'); returns its last state as a WinsHost.Session.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Session')]
    param(
        [Parameter(Mandatory)]
        [string] $SessionId,

        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    $removed = Invoke-HostRpc -Method 'session/remove' -Params @{ sessionId = $SessionId } -Pipe $Pipe
    ConvertTo-HostSessionInfo -InputObject $removed
}
