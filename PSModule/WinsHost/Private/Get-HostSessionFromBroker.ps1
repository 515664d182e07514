function Get-HostSessionFromBroker {
    <#
    .SYNOPSIS
    Lists the caller's sessions ('session/list') as WinsHost.Session objects.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Session')]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    $listed = Invoke-HostRpc -Method 'session/list' -Params @{} -Pipe $Pipe
    $sessions = Get-HostBrokerMember -InputObject $listed -Path 'sessions'
    foreach ($session in $sessions) {
        if ($null -ne $session) {
            ConvertTo-HostSessionInfo -InputObject $session
        }
    }
}
