<#
.SYNOPSIS
Sets up, builds, tests, benchmarks, packages and installs WinsHost.

.DESCRIPTION
Each task runs the same Node script as the matching npm command (scripts/setup.mjs, scripts/test.mjs,
scripts/package.mjs; Bench runs `npm run bench`), so npm and build.ps1 share one definition of every step.
Runs on Windows PowerShell 5.1 and PowerShell 7; needs Node 20 and npm on PATH, and the .NET SDK for Setup
and Test (PowerShell 7.6.9 and Pester 5.7.1 go into .tools/).

.PARAMETER Task
Setup: npm packages, PowerShell and Pester into .tools.
Build: the broker bundle (dist/broker/cli.js with session-host.ps1 and WinsHost.SessionHost.dll), the typings (dist/typings/*.d.ts) and the
modules staged with package.json's version in their manifests (dist/module/).
Test: every test. Bench: the benchmarks.
Package: a zip per platform (broker, koffi's native binary for it, the modules) and a .nupkg per module.
Install: the broker into -BrokerPath and the modules into -ModulePath (or the -Scope module folder).
Several tasks run in the order given.

.PARAMETER OutputPath
Where Package writes (default dist/packages), and where Install packages this machine's platform when
-PackagePath is not given.

.PARAMETER Platform
The platforms Package builds zips for: linux-x64, linux-arm64, win32-x64, win32-arm64 (default all).

.PARAMETER PackagePath
The broker zip Install installs; default: this machine's platform, packaged first.

.PARAMETER BrokerPath
Where Install puts the broker; default %ProgramFiles%\WinsHost on Windows, /opt/winshost on Linux.

.PARAMETER ModulePath
The module folder Install puts WinsHost (and WinsHost.Testing) into, each under <Name>\<version>.

.PARAMETER Scope
CurrentUser (default): this PowerShell's per-user module folder. AllUsers: the machine-wide one
(%ProgramFiles%\WindowsPowerShell\Modules, which PowerShell 7 reads too; /usr/local/share/powershell/Modules).

.PARAMETER Service
After installing, run `winshost-broker install-service` from the installed broker.

.PARAMETER ServiceArgument
Arguments for install-service, e.g. @('--policy', 'C:\ProgramData\WinsHost\policy.yaml').

.EXAMPLE
./build.ps1 -Task Build, Test, Package

.EXAMPLE
./build.ps1 -Task Package, Install -Scope AllUsers -Service -ServiceArgument '--policy', 'C:\ProgramData\WinsHost\policy.yaml'
#>
[CmdletBinding()]
param(
    [ValidateSet('Setup', 'Build', 'Test', 'Bench', 'Package', 'Install')]
    [string[]] $Task = @('Build', 'Test'),

    [string] $OutputPath,

    [ValidateSet('linux-x64', 'linux-arm64', 'win32-x64', 'win32-arm64')]
    [string[]] $Platform,

    [string] $PackagePath,

    [string] $BrokerPath,

    [string] $ModulePath,

    [ValidateSet('CurrentUser', 'AllUsers')]
    [string] $Scope = 'CurrentUser',

    [switch] $Service,

    [string[]] $ServiceArgument = @()
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

function Invoke-Step {
    param([string] $Name, [string] $Command = 'node', [string[]] $Arguments)
    Write-Host "build.ps1: $Name" -ForegroundColor Cyan
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "build.ps1: $Name failed with exit code $LASTEXITCODE"
    }
}


# The per-user module folder of the PowerShell running this script: Documents can be redirected (OneDrive), and
# Windows PowerShell and PowerShell 7 read different ones. Elsewhere the Node script knows the XDG folder.
function Get-DefaultModulePath {
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    if ($Scope -ne 'CurrentUser' -or -not $onWindows) {
        return $null
    }
    $folder = 'PowerShell'
    if ($PSVersionTable.PSEdition -eq 'Desktop') {
        $folder = 'WindowsPowerShell'
    }
    Join-Path -Path (Join-Path -Path ([System.Environment]::GetFolderPath('MyDocuments')) -ChildPath $folder) -ChildPath 'Modules'
}

# Relative paths are the caller's, so they are resolved before the tasks move to the repository root.
$pathParameters = @{ OutputPath = $OutputPath; PackagePath = $PackagePath; BrokerPath = $BrokerPath; ModulePath = $ModulePath }
$resolved = @{}
foreach ($key in @($pathParameters.Keys)) {
    $resolved[$key] = $null
    if ($pathParameters[$key]) {
        $resolved[$key] = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($pathParameters[$key])
    }
}

Push-Location -LiteralPath $PSScriptRoot
try {
    foreach ($name in $Task) {
        switch ($name) {
            'Setup' { Invoke-Step -Name 'Setup' -Arguments @('scripts/setup.mjs') }
            'Build' {
                Invoke-Step -Name 'Setup' -Arguments @('scripts/setup.mjs', '--quiet')
                Invoke-Step -Name 'Build' -Arguments @('scripts/setup.mjs', '--build-only')
            }
            'Test' {
                Invoke-Step -Name 'Setup' -Arguments @('scripts/setup.mjs', '--quiet')
                Invoke-Step -Name 'Test' -Arguments @('scripts/test.mjs')
            }
            'Bench' {
                Invoke-Step -Name 'Bench' -Command 'npm' -Arguments @('run', 'bench')
            }
            'Package' {
                Invoke-Step -Name 'Setup' -Arguments @('scripts/setup.mjs', '--quiet')
                $arguments = @('scripts/package.mjs')
                if ($resolved.OutputPath) {
                    $arguments += @('--out', $resolved.OutputPath)
                }
                foreach ($onePlatform in @($Platform | Where-Object { $_ })) {
                    $arguments += @('--platform', $onePlatform)
                }
                Invoke-Step -Name 'Package' -Arguments $arguments
            }
            'Install' {
                $arguments = @('scripts/package.mjs', 'install', '--scope', $Scope)
                if ($resolved.PackagePath) {
                    $arguments += @('--package', $resolved.PackagePath)
                }
                else {
                    Invoke-Step -Name 'Setup' -Arguments @('scripts/setup.mjs', '--quiet')
                    if ($resolved.OutputPath) {
                        $arguments += @('--out', $resolved.OutputPath)
                    }
                }
                if ($resolved.BrokerPath) {
                    $arguments += @('--broker-dir', $resolved.BrokerPath)
                }
                $moduleFolder = $resolved.ModulePath
                if (-not $moduleFolder) {
                    $moduleFolder = Get-DefaultModulePath
                }
                if ($moduleFolder) {
                    $arguments += @('--module-path', $moduleFolder)
                }
                if ($Service) {
                    $arguments += '--service'
                    foreach ($argument in $ServiceArgument) {
                        # --service-arg=VALUE keeps a value that starts with '--' from being read as an option.
                        $arguments += "--service-arg=$argument"
                    }
                }
                Invoke-Step -Name 'Install' -Arguments $arguments
            }
        }
    }
}
finally {
    Pop-Location
}
