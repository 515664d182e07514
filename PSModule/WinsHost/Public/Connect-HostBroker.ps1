function Connect-HostBroker {
    <#
    .SYNOPSIS
    Connects this PowerShell session to the WinsHost broker on the container host.

    .DESCRIPTION
    Opens the broker pipe (Windows) or Unix socket (Linux), performs the protocol handshake, and keeps the
    connection for the following WinsHost cmdlets in this runspace. An existing connection is closed and
    replaced.

    Calling Connect-HostBroker is optional: every WinsHost cmdlet connects on first use. Use it to pick a
    non-default pipe once for the session, to choose a longer timeout, or, with -PassThru, to see what the
    broker knows about you (policy profile, listener, and on Linux the uid, pid and network namespace it
    identified) when a request is denied.

    The pipe is -Pipe, else $env:WINSHOST_PIPE, else the default: \\.\pipe\winshost on Windows and
    /run/winshost/winshost.sock on Linux and macOS.

    .PARAMETER Pipe
    The broker pipe or socket: \\.\pipe\<name>, //./pipe/<name> or <name> on Windows; an absolute Unix socket
    path on Linux and macOS. Defaults to $env:WINSHOST_PIPE, then to the platform default.

    .PARAMETER TimeoutSec
    How long to wait for the broker to accept the connection and answer the handshake, in seconds. The same
    timeout applies when the module reconnects this connection later. Default: 5.

    .PARAMETER PassThru
    Outputs a WinsHost.Connection object describing the connection and the caller identity the broker saw.

    .EXAMPLE
    Connect-HostBroker -PassThru

    Connects to the default pipe and shows the policy profile and identity the broker assigned to this
    container.

    .EXAMPLE
    Connect-HostBroker -Pipe /run/winshost/winshost.sock -TimeoutSec 15

    Connects to a Unix socket mounted with 'docker run -v /run/winshost:/run/winshost ...', waiting up to
    15 seconds for the broker.

    .EXAMPLE
    Connect-HostBroker -Pipe '\\.\pipe\winshost'; Get-HostNetwork

    On Windows, connects to a pipe mounted with 'docker run -v \\.\pipe\winshost:\\.\pipe\winshost ...'; the
    following cmdlets use that pipe without naming it again.

    .INPUTS
    System.String. The Pipe property of piped objects (for example a WinsHost.Connection) binds to -Pipe.

    .OUTPUTS
    WinsHost.Connection, with -PassThru. Otherwise none.

    .LINK
    Disconnect-HostBroker

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.Connection')]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string] $Pipe,

        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 5,

        [switch] $PassThru
    )

    process {
        try {
            $endpoint = Resolve-HostBrokerPipe -Pipe $Pipe
            # The new connection is opened before the old one is closed, so that a mistyped pipe or a broker
            # that is down leaves the session with the connection it had.
            $connection = Open-HostRpcConnection -Endpoint $endpoint -TimeoutSec $TimeoutSec
            if ($null -ne $script:HostBrokerConnection) {
                Close-HostRpcConnection -Connection $script:HostBrokerConnection
            }
            $script:HostBrokerConnection = $connection
        }
        catch {
            $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
        }

        $info = ConvertTo-HostBrokerConnectionInfo -Connection $connection
        Write-Verbose ("Connected to {0} {1} at {2} as profile '{3}'." -f $info.ServerName, $info.ServerVersion, $info.Pipe, $info.Profile)
        if ($PassThru) {
            $info
        }
    }
}
