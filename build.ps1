<#
.SYNOPSIS
Builds, tests and benchmarks WinsHost.

.DESCRIPTION
Each task calls the same script the matching npm command runs (scripts/setup.mjs, scripts/test.mjs,
bench/rpc.bench.ts), so npm and build.ps1 share one definition of every step. Runs on Windows PowerShell 5.1
and PowerShell 7; needs Node 20, npm and the .NET SDK on PATH.

.PARAMETER Task
Setup (install the tools into .tools and the npm packages), Build (bundle the broker), Test (every test),
Bench (the benchmarks). Several tasks run in the order given.

.EXAMPLE
./build.ps1 -Task Build, Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Setup', 'Build', 'Test', 'Bench')]
    [string[]] $Task = @('Build', 'Test')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

function Invoke-Step {
    param([string] $Name, [string[]] $Arguments)
    Write-Host "build.ps1: $Name" -ForegroundColor Cyan
    & node @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "build.ps1: $Name failed with exit code $LASTEXITCODE"
    }
}

Push-Location $PSScriptRoot
try {
    foreach ($name in $Task) {
        switch ($name) {
            'Setup' { Invoke-Step 'Setup' @('scripts/setup.mjs') }
            'Build' {
                Invoke-Step 'Setup' @('scripts/setup.mjs', '--quiet')
                Invoke-Step 'Build' @('scripts/setup.mjs', '--build-only')
            }
            'Test' {
                Invoke-Step 'Setup' @('scripts/setup.mjs', '--quiet')
                Invoke-Step 'Test' @('scripts/test.mjs')
            }
            'Bench' {
                Invoke-Step 'Setup' @('scripts/setup.mjs', '--quiet')
                Invoke-Step 'Bench (RPC)' @('--import', 'tsx', 'bench/rpc.bench.ts')
                Invoke-Step 'Bench (process relay)' @('--import', 'tsx', 'bench/process.bench.ts')
                Invoke-Step 'Bench (proxy apply)' @('--import', 'tsx', 'bench/proxy.bench.ts')
            }
        }
    }
}
finally {
    Pop-Location
}
