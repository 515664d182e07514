function Find-WinsHostTestBrokerBundle {
    <#
    .SYNOPSIS
    The broker bundle (cli.js) for this module: beside it in a package or checkout, else a default install.

    .DESCRIPTION
    Looks in each folder above the module (up to four levels) for broker/cli.js and dist/broker/cli.js, which
    covers the release zip (modules/WinsHost.Testing beside dist/broker), the staged build (dist/module/...
    beside dist/broker), a repository checkout (PSModule/WinsHost.Testing, dist/broker after 'npm run setup')
    and a flat layout (WinsHost.Testing beside broker/). A module installed into a module path is far from the
    broker, so the default broker directories of the installer come last: /opt/winshost on Linux,
    %ProgramFiles%\WinsHost on Windows. Returns $null when none has it.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string] $ModuleBase
    )

    $roots = New-Object System.Collections.Generic.List[string]
    $folder = Split-Path -Path $ModuleBase -Parent
    for ($level = 0; $level -lt 4 -and $folder; $level++) {
        $roots.Add($folder)
        $folder = Split-Path -Path $folder -Parent
    }
    if (Test-WinsHostTestWindows) {
        if ($env:ProgramFiles) {
            $roots.Add((Join-Path -Path $env:ProgramFiles -ChildPath 'WinsHost'))
        }
    }
    else {
        $roots.Add('/opt/winshost')
    }

    foreach ($root in $roots) {
        foreach ($relative in @('broker/cli.js', 'dist/broker/cli.js')) {
            $candidate = Join-Path -Path $root -ChildPath $relative
            if (Test-Path -LiteralPath $candidate -PathType Leaf) {
                return (Resolve-Path -LiteralPath $candidate).ProviderPath
            }
        }
    }
    $null
}
