function Receive-HostProcessOutput {
    <#
    .SYNOPSIS
    Gets the output a host process wrote since it was last received, like Receive-Job.

    .DESCRIPTION
    Asks the WinsHost broker for the output it buffered for a process started without -Wait (the
    'process/receive' method). Output is given to one receiver only: what this returns is not returned again.
    The broker buffers a bounded amount per process, so receive regularly from a process that writes a lot.

    Standard output lines are written as strings; standard error lines as non-terminating errors
    WinsHost.ProcessStandardError (category NotSpecified, TargetObject the process id), as Start-HostProcess
    -Wait writes them. In each batch the stdout lines come before the stderr lines, so the order between the
    two streams is not kept; use Start-HostProcess -Wait where it matters.

    Without -Wait one batch is returned. Only whole lines are returned while the process runs: a line it has
    not finished yet (and a character whose bytes are split) is kept in this session and returned, whole, by
    the next Receive-HostProcessOutput for the process; the last line is returned once the process has exited.
    With -Wait the cmdlet asks again about every 200 milliseconds until the process has exited and everything
    it wrote was received. -Wait does not set $LASTEXITCODE; use Wait-HostProcess -PassThru for the exit code.

    .PARAMETER Id
    The host process id. The Id property of piped objects (Get-HostProcess, Start-HostProcess -PassThru)
    binds to it.

    .PARAMETER Wait
    Keeps receiving until the process has exited and all its output was received.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Receive-HostProcessOutput -Id 4120

    Shows what host process 4120 wrote since its output was last received.

    .EXAMPLE
    $agent = Start-HostProcess -FilePath /opt/agent/bin/agent -ArgumentList '--once' -PassThru
    Receive-HostProcessOutput -Id $agent.Id -Wait 2>&1 | Tee-Object -FilePath /tmp/agent.log

    Starts a program on a Linux host and collects all its output, stderr included, until it exits.

    .EXAMPLE
    Get-HostProcess | Where-Object Detached | Receive-HostProcessOutput

    Collects what the detached host processes wrote since the last time.

    .INPUTS
    System.Int32. The Id property of piped objects binds to -Id.

    .OUTPUTS
    System.String

    .LINK
    Start-HostProcess

    .LINK
    Wait-HostProcess

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [int] $Id,

        [switch] $Wait,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        # Decoders and partial lines continue from the previous receive of this process in this session.
        $key = '{0}|{1}' -f $Pipe, $Id
        $states = $script:HostProcessOutputStreams
        $streams = $null
        if ($states.ContainsKey($key)) {
            $streams = $states[$key]
        }
        $reader = New-HostProcessOutputReader -Cmdlet $PSCmdlet -ProcessId $Id -Streams $streams
        if ($null -eq $streams) {
            if ($states.Count -ge 256) {
                # Processes whose output was never received to the end; forgetting them costs partial lines only.
                $states.Clear()
            }
            $states[$key] = $reader.Streams
        }

        $complete = $false
        while ($true) {
            try {
                $result = Invoke-HostRpc -Method 'process/receive' -Params @{ processId = $Id } -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }
            foreach ($stream in @('stdout', 'stderr')) {
                $data = Get-HostBrokerMember -InputObject $result -Path $stream
                if ($null -ne $data) {
                    Add-HostProcessOutput -Reader $reader -Stream $stream -Data ([string]$data)
                }
            }
            $complete = (Get-HostBrokerMember -InputObject $result -Path 'complete') -eq $true
            if ($complete -or -not $Wait) {
                break
            }
            Start-Sleep -Milliseconds 200
        }
        if ($complete) {
            $null = $states.Remove($key)
            Complete-HostProcessOutputReader -Reader $reader
        }
    }
}
