# Runs every Pester suite under test/ and prints one totals line for scripts/test.mjs.
param(
    [Parameter(Mandatory)][string]$PesterManifest,
    [string[]]$Path = @((Join-Path $PSScriptRoot '..' 'test'))
)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Import-Module (Resolve-Path $PesterManifest).Path -Force
$configuration = New-PesterConfiguration
$configuration.Run.Path = $Path
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
$configuration.Output.StackTraceVerbosity = 'Filtered'
$result = Invoke-Pester -Configuration $configuration
"Pester totals: $($result.PassedCount) passed, $($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount) failed, $($result.SkippedCount) skipped"
if ($result.Result -ne 'Passed') { exit 1 }
exit 0
