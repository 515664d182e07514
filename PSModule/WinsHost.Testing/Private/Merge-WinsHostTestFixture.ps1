function Merge-WinsHostTestFixture {
    <#
    .SYNOPSIS
    The default fixture with the top-level keys of -Fixture put over it: 'processes' alone keeps the default
    host and network, 'network' replaces the whole network.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.IDictionary])]
    param(
        [System.Collections.IDictionary] $Fixture
    )

    $defaultPath = Join-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath '..') -ChildPath 'Fixtures/DefaultFixture.psd1'
    $merged = Import-PowerShellDataFile -LiteralPath $defaultPath
    if ($Fixture) {
        foreach ($key in @($Fixture.Keys)) {
            $merged[$key] = $Fixture[$key]
        }
    }
    $merged
}
