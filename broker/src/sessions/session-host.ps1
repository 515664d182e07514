# WinsHost session host: serves exactly one restricted PowerShell session to the broker over stdin/stdout,
# one JSON object per line (the contract is broker/src/sessions/host-protocol.ts).
# Runs on PowerShell 7.x and Windows PowerShell 5.1, started by the broker as
#   pwsh -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File session-host.ps1 -AssemblyPath <dll>
# The core is C# (broker/src/sessions/host, built into WinsHost.SessionHost.dll beside the broker bundle)
# because the protocol needs real threads: stdin is read while a pipeline streams, and `stop` must reach a
# running pipeline. This script holds what stays PowerShell: the restriction script below, and the start.
param(
    # WinsHost.SessionHost.dll; the broker passes the one built beside its bundle.
    [Parameter(Mandatory)][string] $AssemblyPath
)
Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

# Restricts a runspace from the inside: the way a session opened through PowerShell Direct (containerId) is
# locked down, since a remote runspace cannot be built from an InitialSessionState. Run it with
# AddScript(script, useLocalScope: true) and one argument, the grant as a hashtable:
#   AllCommands (bool), LanguageMode, Commands = @(@{ Name; Parameters = @(@{ Name; ValidateSet; ValidatePattern }) }),
#   Modules, Providers, Programs.
# It returns @{ LanguageMode; Location }. Failures are terminating errors whose FullyQualifiedErrorId is
# WinsHost.<openFailed reason>. Everything it defines before the language mode switch is trusted, like ISS
# entries, which is what lets proxy functions call the commands they hide.
$SessionRestrictionScript = @'
param([System.Collections.IDictionary] $Grant)
$ErrorActionPreference = 'Stop'

function Stop-Restriction([string] $Reason, [string] $Message) {
    $exception = New-Object System.InvalidOperationException $Message
    $record = New-Object System.Management.Automation.ErrorRecord $exception, "WinsHost.$Reason", ([System.Management.Automation.ErrorCategory]::InvalidArgument), $null
    throw $record
}

$remotingBasics = @('Get-Command', 'Out-Default', 'Select-Object', 'Measure-Object', 'Get-FormatData', 'Get-Help', 'Exit-PSSession', 'Clear-Host')
$visible = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
foreach ($name in $remotingBasics) { [void]$visible.Add($name) }

foreach ($module in @($Grant['Modules'])) {
    if ($null -eq $module) { continue }
    try { Import-Module -Name $module -ErrorAction Stop }
    catch { Stop-Restriction 'ModuleNotFound' ("Module '{0}' could not be imported: {1}" -f $module, $_.Exception.Message) }
}

if (-not $Grant['AllCommands']) {
    $innerIndex = 0
    foreach ($entry in @($Grant['Commands'])) {
        if ($null -eq $entry) { continue }
        $name = [string]$entry['Name']
        $command = Get-Command -Name $name -CommandType Alias, Function, Filter, Cmdlet -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($null -eq $command) { Stop-Restriction 'CommandNotFound' ("Command '{0}' was not found in the session's target." -f $name) }
        if ($command.CommandType -eq 'Alias') {
            [void]$visible.Add($command.Name)
            $command = $command.ResolvedCommand
            if ($null -eq $command) { Stop-Restriction 'CommandNotFound' ("Alias '{0}' does not resolve to a command." -f $name) }
        }
        $parameters = @($entry['Parameters'] | Where-Object { $null -ne $_ })
        [void]$visible.Add($command.Name)
        if ($parameters.Count -eq 0 -or $null -eq $entry['Parameters']) { continue }

        $metadata = New-Object System.Management.Automation.CommandMetadata $command
        $listed = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
        foreach ($parameter in $parameters) {
            $parameterName = [string]$parameter['Name']
            [void]$listed.Add($parameterName)
            if (-not $metadata.Parameters.ContainsKey($parameterName)) {
                Stop-Restriction 'InvalidConfig' ("Command '{0}' has no parameter '{1}'." -f $command.Name, $parameterName)
            }
            $attributes = $metadata.Parameters[$parameterName].Attributes
            if ($null -ne $parameter['ValidateSet']) { $attributes.Add((New-Object System.Management.Automation.ValidateSetAttribute -ArgumentList (, [string[]]@($parameter['ValidateSet'])))) }
            if ($null -ne $parameter['ValidatePattern']) { $attributes.Add((New-Object System.Management.Automation.ValidatePatternAttribute -ArgumentList ([string]$parameter['ValidatePattern']))) }
        }
        foreach ($key in @($metadata.Parameters.Keys)) { if (-not $listed.Contains($key)) { [void]$metadata.Parameters.Remove($key) } }
        $body = [System.Management.Automation.ProxyCommand]::Create($metadata, '', $false)
        if ($command.CommandType -ne 'Cmdlet') {
            # A function and its proxy cannot share a name: the original moves to a private name the proxy calls.
            $innerIndex++
            $innerName = 'WinsHost.Restricted{0}.{1}' -f $innerIndex, $command.Name
            Set-Item -LiteralPath ('function:global:' + $innerName) -Value $command.ScriptBlock
            $body = $body.Replace(("GetCommand('{0}'," -f $command.Name), ("GetCommand('{0}'," -f $innerName))
        }
        Set-Item -LiteralPath ('function:global:' + $command.Name) -Value ([scriptblock]::Create($body))
    }

    if ($null -ne (Get-Variable -Name PSModuleAutoLoadingPreference -Scope Global -ErrorAction SilentlyContinue)) {
        Remove-Variable -Name PSModuleAutoLoadingPreference -Scope Global -Force
    }
    New-Variable -Name PSModuleAutoLoadingPreference -Value ([System.Management.Automation.PSModuleAutoLoadingPreference]::None) -Option Constant -Scope Global

    $ExecutionContext.SessionState.Applications.Clear()
    foreach ($program in @($Grant['Programs'])) { if ($null -ne $program) { $ExecutionContext.SessionState.Applications.Add([string]$program) } }
    $ExecutionContext.SessionState.Scripts.Clear()

    $grantedProviders = @($Grant['Providers'] | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_ })
    foreach ($name in $grantedProviders) {
        if ($null -eq (Get-PSProvider -PSProvider $name -ErrorAction SilentlyContinue)) { Stop-Restriction 'ProviderNotFound' ("Provider '{0}' does not exist in the session's target." -f $name) }
    }
    # Leave the drives about to go: to a granted provider's drive, or (below) to no drive at all.
    $currentProvider = $null
    try { $currentProvider = $ExecutionContext.SessionState.Path.CurrentLocation.Provider.Name } catch { $currentProvider = $null }
    $leaveDrive = $null -ne $currentProvider -and $grantedProviders -notcontains $currentProvider
    if ($leaveDrive) {
        foreach ($name in $grantedProviders) {
            $drive = @((Get-PSProvider -PSProvider $name).Drives) | Select-Object -First 1
            if ($null -ne $drive) { Set-Location -LiteralPath ($drive.Name + ':'); $leaveDrive = $false; break }
        }
    }
    $flags = [System.Reflection.BindingFlags]'Instance, NonPublic, Public'
    foreach ($provider in @(Get-PSProvider)) {
        if ($grantedProviders -contains $provider.Name) { continue }
        foreach ($drive in @($provider.Drives)) {
            try { Remove-PSDrive -LiteralName $drive.Name -PSProvider $provider.Name -Scope Global -Force -ErrorAction Stop } catch { Write-Verbose $_.Exception.Message }
        }
        # No public API removes a provider from a running session; without its drives, only provider-qualified
        # paths (FileSystem::C:\) would still reach it, so remove it through the engine's own (internal) method.
        try {
            $internal = $ExecutionContext.SessionState.GetType().GetProperty('Internal', $flags).GetValue($ExecutionContext.SessionState, $null)
            $engine = $internal.GetType().GetProperty('ExecutionContext', $flags).GetValue($internal, $null)
            $contextType = [System.Management.Automation.PSObject].Assembly.GetType('System.Management.Automation.CmdletProviderContext')
            $context = $contextType.GetConstructor($flags, $null, [type[]]@($engine.GetType()), $null).Invoke(@($engine))
            $remove = $internal.GetType().GetMethod('RemoveProvider', $flags, $null, [type[]]@([string], [bool], $contextType), $null)
            [void]$remove.Invoke($internal, @($provider.Name, $true, $context))
        } catch { Write-Verbose $_.Exception.Message }
    }
    if ($leaveDrive) {
        try {
            $internal = $ExecutionContext.SessionState.GetType().GetProperty('Internal', $flags).GetValue($ExecutionContext.SessionState, $null)
            $internal.GetType().GetProperty('CurrentDrive', $flags).SetValue($internal, $null, $null)
        } catch { Write-Verbose $_.Exception.Message }
    }
}

$location = $null
try { $location = $ExecutionContext.SessionState.Path.CurrentLocation.Path } catch { $location = $null }

if (-not $Grant['AllCommands']) {
    # Last but the language mode: this script runs with the runspace's own command origin, so once a command
    # is private this script cannot call it either. Only methods and language from here on.
    $commands = @(Get-Command -ListImported -CommandType Alias, Function, Filter, Cmdlet)
    $functionNames = New-Object 'System.Collections.Generic.HashSet[string]' ([System.StringComparer]::OrdinalIgnoreCase)
    foreach ($command in $commands) { if ($command.CommandType -eq 'Function' -or $command.CommandType -eq 'Filter') { [void]$functionNames.Add($command.Name) } }
    foreach ($command in $commands) {
        $show = $visible.Contains($command.Name)
        if ($command.CommandType -eq 'Alias') { $show = $show -or $visible.Contains([string]$command.Definition) }
        # A cmdlet behind a proxy of its name stays private, or its module-qualified name would bypass the proxy.
        if ($command.CommandType -eq 'Cmdlet' -and $functionNames.Contains($command.Name)) { $show = $false }
        if ($show) { $command.Visibility = [System.Management.Automation.SessionStateEntryVisibility]::Public }
        else { $command.Visibility = [System.Management.Automation.SessionStateEntryVisibility]::Private }
    }
}
$ExecutionContext.SessionState.LanguageMode = [System.Management.Automation.PSLanguageMode][string]$Grant['LanguageMode']
@{ LanguageMode = [string]$Grant['LanguageMode']; Location = $location }
'@

$edition = 'Desktop'
if ($PSVersionTable.ContainsKey('PSEdition')) { $edition = [string]$PSVersionTable.PSEdition }
$exitCode = 1
try {
    Add-Type -LiteralPath $AssemblyPath
    $exitCode = [WinsHost.SessionHost.Host]::Run($SessionRestrictionScript, $PSVersionTable.PSVersion.ToString(), $edition, $PID)
} catch {
    [Console]::Error.WriteLine('session host failed: ' + $_.Exception.ToString())
    $exitCode = 1
}
[Environment]::Exit($exitCode)
