function Resolve-WinsHostTestInputFile {
    <#
    .SYNOPSIS
    Turns a -Policy or -Fixture value into a file the broker reads: an existing path, or a hashtable written
    as JSON into the test broker's directory.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [ValidateSet('Policy', 'Fixture')]
        [string] $Kind,

        [Parameter(Mandatory)]
        [object] $Value,

        [Parameter(Mandatory)]
        [string] $Directory,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet] $Cmdlet
    )

    if ($Value -is [System.Collections.IDictionary]) {
        $path = Join-Path -Path $Directory -ChildPath ($Kind.ToLowerInvariant() + '.json')
        Write-WinsHostTestJsonFile -InputObject $Value -Path $path
        return $path
    }
    if ($Value -is [string] -or $Value -is [System.IO.FileInfo]) {
        $path = $Cmdlet.GetUnresolvedProviderPathFromPSPath([string]$Value)
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            throw (New-WinsHostTestErrorRecord -ErrorId ($Kind + 'NotFound') -Category ObjectNotFound -ExceptionType FileNotFound `
                    -Message ("The {0} file '{1}' does not exist." -f $Kind.ToLowerInvariant(), $path) -TargetObject $path)
        }
        return $path
    }
    throw (New-WinsHostTestErrorRecord -ErrorId ('Invalid' + $Kind) -Category InvalidArgument -ExceptionType Argument `
            -Message ("-{0} must be a file path or a hashtable, not {1}." -f $Kind, $Value.GetType().FullName) -TargetObject $Value)
}
