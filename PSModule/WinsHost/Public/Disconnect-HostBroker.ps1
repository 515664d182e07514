function Disconnect-HostBroker {
    <#
    .SYNOPSIS
    Closes this session's connection to the WinsHost broker.

    .DESCRIPTION
    Closes the pipe or socket and forgets the connection, so that the next WinsHost cmdlet connects again and
    chooses its pipe afresh (-Pipe, else $env:WINSHOST_PIPE, else the default). Nothing happens, and no error is
    written, when there is no connection.

    .PARAMETER Pipe
    Closes the connection only if it is to this pipe or socket (same spellings as Connect-HostBroker -Pipe).
    Without it, the current connection is closed whatever its pipe.

    .EXAMPLE
    Disconnect-HostBroker

    Closes the current broker connection, if any.

    .EXAMPLE
    Connect-HostBroker -Pipe /run/winshost/admin.sock -PassThru | Disconnect-HostBroker

    Checks that the admin socket answers (the handshake runs), then closes that connection again; the Pipe
    property of the connection object binds to -Pipe.

    .INPUTS
    System.String. The Pipe property of piped objects binds to -Pipe.

    .OUTPUTS
    None.

    .LINK
    Connect-HostBroker

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        $current = $script:HostBrokerConnection
        if ($null -eq $current) {
            Write-Verbose 'Not connected to a WinsHost broker.'
            return
        }
        if ($PSBoundParameters.ContainsKey('Pipe')) {
            try {
                $endpoint = Resolve-HostBrokerPipe -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            if (-not (Test-HostBrokerSamePipe -Left $current.Endpoint -Right $endpoint)) {
                Write-Verbose ("The current connection is to {0}, not {1}; leaving it open." -f $current.Endpoint.Pipe, $endpoint.Pipe)
                return
            }
        }
        Close-HostRpcConnection -Connection $current
        $script:HostBrokerConnection = $null
        Write-Verbose ('Disconnected from the WinsHost broker at {0}.' -f $current.Endpoint.Pipe)
    }
}
