function Test-HostBrokerSamePipe {
    <#
    .SYNOPSIS
    True when two pipe endpoints name the same pipe.

    .DESCRIPTION
    Windows pipe names are case-insensitive; Unix socket paths are not.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Left,

        [Parameter(Mandatory)]
        [psobject] $Right
    )

    if ($Left.IsUnixSocket -ne $Right.IsUnixSocket) {
        return $false
    }
    if ($Left.IsUnixSocket) {
        return [string]::Equals([string]$Left.Pipe, [string]$Right.Pipe, [System.StringComparison]::Ordinal)
    }
    [string]::Equals([string]$Left.Pipe, [string]$Right.Pipe, [System.StringComparison]::OrdinalIgnoreCase)
}
