function Write-WinsHostTestJsonFile {
    <#
    .SYNOPSIS
    Writes a hashtable as JSON (UTF-8 without BOM) for the broker: JSON is YAML, so policies go this way too.
    #>
    [CmdletBinding()]
    [OutputType([void])]
    param(
        [Parameter(Mandatory)]
        [System.Collections.IDictionary] $InputObject,

        [Parameter(Mandatory)]
        [string] $Path
    )

    # The default depth (2) would cut a policy or fixture off into type names.
    $json = ConvertTo-Json -InputObject $InputObject -Depth 64
    [System.IO.File]::WriteAllText($Path, $json, (New-Object System.Text.UTF8Encoding -ArgumentList $false))
}
