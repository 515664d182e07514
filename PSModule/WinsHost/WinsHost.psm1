#Requires -Version 5.1
Set-StrictMode -Version 2.0

# The broker connection of this runspace. Module scope is per runspace, so runspaces never share a stream
# (a JSON-RPC stream carries one conversation; two threads on it would interleave frames).
$script:HostBrokerConnection = $null

# Receive-HostProcessOutput's decoders and partial lines between calls, by '<pipe>|<process id>', until the
# process's output is complete: a character or line split between two receives still comes out whole.
$script:HostProcessOutputStreams = @{}

# Enter-HostSession's loop while it runs ({ SessionId, ExitRequested }); Exit-HostSession ends it.
$script:HostSessionInteractive = $null

# How long an implicit connection (a cmdlet without a prior Connect-HostBroker) waits for the broker.
$script:HostBrokerDefaultTimeoutSec = 5

# Private first: public functions call helpers at invocation time only, but keeping the order makes the
# module usable even if a public file ever runs code while it loads.
foreach ($folder in @('Private', 'Public')) {
    $folderPath = Join-Path -Path $PSScriptRoot -ChildPath $folder
    if (-not (Test-Path -LiteralPath $folderPath)) {
        continue
    }
    foreach ($file in @(Get-ChildItem -LiteralPath $folderPath -Filter '*.ps1' -File | Sort-Object -Property Name)) {
        . $file.FullName
    }
}

# What the compiled client (PSModule/WinsHost.Client) calls back into, looked up once: a function drive lookup
# per command is a noticeable part of a warm Invoke-HostCommand { 1 }. Reconnect: Get-HostRpcConnection
# without -Pipe reopens the current connection's pipe (see WinsHost.RpcExchange).
$script:HostRpcReconnect = ${function:Get-HostRpcConnection}
$script:HostSessionRecordWriter = ${function:Write-HostSessionRecord}

# Closing the stream on Remove-Module lets the broker release the caller's session at once instead of
# waiting for the runspace to be collected.
$MyInvocation.MyCommand.ScriptBlock.Module.OnRemove = {
    if ($script:HostBrokerConnection) {
        Close-HostRpcConnection -Connection $script:HostBrokerConnection
        $script:HostBrokerConnection = $null
    }
}
