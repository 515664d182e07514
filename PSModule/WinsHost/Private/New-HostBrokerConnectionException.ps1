function New-HostBrokerConnectionException {
    <#
    .SYNOPSIS
    Creates the 'ConnectionError' exception for a broker that cannot be reached or was lost.

    .DESCRIPTION
    The usual cause inside a container is a pipe or socket that was never mounted, so the message names the
    pipe that was tried, where that name came from, and (for failures to connect) the mount that provides it.
    -SendFailed marks a request that never reached the broker as a whole; only those may be sent again.
    #>
    [CmdletBinding()]
    [OutputType([System.IO.IOException])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Endpoint,

        # What was being done, e.g. "Cannot connect to the WinsHost broker".
        [Parameter(Mandatory)]
        [string] $Activity,

        [Parameter(Mandatory)]
        [string] $Reason,

        [System.Exception] $InnerException,

        # Add how to make the broker reachable (for failures to connect, not for lost connections).
        [switch] $MountHint,

        [switch] $SendFailed,

        [System.Management.Automation.ErrorCategory] $Category = [System.Management.Automation.ErrorCategory]::ConnectionError
    )

    $sourceText = @{
        Parameter   = 'from -Pipe'
        Environment = 'from $env:WINSHOST_PIPE'
        Default     = 'the default'
    }[[string]$Endpoint.Source]
    if (-not $sourceText) {
        $sourceText = 'the current connection'
    }

    $message = "{0} at '{1}' ({2}): {3}." -f $Activity, $Endpoint.Pipe, $sourceText, $Reason.TrimEnd('.')
    if ($MountHint) {
        if ($Endpoint.IsUnixSocket) {
            $directory = [System.IO.Path]::GetDirectoryName($Endpoint.Pipe)
            if ([string]::IsNullOrEmpty($directory) -or $directory -eq '/') {
                $directory = $Endpoint.Pipe
            }
            $message += " Mount the broker socket into the container, e.g. -v ${directory}:${directory}, or set `$env:WINSHOST_PIPE to the socket path."
        }
        else {
            $message += " Mount the broker pipe into the container, e.g. -v $($Endpoint.Pipe):$($Endpoint.Pipe), or set `$env:WINSHOST_PIPE to the pipe name."
        }
    }

    $data = @{ Pipe = [string]$Endpoint.Pipe }
    if ($SendFailed) {
        $data['WinsHost.SendFailed'] = $true
    }
    $splat = @{
        ErrorId       = 'ConnectionError'
        Category      = $Category
        Message       = $message
        ExceptionType = 'IO'
        Data          = $data
    }
    if ($InnerException) {
        $splat['InnerException'] = $InnerException
    }
    New-HostBrokerException @splat
}
