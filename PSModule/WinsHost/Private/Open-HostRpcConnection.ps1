function Open-HostRpcConnection {
    <#
    .SYNOPSIS
    Connects to the broker pipe and performs the initialize handshake; returns the connection object.

    .DESCRIPTION
    The connection object carries the stream, the read buffer, the next request id and what initialize
    returned (serverInfo, protocolVersion, capabilities, caller). Connect-HostBroker -PassThru shows the
    latter; the caller's profile is what users need when a policy denies them.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.RpcConnection')]
    param(
        # A WinsHost.PipeEndpoint from Resolve-HostBrokerPipe.
        [Parameter(Mandatory)]
        [psobject] $Endpoint,

        [ValidateRange(1, 3600)]
        [int] $TimeoutSec = 5
    )

    $activity = 'Cannot connect to the WinsHost broker'

    # NamedPipeClientStream.Connect keeps retrying a socket path that does not exist until the timeout ends;
    # in a container that almost always means "not mounted", which deserves an immediate answer.
    if ($Endpoint.IsUnixSocket -and -not [System.IO.File]::Exists($Endpoint.PipeName)) {
        throw (New-HostBrokerConnectionException -Endpoint $Endpoint -Activity $activity -Reason 'the socket does not exist' -MountHint)
    }

    $stream = $null
    $socket = $null
    try {
        if ($Endpoint.IsUnixSocket) {
            # A socket of our own rather than NamedPipeClientStream: the connection then waits for bytes with
            # Poll and reads synchronously, two thread hops per message fewer than an asynchronous read.
            # A refused connection (a stale socket file, a broker restarting) is retried until the timeout, as
            # NamedPipeClientStream.Connect does.
            $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSec)
            while ($null -eq $socket) {
                $candidate = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
                try {
                    $candidate.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($Endpoint.PipeName))
                    $socket = $candidate
                }
                catch {
                    $candidate.Dispose()
                    $refused = Get-HostBrokerInnerException -Exception $_.Exception
                    if ($refused -isnot [System.Net.Sockets.SocketException] -or $refused.SocketErrorCode -ne [System.Net.Sockets.SocketError]::ConnectionRefused) {
                        throw
                    }
                    if ([datetime]::UtcNow -ge $deadline) {
                        throw (New-Object System.TimeoutException 'The operation has timed out.')
                    }
                    Start-Sleep -Milliseconds 100
                }
            }
        }
        else {
            # Asynchronous so that reads can be abandoned (Ctrl+C) and cancelled by Dispose (see
            # WinsHost.RpcConnection). A Windows pipe grants callers read and write without FILE_CREATE_PIPE_INSTANCE (so no caller can
            # serve rogue instances); PipeDirection.InOut asks for GENERIC_WRITE, which includes that right and is
            # refused. Ask for exactly read/write where .NET can (Framework, .NET 9+); .NET 8 cannot, and there
            # only accounts with full access (Administrators, SYSTEM) connect.
            $rightsConstructor = [System.IO.Pipes.NamedPipeClientStream].GetConstructor([type[]]@(
                    [string], [string], [System.IO.Pipes.PipeAccessRights], [System.IO.Pipes.PipeOptions],
                    [System.Security.Principal.TokenImpersonationLevel], [System.IO.HandleInheritability]))
            if ($null -ne $rightsConstructor) {
                $rights = [System.IO.Pipes.PipeAccessRights]'ReadData, WriteData, ReadAttributes, ReadExtendedAttributes, WriteAttributes, WriteExtendedAttributes, ReadPermissions, Synchronize'
                $stream = $rightsConstructor.Invoke(@($Endpoint.ServerName, $Endpoint.PipeName, $rights,
                        [System.IO.Pipes.PipeOptions]::Asynchronous, [System.Security.Principal.TokenImpersonationLevel]::Identification,
                        [System.IO.HandleInheritability]::None))
            }
            else {
                $stream = New-Object System.IO.Pipes.NamedPipeClientStream $Endpoint.ServerName, $Endpoint.PipeName, ([System.IO.Pipes.PipeDirection]::InOut), ([System.IO.Pipes.PipeOptions]::Asynchronous)
            }
            $stream.Connect($TimeoutSec * 1000)
        }
    }
    catch {
        if ($null -ne $stream) {
            $stream.Dispose()
        }
        $inner = Get-HostBrokerInnerException -Exception $_.Exception
        $category = [System.Management.Automation.ErrorCategory]::ConnectionError
        if ($inner -is [System.TimeoutException]) {
            $reason = 'no broker answered within {0} seconds' -f $TimeoutSec
        }
        elseif ($inner -is [System.UnauthorizedAccessException] -or ($inner -is [System.Net.Sockets.SocketException] -and $inner.SocketErrorCode -eq [System.Net.Sockets.SocketError]::AccessDenied)) {
            $reason = 'access is denied; the broker grants this pipe only to the accounts its policy names'
            $category = [System.Management.Automation.ErrorCategory]::PermissionDenied
        }
        else {
            $reason = $inner.Message
        }
        throw (New-HostBrokerConnectionException -Endpoint $Endpoint -Activity $activity -Reason $reason -InnerException $inner -MountHint -Category $category)
    }

    # Holds the stream, the read buffer and a read or message in progress (kept across an abandoned wait),
    # the next request id, and what initialize returns.
    if ($null -ne $socket) {
        $connection = [WinsHost.RpcConnection]::new($Endpoint, $socket, $TimeoutSec)
    }
    else {
        $connection = [WinsHost.RpcConnection]::new($Endpoint, $stream, $TimeoutSec)
    }

    $module = $MyInvocation.MyCommand.Module
    $version = '0.0.0'
    if ($module) {
        $version = $module.Version.ToString()
    }
    $params = @{
        clientInfo      = @{ name = 'WinsHost.PowerShell'; version = $version }
        protocolVersion = 1
    }

    try {
        # Something else listening on the path (or a wedged broker) must not hang the first cmdlet forever.
        $deadline = [datetime]::UtcNow.AddSeconds($TimeoutSec)
        $result = Invoke-HostRpc -Connection $connection -Method 'initialize' -Params $params -Deadline $deadline
    }
    catch {
        Close-HostRpcConnection -Connection $connection
        $inner = Get-HostBrokerInnerException -Exception $_.Exception
        # A send that fails right after connecting is still a failure to connect, not a request to retry.
        if ($inner.Data.Contains('WinsHost.SendFailed')) {
            $inner.Data.Remove('WinsHost.SendFailed')
        }
        throw
    }

    $resultProperties = $null
    if ($result -is [System.Management.Automation.PSCustomObject]) {
        $resultProperties = $result.PSObject.Properties
    }
    if ($null -eq $resultProperties -or $null -eq $resultProperties['protocolVersion'] -or $null -eq $resultProperties['serverInfo']) {
        Close-HostRpcConnection -Connection $connection
        throw (New-HostBrokerException -ErrorId 'ProtocolError' -Category ProtocolError -ExceptionType InvalidData `
                -Message ("The server at '{0}' answered initialize without serverInfo and protocolVersion; it is not a WinsHost broker." -f $Endpoint.Pipe) `
                -Data @{ Pipe = [string]$Endpoint.Pipe; Method = 'initialize' })
    }
    if ([string]$result.protocolVersion -ne '1') {
        Close-HostRpcConnection -Connection $connection
        throw (New-HostBrokerException -ErrorId 'ProtocolError' -Category ProtocolError -ExceptionType InvalidData `
                -Message ("The WinsHost broker at '{0}' speaks protocol version {1}; this module speaks version 1. Install a matching WinsHost module." -f $Endpoint.Pipe, $result.protocolVersion) `
                -Data @{ Pipe = [string]$Endpoint.Pipe; Method = 'initialize' })
    }

    $connection.ServerInfo = $result.serverInfo
    $connection.ProtocolVersion = [int]$result.protocolVersion
    if ($null -ne $resultProperties['capabilities']) {
        $connection.Capabilities = $result.capabilities
    }
    if ($null -ne $resultProperties['caller']) {
        $connection.Caller = $result.caller
    }
    $connection
}
