function Add-HostProcessNotification {
    <#
    .SYNOPSIS
    Takes one notification that arrived while Start-HostProcess -Wait waits: output, or the exit.

    .DESCRIPTION
    'process/output' ({ processId, stream, data }) is decoded and its finished lines are written;
    'process/exited' ({ processId, exitCode, signal }) is kept in the reader. Notifications of other
    processes (another process streaming to this connection) and other methods are ignored. Before the
    reader knows its process id, both kinds are kept for Set-HostProcessOutputReaderId.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader,

        [Parameter(Mandatory)]
        [string] $Method,

        [AllowNull()]
        [psobject] $Params
    )

    if (($Method -cne 'process/output' -and $Method -cne 'process/exited') -or $null -eq $Params) {
        Write-Debug "WinsHost: ignoring notification '$Method' while waiting for a host process."
        return
    }
    if ($null -eq $Reader.ProcessId) {
        $Reader.Early.Add([pscustomobject]@{ Method = $Method; Params = $Params })
        return
    }

    $idProperty = $Params.PSObject.Properties['processId']
    if ($null -eq $idProperty -or [string]$idProperty.Value -cne [string]$Reader.ProcessId) {
        Write-Debug "WinsHost: ignoring '$Method' of another process."
        return
    }

    if ($Method -ceq 'process/exited') {
        $Reader.Exited = $Params
        return
    }

    $streamProperty = $Params.PSObject.Properties['stream']
    $dataProperty = $Params.PSObject.Properties['data']
    if ($null -eq $streamProperty -or $null -eq $dataProperty) {
        return
    }
    Add-HostProcessOutput -Reader $Reader -Stream ([string]$streamProperty.Value) -Data ([string]$dataProperty.Value)
}
