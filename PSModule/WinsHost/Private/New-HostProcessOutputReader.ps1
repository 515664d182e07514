function New-HostProcessOutputReader {
    <#
    .SYNOPSIS
    Creates the state that turns a host process's output into lines: a decoder and a partial line per stream.

    .DESCRIPTION
    Output arrives as base64 chunks of bytes per stream (process/output notifications, or process/receive
    results). Each stream has its own System.Text.Decoder, so a character whose bytes are split across two
    chunks of that stream decodes as that character even when a chunk of the other stream comes in between.
    Add-HostProcessOutput decodes a chunk and writes the finished lines to -Cmdlet's pipeline: stdout lines as
    strings, stderr lines as WinsHost.ProcessStandardError errors. Complete-HostProcessOutputReader writes the
    partial last lines.

    -ProcessId may be left out when it is not known yet (Start-HostProcess -Wait before process/start has
    answered): notifications are then kept in Early and replayed by Set-HostProcessOutputReaderId.
    #>
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        # The cmdlet whose pipeline receives the lines ($PSCmdlet of the public cmdlet).
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet,

        [System.Nullable[int]] $ProcessId,

        # The Streams of an earlier reader of the same process, to continue its lines (Receive-HostProcessOutput).
        [System.Collections.IDictionary] $Streams
    )

    # Invalid bytes become U+FFFD instead of failing, as for native commands.
    $encoding = New-Object System.Text.UTF8Encoding $false
    $streamStates = $Streams
    if ($null -eq $streamStates) {
        $streamStates = @{}
        foreach ($name in @('stdout', 'stderr')) {
            $streamStates[$name] = [pscustomobject]@{
                Name    = $name
                IsError = ($name -eq 'stderr')
                Decoder = $encoding.GetDecoder()
                # The text of the line being written (no newline seen yet).
                Pending = New-Object System.Text.StringBuilder
            }
        }
    }

    [pscustomobject]@{
        Cmdlet    = $Cmdlet
        ProcessId = $ProcessId
        Encoding  = $encoding
        Streams   = $streamStates
        # Notifications that arrived before the process id was known: @{ Method; Params }.
        Early     = New-Object System.Collections.Generic.List[object]
        # The params of the process/exited notification of this process, once it arrived.
        Exited    = $null
        Completed = $false
    }
}
