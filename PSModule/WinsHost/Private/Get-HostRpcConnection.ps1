function Get-HostRpcConnection {
    <#
    .SYNOPSIS
    Returns this runspace's open broker connection, opening (or reopening) it as needed.

    .DESCRIPTION
    Which pipe:
      - -Pipe given: that pipe; a connection to another pipe is closed and replaced.
      - no -Pipe and a current connection (open, or closed after an error): its pipe, so that the pipe chosen
        by Connect-HostBroker stays in use for the following cmdlets.
      - otherwise: $env:WINSHOST_PIPE, else the platform default (Resolve-HostBrokerPipe).
    A reopened connection keeps the timeout it was first opened with.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.RpcConnection')]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    $current = $script:HostBrokerConnection
    # The common case, first and without further calls: every cmdlet comes through here.
    if ($null -ne $current -and $current.IsOpen -and [string]::IsNullOrWhiteSpace($Pipe)) {
        return $current
    }
    if (-not [string]::IsNullOrWhiteSpace($Pipe)) {
        $endpoint = Resolve-HostBrokerPipe -Pipe $Pipe
    }
    elseif ($null -ne $current) {
        $endpoint = $current.Endpoint
    }
    else {
        $endpoint = Resolve-HostBrokerPipe
    }

    $timeoutSec = $script:HostBrokerDefaultTimeoutSec
    if ($null -ne $current) {
        if (Test-HostBrokerSamePipe -Left $current.Endpoint -Right $endpoint) {
            if ($current.IsOpen) {
                return $current
            }
            $timeoutSec = $current.TimeoutSec
        }
        else {
            Close-HostRpcConnection -Connection $current
            $script:HostBrokerConnection = $null
        }
    }

    $connection = Open-HostRpcConnection -Endpoint $endpoint -TimeoutSec $timeoutSec
    $script:HostBrokerConnection = $connection
    $connection
}
