# Starting and stopping support/fake-broker.mjs, and calling it with the module's private client. Dot-source
# it from BeforeAll; Stop-FakeBroker in AfterAll ends the processes this file started (and only those).

$script:fakeBrokerScript = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath 'fake-broker.mjs')).ProviderPath
$script:fakeBrokerProcesses = New-Object System.Collections.Generic.List[System.Diagnostics.Process]

function New-FakeBrokerDirectory {
    # Unix socket paths are limited to ~100 bytes, so a short directory of our own rather than TestDrive.
    $path = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ('wh-' + [System.Guid]::NewGuid().ToString('N').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $path -Force
    $path
}

function Start-FakeBroker {
    param([Parameter(Mandatory)] [string] $SocketPath)
    $startInfo = New-Object System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = 'node'
    $startInfo.ArgumentList.Add($fakeBrokerScript)
    $startInfo.ArgumentList.Add($SocketPath)
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)
    $fakeBrokerProcesses.Add($process)
    $line = $process.StandardOutput.ReadLineAsync()
    if (-not $line.Wait(15000) -or $line.Result -notlike 'listening *') {
        $process.Kill()
        throw "The fake broker did not start: $($process.StandardError.ReadToEnd())"
    }
    $process
}

function Stop-FakeBroker {
    foreach ($process in $fakeBrokerProcesses) {
        if (-not $process.HasExited) {
            $process.Kill()
            $null = $process.WaitForExit(5000)
        }
    }
    $fakeBrokerProcesses.Clear()
}

# Calls the private client inside the module (test/* methods of the fake broker, for example).
function Invoke-FakeBrokerRpc {
    param([string] $Method, [hashtable] $Params = @{}, [Parameter(Mandatory)] [string] $Pipe)
    & (Get-Module -Name WinsHost) {
        param($Method, $Params, $Pipe)
        Invoke-HostRpc -Method $Method -Params $Params -Pipe $Pipe
    } $Method $Params $Pipe
}

function Initialize-FakeBrokerSession {
    <#
    .SYNOPSIS
    Imports the module, starts a fake broker on a fresh socket and connects to it; returns the socket path.
    #>
    $manifestPath = (Resolve-Path -LiteralPath (Join-Path -Path $PSScriptRoot -ChildPath '../../../PSModule/WinsHost/WinsHost.psd1')).ProviderPath
    Get-Module -Name WinsHost | Remove-Module -Force
    Import-Module -Name $manifestPath -Force -ErrorAction Stop -Global
    $socket = Join-Path (New-FakeBrokerDirectory) 'broker.sock'
    $null = Start-FakeBroker -SocketPath $socket
    Connect-HostBroker -Pipe $socket
    $socket
}

function Get-CurrentConnection {
    & (Get-Module -Name WinsHost) { $script:HostBrokerConnection }
}

function Get-UnixMilliseconds {
    [System.DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
}
