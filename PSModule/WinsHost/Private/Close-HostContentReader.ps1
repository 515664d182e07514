function Close-HostContentReader {
    <#
    .SYNOPSIS
    Releases the hash and buffers of a Get-HostContent read; safe to call more than once.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [psobject] $Reader
    )

    if ($null -ne $Reader.Hash) {
        $Reader.Hash.Dispose()
        $Reader.Hash = $null
    }
    if ($Reader.Whole -is [System.IDisposable]) {
        $Reader.Whole.Dispose()
    }
    $Reader.Whole = $null
}
