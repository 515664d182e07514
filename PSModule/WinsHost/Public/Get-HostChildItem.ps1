function Get-HostChildItem {
    <#
    .SYNOPSIS
    Lists the files and directories in a directory on the container host, like Get-ChildItem.

    .DESCRIPTION
    Asks the WinsHost broker for the entries of a host directory (the 'file/list' method). Only directories
    the broker's policy grants to your profile can be listed (files.roots): the root itself lists its top
    level. A path outside them is refused with WinsHost.PolicyDenied, a path that is not absolute or is a
    file with WinsHost.InvalidParams, a missing directory with WinsHost.NotFound. Links are followed only
    when they stay under the same root, and only files that the root's include pattern matches are listed.

    Each entry is a WinsHost.FileEntry: Name, FullName (the host path, to pass to Get-HostContent), Type
    (File or Directory), Length (bytes, 0 for directories), LastWriteTime (a [datetime]) and Root (the
    policy root the entry is under).

    .PARAMETER Path
    The absolute host paths of the directories to list, in the host's syntax. Strings, and objects with a
    Path or FullName property (such as the directories from Get-HostChildItem), can be piped in.

    .PARAMETER Recurse
    Lists the subdirectories too, and theirs. Linked directories are listed but not descended into.

    .PARAMETER Pipe
    The broker pipe or socket to ask; see Connect-HostBroker. Without it the current connection is used, or
    one is opened to $env:WINSHOST_PIPE or the default pipe.

    .EXAMPLE
    Get-HostChildItem -Path C:\ProgramData\docker\CredentialSpecs

    Lists the credential spec files on the host.

    .EXAMPLE
    Get-HostChildItem -Path /var/log/pods -Recurse | Where-Object Type -eq 'File' | Sort-Object LastWriteTime | Select-Object -Last 5

    Finds the five most recently written files under the host's pod log directory.

    .EXAMPLE
    Get-HostChildItem -Path C:\logs | Where-Object Type -eq 'Directory' | Get-HostChildItem

    Lists the directories one level down, by piping the directories' FullName.

    .EXAMPLE
    '/var/log/nginx', '/var/log/apt' | Get-HostChildItem

    Lists two host directories given as piped strings.

    .INPUTS
    System.String. Paths, or the Path or FullName property of piped objects, bind to -Path.

    .OUTPUTS
    WinsHost.FileEntry

    .LINK
    Get-HostContent

    .LINK
    about_WinsHost
    #>
    [CmdletBinding()]
    [OutputType('WinsHost.FileEntry')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [Alias('FullName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Path,

        [switch] $Recurse,

        [ValidateNotNullOrEmpty()]
        [string] $Pipe
    )

    process {
        foreach ($directory in $Path) {
            $params = @{ path = $directory }
            if ($Recurse) {
                $params['recurse'] = $true
            }

            try {
                $result = Invoke-HostRpc -Method 'file/list' -Params $params -Pipe $Pipe
            }
            catch {
                $PSCmdlet.ThrowTerminatingError((New-HostBrokerErrorRecord -ErrorRecord $_))
            }

            $entries = Get-HostBrokerMember -InputObject $result -Path 'entries'
            foreach ($entry in @($entries)) {
                if ($null -ne $entry) {
                    ConvertTo-HostFileEntry -InputObject $entry
                }
            }
        }
    }
}
