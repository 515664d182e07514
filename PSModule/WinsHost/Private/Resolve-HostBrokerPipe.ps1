function Resolve-HostBrokerPipe {
    <#
    .SYNOPSIS
    Chooses the broker pipe (-Pipe, else $env:WINSHOST_PIPE, else the platform default) and normalizes it.

    .DESCRIPTION
    NamedPipeClientStream wants a server name and a bare pipe name on Windows, and (on Linux and macOS) treats a
    rooted name as a Unix socket path. Users write pipes the way their container runtime does, so all of these
    are accepted and turned into one canonical form:

      Windows:  \\.\pipe\winshost, //./pipe/winshost (Docker/Kubernetes spelling), winshost
      Linux:    /run/winshost/winshost.sock (an absolute socket path)

    Every other spelling is rejected here, with the rule in the message, rather than failing later as an
    unexplained connection timeout.
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.PipeEndpoint')]
    param(
        [AllowNull()]
        [AllowEmptyString()]
        [string] $Pipe
    )

    $onWindows = Test-HostBrokerWindows

    $source = 'Parameter'
    $value = $Pipe
    if ([string]::IsNullOrWhiteSpace($value)) {
        $source = 'Environment'
        $value = $env:WINSHOST_PIPE
    }
    if ([string]::IsNullOrWhiteSpace($value)) {
        $source = 'Default'
        if ($onWindows) {
            $value = '\\.\pipe\winshost'
        }
        else {
            $value = '/run/winshost/winshost.sock'
        }
    }
    $value = $value.Trim()

    $sourceText = @{
        Parameter   = 'the -Pipe parameter'
        Environment = '$env:WINSHOST_PIPE'
        Default     = 'the default'
    }[$source]

    if ($onWindows) {
        $windowsForm = $value.Replace('/', '\')
        if ($windowsForm -match '^\\\\([^\\]+)\\pipe\\(.+)$') {
            $serverName = $Matches[1]
            $pipeName = $Matches[2]
        }
        elseif ($windowsForm -notmatch '[\\:]') {
            $serverName = '.'
            $pipeName = $windowsForm
        }
        else {
            $message = "'$value' (from $sourceText) is not a pipe name. On Windows give the broker pipe as \\.\pipe\<name>, //./pipe/<name> or <name>, e.g. \\.\pipe\winshost."
            throw (New-HostBrokerException -ErrorId 'InvalidPipe' -Category InvalidArgument -Message $message -ExceptionType Argument -Data @{ Pipe = $value })
        }
        $canonical = '\\{0}\pipe\{1}' -f $serverName, $pipeName
        $isUnixSocket = $false
    }
    else {
        if (-not $value.StartsWith('/')) {
            $message = "'$value' (from $sourceText) is not an absolute socket path. On Linux and macOS the broker is a Unix socket; give its absolute path, e.g. /run/winshost/winshost.sock."
            throw (New-HostBrokerException -ErrorId 'InvalidPipe' -Category InvalidArgument -Message $message -ExceptionType Argument -Data @{ Pipe = $value })
        }
        # GetFullPath folds '..' and doubled slashes so that two spellings of one socket compare equal.
        $canonical = [System.IO.Path]::GetFullPath($value)
        $serverName = '.'
        $pipeName = $canonical
        $isUnixSocket = $true
    }

    [pscustomobject]@{
        PSTypeName   = 'WinsHost.PipeEndpoint'
        Pipe         = $canonical
        ServerName   = $serverName
        PipeName     = $pipeName
        IsUnixSocket = $isUnixSocket
        Source       = $source
    }
}
