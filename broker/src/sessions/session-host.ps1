# WinsHost session host: serves exactly one restricted PowerShell session to the broker over stdin/stdout,
# one JSON object per line (the contract is broker/src/sessions/host-protocol.ts).
# Runs on PowerShell 7.x and Windows PowerShell 5.1, started by the broker as
#   pwsh -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -File session-host.ps1
# The core is C# because the protocol needs real threads (stdin is read while a pipeline streams, and `stop`
# must reach a running pipeline). The C# is held to C# 5: Windows PowerShell 5.1 compiles Add-Type with the
# .NET Framework csc, so no string interpolation, `?.`, nameof, expression-bodied members, out var or tuples.
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

$SessionHostSource = @'
using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using System.Text;
using System.Threading;

namespace WinsHost.SessionHost
{
    public sealed class JsonException : Exception
    {
        public JsonException(string message) : base(message) { }
    }

    /// Strict JSON (RFC 8259): objects become Dictionary<string, object>, arrays List<object>, numbers double.
    /// Neither .NET Framework 4.x nor .NET 10 offers a JSON library in Add-Type's default references.
    public static class Json
    {
        private const int MaxNesting = 64;

        public static object Parse(string text)
        {
            int position = 0;
            object value = ParseValue(text, ref position, 0);
            SkipWhitespace(text, ref position);
            if (position != text.Length) throw new JsonException("Unexpected character at offset " + position + " after the JSON value.");
            return value;
        }

        private static void SkipWhitespace(string text, ref int position)
        {
            while (position < text.Length)
            {
                char c = text[position];
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') position++; else break;
            }
        }

        private static object ParseValue(string text, ref int position, int nesting)
        {
            SkipWhitespace(text, ref position);
            if (position >= text.Length) throw new JsonException("Unexpected end of JSON.");
            char c = text[position];
            if (c == '{') return ParseObject(text, ref position, nesting + 1);
            if (c == '[') return ParseArray(text, ref position, nesting + 1);
            if (c == '"') return ParseString(text, ref position);
            if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(text, ref position);
            if (Matches(text, position, "true")) { position += 4; return true; }
            if (Matches(text, position, "false")) { position += 5; return false; }
            if (Matches(text, position, "null")) { position += 4; return null; }
            throw new JsonException("Unexpected character '" + c + "' at offset " + position + ".");
        }

        private static bool Matches(string text, int position, string literal)
        {
            return string.CompareOrdinal(text, position, literal, 0, literal.Length) == 0 && position + literal.Length <= text.Length;
        }

        private static Dictionary<string, object> ParseObject(string text, ref int position, int nesting)
        {
            if (nesting > MaxNesting) throw new JsonException("JSON nested deeper than " + MaxNesting + " levels.");
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            position++;
            SkipWhitespace(text, ref position);
            if (position < text.Length && text[position] == '}') { position++; return result; }
            while (true)
            {
                SkipWhitespace(text, ref position);
                if (position >= text.Length || text[position] != '"') throw new JsonException("Expected a property name at offset " + position + ".");
                string key = ParseString(text, ref position);
                SkipWhitespace(text, ref position);
                if (position >= text.Length || text[position] != ':') throw new JsonException("Expected ':' at offset " + position + ".");
                position++;
                object value = ParseValue(text, ref position, nesting);
                if (result.ContainsKey(key)) throw new JsonException("Duplicate property '" + key + "'.");
                result.Add(key, value);
                SkipWhitespace(text, ref position);
                if (position >= text.Length) throw new JsonException("Unexpected end of JSON in an object.");
                if (text[position] == ',') { position++; continue; }
                if (text[position] == '}') { position++; return result; }
                throw new JsonException("Expected ',' or '}' at offset " + position + ".");
            }
        }

        private static List<object> ParseArray(string text, ref int position, int nesting)
        {
            if (nesting > MaxNesting) throw new JsonException("JSON nested deeper than " + MaxNesting + " levels.");
            var result = new List<object>();
            position++;
            SkipWhitespace(text, ref position);
            if (position < text.Length && text[position] == ']') { position++; return result; }
            while (true)
            {
                result.Add(ParseValue(text, ref position, nesting));
                SkipWhitespace(text, ref position);
                if (position >= text.Length) throw new JsonException("Unexpected end of JSON in an array.");
                if (text[position] == ',') { position++; continue; }
                if (text[position] == ']') { position++; return result; }
                throw new JsonException("Expected ',' or ']' at offset " + position + ".");
            }
        }

        private static int ParseHex4(string text, int position)
        {
            if (position + 4 > text.Length) throw new JsonException("Truncated \\u escape.");
            int value = 0;
            for (int i = 0; i < 4; i++)
            {
                char c = text[position + i];
                int digit;
                if (c >= '0' && c <= '9') digit = c - '0';
                else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
                else throw new JsonException("Invalid \\u escape at offset " + position + ".");
                value = value * 16 + digit;
            }
            return value;
        }

        private static string ParseString(string text, ref int position)
        {
            position++;
            var builder = new StringBuilder();
            while (true)
            {
                if (position >= text.Length) throw new JsonException("Unterminated string.");
                char c = text[position++];
                if (c == '"') return builder.ToString();
                if (c < 0x20) throw new JsonException("Unescaped control character in a string at offset " + (position - 1) + ".");
                if (char.IsSurrogate(c))
                {
                    if (char.IsHighSurrogate(c) && position < text.Length && char.IsLowSurrogate(text[position])) { builder.Append(c).Append(text[position++]); continue; }
                    throw new JsonException("Unpaired surrogate in a string at offset " + (position - 1) + ".");
                }
                if (c != '\\') { builder.Append(c); continue; }
                if (position >= text.Length) throw new JsonException("Unterminated escape.");
                char escape = text[position++];
                switch (escape)
                {
                    case '"': builder.Append('"'); break;
                    case '\\': builder.Append('\\'); break;
                    case '/': builder.Append('/'); break;
                    case 'b': builder.Append('\b'); break;
                    case 'f': builder.Append('\f'); break;
                    case 'n': builder.Append('\n'); break;
                    case 'r': builder.Append('\r'); break;
                    case 't': builder.Append('\t'); break;
                    case 'u':
                        {
                            char unit = (char)ParseHex4(text, position);
                            position += 4;
                            if (char.IsHighSurrogate(unit))
                            {
                                if (position + 6 <= text.Length && text[position] == '\\' && text[position + 1] == 'u')
                                {
                                    char low = (char)ParseHex4(text, position + 2);
                                    if (char.IsLowSurrogate(low)) { builder.Append(unit).Append(low); position += 6; break; }
                                }
                                throw new JsonException("Unpaired surrogate escape at offset " + (position - 6) + ".");
                            }
                            if (char.IsLowSurrogate(unit)) throw new JsonException("Unpaired surrogate escape at offset " + (position - 6) + ".");
                            builder.Append(unit);
                            break;
                        }
                    default: throw new JsonException("Invalid escape '\\" + escape + "' at offset " + (position - 2) + ".");
                }
            }
        }

        private static double ParseNumber(string text, ref int position)
        {
            int start = position;
            if (text[position] == '-') position++;
            if (position >= text.Length) throw new JsonException("Truncated number.");
            if (text[position] == '0') position++;
            else if (text[position] >= '1' && text[position] <= '9') { while (position < text.Length && char.IsDigit(text[position]) && text[position] < 128) position++; }
            else throw new JsonException("Invalid number at offset " + start + ".");
            if (position < text.Length && text[position] == '.')
            {
                position++;
                int digits = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                if (position == digits) throw new JsonException("Invalid number at offset " + start + ".");
            }
            if (position < text.Length && (text[position] == 'e' || text[position] == 'E'))
            {
                position++;
                if (position < text.Length && (text[position] == '+' || text[position] == '-')) position++;
                int digits = position;
                while (position < text.Length && text[position] >= '0' && text[position] <= '9') position++;
                if (position == digits) throw new JsonException("Invalid number at offset " + start + ".");
            }
            return double.Parse(text.Substring(start, position - start), NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        /// An object whose properties keep their order: name, value, name, value...
        public static string Object(params object[] namesAndValues)
        {
            var builder = new StringBuilder();
            WriteObject(builder, namesAndValues);
            return builder.ToString();
        }

        private static void WriteObject(StringBuilder builder, object[] namesAndValues)
        {
            builder.Append('{');
            for (int i = 0; i + 1 < namesAndValues.Length; i += 2)
            {
                if (i > 0) builder.Append(',');
                WriteString(builder, (string)namesAndValues[i]);
                builder.Append(':');
                WriteValue(builder, namesAndValues[i + 1]);
            }
            builder.Append('}');
        }

        private static void WriteValue(StringBuilder builder, object value)
        {
            if (value == null) { builder.Append("null"); return; }
            string text = value as string;
            if (text != null) { WriteString(builder, text); return; }
            if (value is bool) { builder.Append((bool)value ? "true" : "false"); return; }
            if (value is int || value is long) { builder.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)); return; }
            if (value is double)
            {
                double number = (double)value;
                if (double.IsNaN(number) || double.IsInfinity(number)) throw new JsonException("JSON has no representation for " + number + ".");
                builder.Append(number.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            IList list = value as IList;
            if (list != null)
            {
                builder.Append('[');
                for (int i = 0; i < list.Count; i++) { if (i > 0) builder.Append(','); WriteValue(builder, list[i]); }
                builder.Append(']');
                return;
            }
            throw new JsonException("Cannot write a " + value.GetType().FullName + " as JSON.");
        }

        private static void WriteString(StringBuilder builder, string text)
        {
            builder.Append('"');
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    case '\b': builder.Append("\\b"); break;
                    case '\f': builder.Append("\\f"); break;
                    default:
                        bool pairedSurrogate = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
                        if (pairedSurrogate) { builder.Append(c).Append(text[++i]); }
                        // Control characters, U+2028/9 and lone surrogates are escaped so every line is valid UTF-8 JSON.
                        else if (c < 0x20 || c == '\u2028' || c == '\u2029' || char.IsSurrogate(c)) builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else builder.Append(c);
                        break;
                }
            }
            builder.Append('"');
        }
    }

    /// Case-insensitive command and parameter names. Not HashSet<T>: on .NET Framework that lives in System.Core,
    /// which Windows PowerShell 5.1's Add-Type does not reference by default.
    public sealed class NameSet
    {
        private readonly Dictionary<string, bool> names = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
        public void Add(string name) { names[name] = true; }
        public void Remove(string name) { names.Remove(name); }
        public bool Contains(string name) { return name != null && names.ContainsKey(name); }
    }

    /// An `open` that cannot be honoured; Reason is the protocol's stable openFailed reason.
    public sealed class OpenFailure : Exception
    {
        public readonly string Reason;
        public OpenFailure(string reason, string message) : base(message) { Reason = reason; }
    }

    public sealed class ParameterGrant
    {
        public string Name;
        public string[] ValidateSet;
        public string ValidatePattern;
    }

    public sealed class CommandGrant
    {
        public string Name;
        public List<ParameterGrant> Parameters;
    }

    /// The `config` of an `open` request, checked as strictly as the policy schema that produced it.
    public sealed class SessionConfig
    {
        public PSLanguageMode LanguageMode;
        public bool AllCommands;
        public List<CommandGrant> Commands = new List<CommandGrant>();
        public List<string> Modules = new List<string>();
        public List<string> Providers = new List<string>();
        public List<string> Programs = new List<string>();
        public int MaxObjectBytes;
        public string ContainerId;

        private static readonly string[] KnownKeys = { "languageMode", "commands", "modules", "providers", "programs", "maxObjectBytes", "containerId" };

        private static OpenFailure Invalid(string message) { return new OpenFailure("InvalidConfig", message); }

        private static bool IsCommandName(string name)
        {
            if (string.IsNullOrEmpty(name) || name.Length > 128 || !char.IsLetter(name[0]) || name[0] > 127) return false;
            foreach (char c in name) { if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false; }
            return true;
        }

        private static List<string> StringList(Dictionary<string, object> source, string key)
        {
            var result = new List<string>();
            object value;
            if (!source.TryGetValue(key, out value) || value == null) return result;
            var list = value as List<object>;
            if (list == null) throw Invalid("config." + key + " must be an array of strings.");
            foreach (object item in list)
            {
                var text = item as string;
                if (string.IsNullOrEmpty(text)) throw Invalid("config." + key + " must hold non-empty strings.");
                result.Add(text);
            }
            return result;
        }

        public static SessionConfig From(object raw)
        {
            var source = raw as Dictionary<string, object>;
            if (source == null) throw Invalid("config must be an object.");
            foreach (string key in source.Keys) { if (Array.IndexOf(KnownKeys, key) < 0) throw Invalid("config has an unknown property '" + key + "'."); }
            var config = new SessionConfig();
            object value;
            source.TryGetValue("languageMode", out value);
            string mode = value as string;
            if (mode == "FullLanguage") config.LanguageMode = PSLanguageMode.FullLanguage;
            else if (mode == "ConstrainedLanguage") config.LanguageMode = PSLanguageMode.ConstrainedLanguage;
            else if (mode == "NoLanguage") config.LanguageMode = PSLanguageMode.NoLanguage;
            else throw Invalid("config.languageMode must be FullLanguage, ConstrainedLanguage or NoLanguage.");

            source.TryGetValue("maxObjectBytes", out value);
            if (!(value is double) || (double)value < 1 || (double)value > int.MaxValue || Math.Floor((double)value) != (double)value) throw Invalid("config.maxObjectBytes must be a positive integer.");
            config.MaxObjectBytes = (int)(double)value;

            if (source.TryGetValue("containerId", out value) && value != null)
            {
                config.ContainerId = value as string;
                if (string.IsNullOrEmpty(config.ContainerId)) throw Invalid("config.containerId must be a non-empty string.");
            }

            source.TryGetValue("commands", out value);
            var commands = value as List<object>;
            if (value != null && commands == null) throw Invalid("config.commands must be an array.");
            if (commands != null)
            {
                foreach (object item in commands)
                {
                    string name = item as string;
                    if (name == "*") { config.AllCommands = true; continue; }
                    if (name != null)
                    {
                        if (!IsCommandName(name)) throw Invalid("config.commands has an invalid command name '" + name + "'.");
                        config.Commands.Add(new CommandGrant { Name = name });
                        continue;
                    }
                    config.Commands.Add(ParseCommand(item as Dictionary<string, object>));
                }
            }
            if (config.AllCommands)
            {
                foreach (CommandGrant command in config.Commands)
                {
                    if (command.Parameters != null) throw Invalid("'*' shows every command unrestricted, so '" + command.Name + "' cannot also have restricted parameters; list commands without '*'.");
                }
            }
            config.Modules = StringList(source, "modules");
            config.Providers = StringList(source, "providers");
            config.Programs = StringList(source, "programs");
            foreach (string program in config.Programs)
            {
                if (!Path.IsPathRooted(program)) throw Invalid("config.programs must hold absolute paths; '" + program + "' is not one.");
            }
            bool fileSystem = config.Providers.Exists(delegate(string name) { return string.Equals(name, "FileSystem", StringComparison.OrdinalIgnoreCase); });
            if (config.Programs.Count > 0 && !config.AllCommands && !fileSystem)
                throw Invalid("Programs need the FileSystem provider: PowerShell starts a program in the session's current FileSystem location. Add FileSystem to providers.");
            return config;
        }

        private static CommandGrant ParseCommand(Dictionary<string, object> source)
        {
            if (source == null) throw Invalid("config.commands entries must be a name, '*' or { name, parameters }.");
            foreach (string key in source.Keys) { if (key != "name" && key != "parameters") throw Invalid("a config.commands entry has an unknown property '" + key + "'."); }
            object value;
            source.TryGetValue("name", out value);
            string name = value as string;
            if (!IsCommandName(name)) throw Invalid("a config.commands entry needs a valid name.");
            var grant = new CommandGrant { Name = name };
            if (!source.TryGetValue("parameters", out value) || value == null) return grant;
            var parameters = value as List<object>;
            if (parameters == null) throw Invalid("parameters of '" + name + "' must be an array.");
            grant.Parameters = new List<ParameterGrant>();
            foreach (object item in parameters)
            {
                var parameter = item as Dictionary<string, object>;
                if (parameter == null) throw Invalid("parameters of '" + name + "' must be objects.");
                var parsed = new ParameterGrant();
                foreach (var pair in parameter)
                {
                    if (pair.Key == "name") parsed.Name = pair.Value as string;
                    else if (pair.Key == "validateSet")
                    {
                        var set = pair.Value as List<object>;
                        if (set == null || set.Count == 0) throw Invalid("validateSet of '" + name + "' must be a non-empty array of strings.");
                        parsed.ValidateSet = new string[set.Count];
                        for (int i = 0; i < set.Count; i++)
                        {
                            parsed.ValidateSet[i] = set[i] as string;
                            if (parsed.ValidateSet[i] == null) throw Invalid("validateSet of '" + name + "' must hold strings.");
                        }
                    }
                    else if (pair.Key == "validatePattern")
                    {
                        parsed.ValidatePattern = pair.Value as string;
                        if (string.IsNullOrEmpty(parsed.ValidatePattern)) throw Invalid("validatePattern of '" + name + "' must be a non-empty string.");
                        try { new System.Text.RegularExpressions.Regex(parsed.ValidatePattern); }
                        catch (ArgumentException e) { throw Invalid("validatePattern of '" + name + "' is not a valid regular expression: " + e.Message); }
                    }
                    else throw Invalid("a parameter of '" + name + "' has an unknown property '" + pair.Key + "'.");
                }
                if (string.IsNullOrEmpty(parsed.Name) || !(char.IsLetter(parsed.Name[0]) || parsed.Name[0] == '_')) throw Invalid("a parameter of '" + name + "' needs a valid name.");
                grant.Parameters.Add(parsed);
            }
            return grant;
        }

        /// The grant as the restriction script takes it (hashtables and arrays survive remoting serialization).
        public Hashtable ToRestrictionGrant()
        {
            var commands = new ArrayList();
            foreach (CommandGrant command in Commands)
            {
                var entry = new Hashtable();
                entry["Name"] = command.Name;
                if (command.Parameters != null)
                {
                    var parameters = new ArrayList();
                    foreach (ParameterGrant parameter in command.Parameters)
                    {
                        var p = new Hashtable();
                        p["Name"] = parameter.Name;
                        p["ValidateSet"] = parameter.ValidateSet;
                        p["ValidatePattern"] = parameter.ValidatePattern;
                        parameters.Add(p);
                    }
                    entry["Parameters"] = parameters.ToArray();
                }
                commands.Add(entry);
            }
            var grant = new Hashtable();
            grant["AllCommands"] = AllCommands;
            grant["LanguageMode"] = LanguageMode.ToString();
            grant["Commands"] = commands.ToArray();
            grant["Modules"] = Modules.ToArray();
            grant["Providers"] = Providers.ToArray();
            grant["Programs"] = Programs.ToArray();
            return grant;
        }
    }

    public sealed class Host
    {
        private static readonly string[] RemotingBasics = { "Get-Command", "Out-Default", "Select-Object", "Measure-Object", "Get-FormatData", "Get-Help", "Exit-PSSession", "Clear-Host" };
        private const int ProtocolBrokenExitCode = 3;

        private readonly Stream protocolOut;
        private readonly object writeLock = new object();
        private readonly UTF8Encoding utf8 = new UTF8Encoding(false);
        private readonly MemoryStream held = new MemoryStream();
        private Timer holdTimer;
        private bool holdArmed;
        private const int HoldMilliseconds = 2;
        private const int HoldBytes = 64 * 1024;
        private readonly object stateLock = new object();
        private readonly string restrictionScript;

        // Built while warming up so `open` does not pay for them; the host serves a single session.
        private Runspace resolver;
        private InitialSessionState preparedRestricted;
        private InitialSessionState preparedDefault;
        private Dictionary<string, SessionStateProviderEntry> defaultProviders;

        private Runspace session;
        private bool sessionIsRemote;
        private bool sessionHasProvider;
        private SessionConfig config;

        private string runningId;
        private PowerShell running;
        private bool stopRequested;
        // One thread runs every invocation of the session, on which the runspace (UseCurrentThread) runs its
        // pipelines: a thread per invocation, or a hand-off to the runspace's own thread, costs more than `{ 1 }`.
        private readonly BlockingCollection<Invocation> invocations = new BlockingCollection<Invocation>();
        private Thread invocationThread;
        // PowerShell's own pipeline threads get this much stack, which deep recursion in scripts relies on.
        private const int InvocationStackBytes = 10 * 1024 * 1024;

        private Host(Stream protocolOut, string restrictionScript)
        {
            this.protocolOut = protocolOut;
            this.restrictionScript = restrictionScript;
        }

        public static int Run(string restrictionScript, string psVersion, string edition, int processId)
        {
            // Session code that writes to the console (FullLanguage only) must not corrupt the protocol stream.
            Stream protocolOut = Console.OpenStandardOutput();
            Console.SetOut(TextWriter.Null);
            var host = new Host(protocolOut, restrictionScript);
            host.WarmUp();
            host.Send(Json.Object("type", "ready", "psVersion", psVersion, "edition", edition, "pid", processId));
            var input = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false, false), false, 65536);
            while (true)
            {
                string line;
                try { line = input.ReadLine(); }
                catch (IOException) { line = null; }
                if (line == null) break;
                if (line.Trim().Length == 0) continue;
                if (!host.Dispatch(line)) break;
            }
            host.Shutdown();
            return 0;
        }

        private void Send(string line)
        {
            lock (writeLock)
            {
                Append(line);
                FlushHeld();
            }
        }

        /// Output records wait up to HoldMilliseconds (or HoldBytes) for what follows them, so a quick command's
        /// records and its `done` reach the broker in one write and wake it once; a slow one still streams.
        private void SendSoon(string line)
        {
            lock (writeLock)
            {
                Append(line);
                if (held.Length >= HoldBytes) FlushHeld();
                else if (!holdArmed)
                {
                    holdArmed = true;
                    if (holdTimer == null) holdTimer = new Timer(delegate { lock (writeLock) { FlushHeld(); } });
                    holdTimer.Change(HoldMilliseconds, Timeout.Infinite);
                }
            }
        }

        private void Append(string line)
        {
            byte[] bytes = utf8.GetBytes(line + "\n");
            held.Write(bytes, 0, bytes.Length);
        }

        // Called with writeLock held.
        private void FlushHeld()
        {
            holdArmed = false;
            if (held.Length == 0) return;
            try
            {
                protocolOut.Write(held.GetBuffer(), 0, (int)held.Length);
                protocolOut.Flush();
            }
            catch (Exception e)
            {
                // Nobody can hear us any more: the broker went away or the pipe broke.
                try { Console.Error.WriteLine("session host: the protocol stream is broken: " + e.Message); } catch (Exception) { }
                Environment.Exit(ProtocolBrokenExitCode);
            }
            held.SetLength(0);
        }

        private void SendProtocolError(string message, string id)
        {
            if (id == null) Send(Json.Object("type", "protocolError", "message", message));
            else Send(Json.Object("type", "protocolError", "message", message, "id", id));
        }

        private void WarmUp()
        {
            preparedDefault = NewDefaultState();
            preparedRestricted = NewRestrictedState();
            defaultProviders = new Dictionary<string, SessionStateProviderEntry>(StringComparer.OrdinalIgnoreCase);
            foreach (SessionStateProviderEntry provider in NewDefaultState().Providers) defaultProviders[provider.Name] = provider;

            resolver = RunspaceFactory.CreateRunspace(NewDefaultState());
            resolver.Open();
            ResolveCommand("Get-ChildItem");

            // A throw-away session through the same code paths, so the first real open and invoke are JIT-warm.
            var warmConfig = new SessionConfig();
            warmConfig.LanguageMode = PSLanguageMode.NoLanguage;
            warmConfig.MaxObjectBytes = 1 << 20;
            var warmCommand = new CommandGrant { Name = "Get-Date", Parameters = new List<ParameterGrant>() };
            warmCommand.Parameters.Add(new ParameterGrant { Name = "Format", ValidateSet = new string[] { "o" } });
            warmConfig.Commands.Add(warmCommand);
            Runspace warm = BuildLocalSession(warmConfig, NewRestrictedState(), true);
            try
            {
                using (PowerShell ps = ScriptBlock.Create("Get-Date -Format o").GetPowerShell())
                {
                    ps.Runspace = warm;
                    foreach (PSObject item in ps.Invoke()) PSSerializer.Serialize(item, 1);
                }
                PSSerializer.Deserialize(PSSerializer.Serialize(new object[] { "warm", 1 }, 1));
            }
            finally { warm.Dispose(); }
        }

        /// PowerShell shares the built-in function entries among InitialSessionStates, and CreateRestricted makes
        /// them private in place: a later CreateDefault2 (or one made earlier, not yet opened) would then hide
        /// `help`, `prompt`, `TabExpansion2`... So every state this host uses owns copies of its entries.
        private static InitialSessionState OwnEntries(InitialSessionState iss, bool makePublic)
        {
            var copies = new List<SessionStateCommandEntry>();
            foreach (SessionStateCommandEntry entry in iss.Commands)
            {
                if (!(entry is SessionStateFunctionEntry || entry is SessionStateAliasEntry || entry is SessionStateCmdletEntry)) continue;
                var copy = (SessionStateCommandEntry)entry.Clone();
                if (makePublic) copy.Visibility = SessionStateEntryVisibility.Public;
                copies.Add(copy);
            }
            foreach (SessionStateCommandEntry copy in copies) iss.Commands.Remove(copy.Name, copy.GetType());
            foreach (SessionStateCommandEntry copy in copies) iss.Commands.Add(copy);
            return iss;
        }

        private static InitialSessionState NewDefaultState() { return OwnEntries(InitialSessionState.CreateDefault2(), true); }

        private static InitialSessionState NewRestrictedState() { return OwnEntries(InitialSessionState.CreateRestricted(SessionCapabilities.RemoteServer), false); }

        private CommandInfo ResolveCommand(string name)
        {
            using (PowerShell ps = PowerShell.Create())
            {
                ps.Runspace = resolver;
                ps.AddCommand("Get-Command").AddParameter("Name", name)
                  .AddParameter("CommandType", CommandTypes.Alias | CommandTypes.Function | CommandTypes.Filter | CommandTypes.Cmdlet)
                  .AddParameter("ErrorAction", ActionPreference.SilentlyContinue);
                foreach (PSObject result in ps.Invoke())
                {
                    var command = result.BaseObject as CommandInfo;
                    if (command != null) return command;
                }
                return null;
            }
        }

        private bool Dispatch(string line)
        {
            Dictionary<string, object> request;
            try
            {
                request = Json.Parse(line) as Dictionary<string, object>;
                if (request == null) { SendProtocolError("A request must be a JSON object.", null); return true; }
            }
            catch (JsonException e) { SendProtocolError("Malformed JSON: " + e.Message, null); return true; }

            object typeValue;
            request.TryGetValue("type", out typeValue);
            string type = typeValue as string;
            try
            {
                if (type == "open") Open(request);
                else if (type == "invoke") Invoke(request);
                else if (type == "stop") Stop(request);
                else if (type == "close") return false;
                else SendProtocolError("Unknown request type '" + (type ?? "(none)") + "'.", null);
            }
            catch (Exception e)
            {
                SendProtocolError("The session host could not handle a '" + type + "' request: " + e.GetType().Name + ": " + e.Message, StringProperty(request, "id"));
            }
            return true;
        }

        private static string StringProperty(Dictionary<string, object> request, string name)
        {
            object value;
            return request.TryGetValue(name, out value) ? value as string : null;
        }

        private void Open(Dictionary<string, object> request)
        {
            if (session != null) { SendProtocolError("The session is already open.", null); return; }
            object raw;
            request.TryGetValue("config", out raw);
            try
            {
                SessionConfig parsed = SessionConfig.From(raw);
                if (parsed.ContainerId != null) OpenInContainer(parsed);
                else
                {
                    InitialSessionState prepared = parsed.AllCommands ? preparedDefault : preparedRestricted;
                    preparedDefault = null;
                    preparedRestricted = null;
                    if (prepared == null) prepared = parsed.AllCommands ? NewDefaultState() : NewRestrictedState();
                    session = BuildLocalSession(parsed, prepared, true);
                    sessionIsRemote = false;
                    sessionHasProvider = parsed.AllCommands || parsed.Providers.Count > 0;
                }
                config = parsed;
            }
            catch (OpenFailure failure)
            {
                Send(Json.Object("type", "openFailed", "reason", failure.Reason, "message", failure.Message));
                return;
            }
            catch (Exception e)
            {
                Send(Json.Object("type", "openFailed", "reason", "InvalidConfig", "message", "The session could not be built: " + e.Message));
                return;
            }
            string location = sessionIsRemote ? remoteLocation : CurrentLocation();
            Send(Json.Object("type", "opened", "languageMode", config.LanguageMode.ToString(), "location", location));
        }

        private string remoteLocation;

        private Runspace BuildLocalSession(SessionConfig grant, InitialSessionState iss, bool applyVisibility)
        {
            var hidden = new List<string>();
            var visible = new NameSet();
            if (!grant.AllCommands)
            {
                foreach (string basic in RemotingBasics) visible.Add(basic);
                iss.Providers.Clear();
                foreach (string name in grant.Providers)
                {
                    SessionStateProviderEntry provider;
                    if (!defaultProviders.TryGetValue(name, out provider)) throw new OpenFailure("ProviderNotFound", "Provider '" + name + "' does not exist on this host.");
                    iss.Providers.Add((SessionStateProviderEntry)provider.Clone());
                }
                // Programs and scripts are command entries; CreateRestricted has none, a default session has '*'.
                var outsideEntries = new List<SessionStateCommandEntry>();
                foreach (SessionStateCommandEntry entry in iss.Commands) { if (entry is SessionStateApplicationEntry || entry is SessionStateScriptEntry) outsideEntries.Add(entry); }
                foreach (SessionStateCommandEntry entry in outsideEntries) iss.Commands.Remove(entry.Name, entry.GetType());
                foreach (string program in grant.Programs) iss.Commands.Add(new SessionStateApplicationEntry(program));
                iss.Variables.Add(new SessionStateVariableEntry("PSModuleAutoLoadingPreference", PSModuleAutoLoadingPreference.None,
                    "Module autoloading is off so a restricted session cannot load modules it was not given.", ScopedItemOptions.Constant));
                int innerIndex = 0;
                var proxyTargets = new NameSet();
                foreach (CommandGrant command in grant.Commands) AddCommand(iss, command, visible, proxyTargets, ref innerIndex);
                RemoveUnlisted(iss, visible, proxyTargets);
            }
            foreach (string module in grant.Modules)
            {
                if (!ModuleExists(module)) throw new OpenFailure("ModuleNotFound", "Module '" + module + "' was not found on this host.");
                iss.ImportPSModule(new string[] { module });
            }
            iss.LanguageMode = grant.LanguageMode;
            iss.ThrowOnRunspaceOpenError = true;

            Runspace runspace = RunspaceFactory.CreateRunspace(iss);
            runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            try { runspace.Open(); }
            catch (Exception e)
            {
                runspace.Dispose();
                throw new OpenFailure("InvalidConfig", "The session's runspace did not open: " + e.Message);
            }
            if (!grant.AllCommands && applyVisibility) HideUnlisted(runspace, visible);
            return runspace;
        }

        private bool ModuleExists(string module)
        {
            if (Path.IsPathRooted(module)) return File.Exists(module) || Directory.Exists(module);
            using (PowerShell ps = PowerShell.Create())
            {
                ps.Runspace = resolver;
                ps.AddCommand("Get-Module").AddParameter("ListAvailable").AddParameter("Name", module).AddParameter("ErrorAction", ActionPreference.SilentlyContinue);
                return ps.Invoke().Count > 0;
            }
        }

        private static SessionStateCommandEntry FindEntry(InitialSessionState iss, string name, Type entryType)
        {
            foreach (SessionStateCommandEntry entry in iss.Commands[name])
            {
                if (entryType.IsInstanceOfType(entry)) return entry;
            }
            return null;
        }

        /// Private is not enough outside NoLanguage: a caller's own function or script block calls commands with
        /// internal origin, and visibility binds only the runspace origin. So what the session does not need is
        /// not in it at all; what remains private is the implementation behind a proxy of the same name.
        private static void RemoveUnlisted(InitialSessionState iss, NameSet visible, NameSet proxyTargets)
        {
            var doomed = new List<SessionStateCommandEntry>();
            foreach (SessionStateCommandEntry entry in iss.Commands)
            {
                if (!(entry is SessionStateCmdletEntry || entry is SessionStateFunctionEntry || entry is SessionStateAliasEntry)) continue;
                if (visible.Contains(entry.Name) || proxyTargets.Contains(entry.Name)) continue;
                var alias = entry as SessionStateAliasEntry;
                if (alias != null && visible.Contains(alias.Definition)) continue;
                doomed.Add(entry);
            }
            foreach (SessionStateCommandEntry entry in doomed) iss.Commands.Remove(entry.Name, entry.GetType());
        }

        private void AddCommand(InitialSessionState iss, CommandGrant grant, NameSet visible, NameSet proxyTargets, ref int innerIndex)
        {
            if (WildcardPattern.ContainsWildcardCharacters(grant.Name)) throw new OpenFailure("InvalidConfig", "Command names cannot hold wildcards: '" + grant.Name + "'.");
            CommandInfo command = ResolveCommand(grant.Name);
            if (command == null) throw new OpenFailure("CommandNotFound", "Command '" + grant.Name + "' was not found on this host.");
            var alias = command as AliasInfo;
            if (alias != null)
            {
                command = alias.ResolvedCommand;
                if (command == null) throw new OpenFailure("CommandNotFound", "Alias '" + grant.Name + "' does not resolve to a command on this host.");
                if (FindEntry(iss, alias.Name, typeof(SessionStateAliasEntry)) == null) iss.Commands.Add(new SessionStateAliasEntry(alias.Name, command.Name));
                visible.Add(alias.Name);
            }
            visible.Add(command.Name);
            bool restrictParameters = grant.Parameters != null;

            var cmdlet = command as CmdletInfo;
            var function = command as FunctionInfo;
            string innerName = command.Name;
            if (cmdlet != null)
            {
                SessionStateCommandEntry existing = FindEntry(iss, cmdlet.Name, typeof(SessionStateCmdletEntry));
                if (existing == null) iss.Commands.Add(new SessionStateCmdletEntry(cmdlet.Name, cmdlet.ImplementingType, cmdlet.HelpFile));
                if (restrictParameters) visible.Remove(command.Name);
            }
            else if (function != null)
            {
                bool fromModule = function.Module != null && !string.IsNullOrEmpty(function.Module.Path);
                if (fromModule)
                {
                    if (restrictParameters) throw new OpenFailure("InvalidConfig", "Parameters of '" + function.Name + "' cannot be restricted: it is a function of module '" + function.ModuleName + "'; list the module's cmdlets or a script function instead.");
                    // A module function needs its module's scope (private helpers, variables): import the module; its other exports are hidden after open.
                    iss.ImportPSModule(new string[] { function.Module.Path });
                }
                else if (FindEntry(iss, function.Name, typeof(SessionStateFunctionEntry)) == null || restrictParameters)
                {
                    if (restrictParameters)
                    {
                        innerIndex++;
                        innerName = "WinsHost.Restricted" + innerIndex.ToString(CultureInfo.InvariantCulture) + "." + function.Name;
                        proxyTargets.Add(innerName);
                        SessionStateCommandEntry existing = FindEntry(iss, function.Name, typeof(SessionStateFunctionEntry));
                        if (existing != null) iss.Commands.Remove(function.Name, typeof(SessionStateFunctionEntry));
                    }
                    var entry = new SessionStateFunctionEntry(innerName, function.Definition);
                    iss.Commands.Add(entry);
                }
            }
            else throw new OpenFailure("CommandNotFound", "'" + grant.Name + "' is a " + command.CommandType + ", not a cmdlet or function.");

            if (!restrictParameters) return;
            var metadata = new CommandMetadata(command);
            var listed = new NameSet();
            foreach (ParameterGrant parameter in grant.Parameters)
            {
                listed.Add(parameter.Name);
                ParameterMetadata parameterMetadata;
                if (!metadata.Parameters.TryGetValue(parameter.Name, out parameterMetadata))
                    throw new OpenFailure("InvalidConfig", "Command '" + command.Name + "' has no parameter '" + parameter.Name + "'.");
                if (parameter.ValidateSet != null) parameterMetadata.Attributes.Add(new ValidateSetAttribute(parameter.ValidateSet));
                if (parameter.ValidatePattern != null) parameterMetadata.Attributes.Add(new ValidatePatternAttribute(parameter.ValidatePattern));
            }
            foreach (string key in new List<string>(metadata.Parameters.Keys)) { if (!listed.Contains(key)) metadata.Parameters.Remove(key); }
            string body = ProxyCommand.Create(metadata, "", false);
            // The proxy names its target module-qualified; entries this host adds carry no module, so name it plainly
            // (the command type in the same call keeps the lookup from finding the proxy itself).
            if (cmdlet != null && !string.IsNullOrEmpty(cmdlet.ModuleName)) body = body.Replace("'" + cmdlet.ModuleName + "\\" + cmdlet.Name + "'", "'" + cmdlet.Name + "'");
            if (function != null) body = body.Replace("GetCommand('" + function.Name + "',", "GetCommand('" + innerName + "',");
            SessionStateCommandEntry shadowed = FindEntry(iss, command.Name, typeof(SessionStateFunctionEntry));
            if (shadowed != null && cmdlet != null) iss.Commands.Remove(command.Name, typeof(SessionStateFunctionEntry));
            iss.Commands.Add(new SessionStateFunctionEntry(command.Name, body));
            visible.Add(command.Name);
        }

        private static void HideUnlisted(Runspace runspace, NameSet visible)
        {
            CommandTypes types = CommandTypes.Alias | CommandTypes.Function | CommandTypes.Filter | CommandTypes.Cmdlet;
            var commands = new List<CommandInfo>(runspace.SessionStateProxy.InvokeCommand.GetCommands("*", types, true));
            var functions = new NameSet();
            foreach (CommandInfo command in commands) { if (command is FunctionInfo) functions.Add(command.Name); }
            foreach (CommandInfo command in commands)
            {
                bool show;
                var alias = command as AliasInfo;
                if (alias != null) show = visible.Contains(alias.Name) || (alias.Definition != null && visible.Contains(alias.Definition));
                // A cmdlet behind a proxy function of its name stays private: the proxy is what the caller gets,
                // and a visible cmdlet would be reachable module-qualified or through Get-Command.
                else if (command is CmdletInfo) show = visible.Contains(command.Name) && !functions.Contains(command.Name);
                else show = visible.Contains(command.Name);
                command.Visibility = show ? SessionStateEntryVisibility.Public : SessionStateEntryVisibility.Private;
            }
        }

        private void OpenInContainer(SessionConfig grant)
        {
            if (Environment.OSVersion.Platform != PlatformID.Win32NT)
                throw new OpenFailure("InvalidConfig", "containerId needs a Windows host (PowerShell Direct); this host runs " + Environment.OSVersion.Platform + ".");
            // Bound late: this compiles and runs on PowerShell builds whose SMA lacks PowerShell Direct.
            Type connectionType = typeof(PSObject).Assembly.GetType("System.Management.Automation.Runspaces.ContainerConnectionInfo");
            System.Reflection.MethodInfo create = connectionType == null ? null : connectionType.GetMethod("CreateContainerConnectionInfo",
                System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static, null, new Type[] { typeof(string), typeof(bool), typeof(string) }, null);
            if (create == null) throw new OpenFailure("ContainerUnreachable", "This PowerShell has no PowerShell Direct (ContainerConnectionInfo) to reach container '" + grant.ContainerId + "'.");
            Runspace remote;
            try
            {
                // runAsAdmin: the session is restricted from inside, which needs the container's administrator.
                var connection = (RunspaceConnectionInfo)create.Invoke(null, new object[] { grant.ContainerId, true, null });
                remote = RunspaceFactory.CreateRunspace(connection);
                remote.Open();
            }
            catch (Exception e)
            {
                Exception cause = e is System.Reflection.TargetInvocationException && e.InnerException != null ? e.InnerException : e;
                throw new OpenFailure("ContainerUnreachable", "Container '" + grant.ContainerId + "' could not be reached through PowerShell Direct: " + cause.Message);
            }
            try
            {
                using (PowerShell ps = PowerShell.Create())
                {
                    ps.Runspace = remote;
                    ps.AddScript(restrictionScript, true).AddArgument(grant.ToRestrictionGrant());
                    Collection<PSObject> results = ps.Invoke();
                    remoteLocation = null;
                    foreach (PSObject result in results)
                    {
                        var table = result.BaseObject as IDictionary;
                        if (table != null && table["Location"] != null) remoteLocation = table["Location"].ToString();
                    }
                }
            }
            catch (RuntimeException e)
            {
                remote.Dispose();
                string id = e.ErrorRecord != null ? e.ErrorRecord.FullyQualifiedErrorId : "";
                string reason = "InvalidConfig";
                foreach (string known in new string[] { "CommandNotFound", "ModuleNotFound", "ProviderNotFound", "InvalidConfig" })
                {
                    if (id.StartsWith("WinsHost." + known, StringComparison.Ordinal)) reason = known;
                }
                throw new OpenFailure(reason, e.Message);
            }
            session = remote;
            sessionIsRemote = true;
            sessionHasProvider = false;
        }

        private string CurrentLocation()
        {
            if (session == null || sessionIsRemote || !sessionHasProvider) return null;
            try
            {
                PathInfo location = session.SessionStateProxy.Path.CurrentLocation;
                return location == null ? null : location.Path;
            }
            catch (Exception) { return null; }
        }

        private static List<object> DecodeArray(string clixml, string what)
        {
            var result = new List<object>();
            if (clixml == null) return result;
            object decoded;
            try { decoded = PSSerializer.Deserialize(clixml); }
            catch (Exception e) { throw new ArgumentException(what + " is not valid CliXml: " + e.Message); }
            object baseObject = decoded is PSObject ? ((PSObject)decoded).BaseObject : decoded;
            var list = baseObject as IList;
            if (list == null) throw new ArgumentException(what + " must be the CliXml of an array.");
            foreach (object item in list) result.Add(item);
            return result;
        }

        private void Invoke(Dictionary<string, object> request)
        {
            string id = StringProperty(request, "id");
            if (string.IsNullOrEmpty(id)) { SendProtocolError("invoke needs a string id.", null); return; }
            string script = StringProperty(request, "script");
            if (script == null) { SendProtocolError("invoke needs a string script.", id); return; }
            object depthValue;
            int depth = 1;
            if (request.TryGetValue("depth", out depthValue) && depthValue != null)
            {
                if (!(depthValue is double) || (double)depthValue < 0 || (double)depthValue > 100 || Math.Floor((double)depthValue) != (double)depthValue) { SendProtocolError("invoke depth must be an integer from 0 to 100.", id); return; }
                depth = (int)(double)depthValue;
            }
            object argumentsValue, inputValue, usingValue;
            request.TryGetValue("arguments", out argumentsValue);
            request.TryGetValue("input", out inputValue);
            request.TryGetValue("using", out usingValue);
            if ((argumentsValue != null && !(argumentsValue is string)) || (inputValue != null && !(inputValue is string)) || (usingValue != null && !(usingValue is string))) { SendProtocolError("invoke arguments, input and using must be CliXml strings or null.", id); return; }

            lock (stateLock)
            {
                if (session == null) { SendProtocolError("invoke before the session was opened.", id); return; }
                if (runningId != null) { SendProtocolError("The session is busy with invocation '" + runningId + "'.", id); return; }
                runningId = id;
                stopRequested = false;
            }
            List<object> arguments, input;
            Dictionary<string, object> usingValues;
            try
            {
                arguments = DecodeArray(argumentsValue as string, "arguments");
                input = inputValue == null ? null : DecodeArray((string)inputValue, "input");
                usingValues = DecodeUsing(usingValue as string);
            }
            catch (ArgumentException e)
            {
                lock (stateLock) { runningId = null; }
                SendProtocolError(e.Message, id);
                return;
            }
            if (invocationThread == null)
            {
                invocationThread = new Thread(RunInvocations, InvocationStackBytes);
                invocationThread.IsBackground = true;
                invocationThread.Name = "WinsHost invocations";
                invocationThread.Start();
            }
            invocations.Add(new Invocation(this, id, script, arguments, input, usingValues, depth));
        }

        /// `$using:` values: the CliXml of a hashtable from variable name to value, as the caller's session had them.
        private static Dictionary<string, object> DecodeUsing(string clixml)
        {
            var result = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
            if (clixml == null) return result;
            object decoded;
            try { decoded = PSSerializer.Deserialize(clixml); }
            catch (Exception e) { throw new ArgumentException("using is not valid CliXml: " + e.Message); }
            var table = (decoded is PSObject ? ((PSObject)decoded).BaseObject : decoded) as IDictionary;
            if (table == null) throw new ArgumentException("using must be the CliXml of a hashtable.");
            foreach (DictionaryEntry entry in table)
            {
                string name = entry.Key as string;
                if (string.IsNullOrEmpty(name)) throw new ArgumentException("using names must be non-empty strings.");
                result[name] = entry.Value;
            }
            return result;
        }

        private void RunInvocations()
        {
            foreach (Invocation invocation in invocations.GetConsumingEnumerable()) invocation.Run();
        }

        private void Stop(Dictionary<string, object> request)
        {
            string id = StringProperty(request, "id");
            lock (stateLock)
            {
                // A stop that crosses its invocation's `done` is normal and needs no answer.
                if (id == null || id != runningId) return;
                stopRequested = true;
                if (running != null) running.BeginStop(null, null);
            }
        }

        private void Shutdown()
        {
            lock (stateLock)
            {
                stopRequested = true;
                if (running != null) { try { running.BeginStop(null, null); } catch (Exception) { } }
            }
            invocations.CompleteAdding();
            if (invocationThread != null) invocationThread.Join(5000);
            try { if (session != null) session.Dispose(); } catch (Exception) { }
            try { if (resolver != null) resolver.Dispose(); } catch (Exception) { }
        }

        /// One invocation on its own thread: streams records as PowerShell produces them, then sends `done`.
        private sealed class Invocation
        {
            private readonly Host host;
            private readonly string id;
            private readonly string script;
            private readonly List<object> arguments;
            private readonly List<object> input;
            private readonly Dictionary<string, object> usingValues;
            private readonly int depth;
            // The session variables that carry `$using:` values for this invocation, removed when it ends.
            private readonly List<string> usingVariables = new List<string>();
            private const string UsingVariablePrefix = "__WinsHostUsing";

            public Invocation(Host host, string id, string script, List<object> arguments, List<object> input, Dictionary<string, object> usingValues, int depth)
            {
                this.host = host; this.id = id; this.script = script; this.arguments = arguments; this.input = input; this.usingValues = usingValues; this.depth = depth;
            }

            /// The script with every `$using:name` that has a value replaced by a session variable holding it, as
            /// text edits at the parser's offsets (right to left); the values never become code. A `$using:` without
            /// a value is left for PowerShell to refuse.
            private string BindUsing()
            {
                if (usingValues.Count == 0) return script;
                Token[] tokens;
                ParseError[] errors;
                ScriptBlockAst ast = Parser.ParseInput(script, out tokens, out errors);
                if (errors.Length > 0) return script;
                var found = new List<Ast>(ast.FindAll(delegate(Ast node) { return node is UsingExpressionAst; }, true));
                found.Sort(delegate(Ast a, Ast b) { return b.Extent.StartOffset.CompareTo(a.Extent.StartOffset); });
                var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                var text = new StringBuilder(script);
                foreach (Ast node in found)
                {
                    var usingAst = (UsingExpressionAst)node;
                    VariableExpressionAst variable = UsingExpressionAst.ExtractUsingVariable(usingAst);
                    string name = variable.VariablePath.UserPath;
                    object value;
                    if (!usingValues.TryGetValue(name, out value)) continue;
                    string sessionVariable;
                    if (!names.TryGetValue(name, out sessionVariable))
                    {
                        sessionVariable = UsingVariablePrefix + names.Count.ToString(CultureInfo.InvariantCulture);
                        names[name] = sessionVariable;
                        host.session.SessionStateProxy.SetVariable(sessionVariable, value);
                        usingVariables.Add(sessionVariable);
                    }
                    // Only the variable itself: `$using:x.Length` keeps its member access.
                    text.Remove(variable.Extent.StartOffset, variable.Extent.EndOffset - variable.Extent.StartOffset);
                    text.Insert(variable.Extent.StartOffset, "$" + sessionVariable);
                }
                return text.ToString();
            }

            private void ForgetUsing()
            {
                foreach (string name in usingVariables)
                {
                    try { host.session.SessionStateProxy.PSVariable.Remove(name); } catch (Exception) { }
                }
                usingVariables.Clear();
            }

            private void Emit(string stream, object item)
            {
                string clixml;
                try { clixml = PSSerializer.Serialize(item, depth); }
                catch (Exception e)
                {
                    stream = "error";
                    clixml = PSSerializer.Serialize(new ErrorRecord(e, "WinsHost.OutputNotSerializable", ErrorCategory.InvalidResult, TypeNameOf(item)), 1);
                }
                int bytes = Encoding.UTF8.GetByteCount(clixml);
                if (bytes > host.config.MaxObjectBytes)
                {
                    var tooLarge = new InvalidOperationException("A " + TypeNameOf(item) + " on the " + stream + " stream is " + bytes.ToString(CultureInfo.InvariantCulture) +
                        " bytes as CliXml, more than this session's limit of " + host.config.MaxObjectBytes.ToString(CultureInfo.InvariantCulture) + " bytes; it was not sent.");
                    stream = "error";
                    clixml = PSSerializer.Serialize(new ErrorRecord(tooLarge, "WinsHost.OutputTooLarge", ErrorCategory.LimitsExceeded, TypeNameOf(item)), 1);
                }
                host.SendSoon(Json.Object("type", "output", "id", id, "stream", stream, "clixml", clixml));
            }

            private static string TypeNameOf(object item)
            {
                var wrapped = item as PSObject;
                if (wrapped != null && wrapped.TypeNames.Count > 0) return wrapped.TypeNames[0];
                return item == null ? "null" : item.GetType().FullName;
            }

            private void Forward<T>(PSDataCollection<T> collection, string stream)
            {
                // Records are read (and released) as each is added: the handler runs on the pipeline thread, so
                // records of every stream leave in the order they were produced.
                collection.DataAdded += delegate(object sender, DataAddedEventArgs e)
                {
                    foreach (T item in collection.ReadAll()) Emit(stream, item);
                };
            }

            private PowerShell Build(out ErrorRecord refusal)
            {
                refusal = null;
                if (host.config.LanguageMode != PSLanguageMode.NoLanguage)
                {
                    PowerShell ps = PowerShell.Create();
                    ps.AddScript(host.sessionIsRemote ? script : BindUsing());
                    foreach (object argument in arguments) ps.AddArgument(argument);
                    return ps;
                }
                // AddScript is refused in NoLanguage; like remoting, accept only a pipeline of commands with constant
                // arguments, which becomes command objects that run with the caller's (runspace) visibility.
                ScriptBlock block;
                try { block = ScriptBlock.Create(script); }
                catch (ParseException e) { refusal = e.ErrorRecord; return null; }
                // The conversion binds param() from the execution context of the thread's default runspace; the
                // session is idle now (one invocation at a time), and a remote session has none here, so the host's own.
                Runspace.DefaultRunspace = host.sessionIsRemote ? host.resolver : host.session;
                try
                {
                    if (usingValues.Count == 0) return block.GetPowerShell(arguments.ToArray());
                    if (arguments.Count > 0)
                    {
                        // PowerShell's converter fails (NullReferenceException) on both at once.
                        refusal = new ErrorRecord(new NotSupportedException("This NoLanguage session takes values either through $using: or through -ArgumentList, not both in one command."),
                            "WinsHost.UsingWithArgumentsNotSupported", ErrorCategory.InvalidOperation, null);
                        return null;
                    }
                    // `$using:` values become constant arguments, as remoting does for a NoLanguage (JEA) session.
                    Dictionary<string, object> ignored;
                    return block.GetPowerShell(usingValues, out ignored, arguments.ToArray());
                }
                catch (ScriptBlockToPowerShellNotSupportedException e)
                {
                    refusal = new ErrorRecord(new NotSupportedException("This NoLanguage session runs only pipelines of commands with constant arguments: " + e.Message, e),
                        "WinsHost.ScriptNotSupportedInNoLanguage", ErrorCategory.InvalidOperation, null);
                    return null;
                }
            }

            public void Run()
            {
                string state = "Completed";
                ErrorRecord failure = null;
                PowerShell ps = null;
                try
                {
                    ps = Build(out failure);
                    if (ps == null) state = "Failed";
                    else
                    {
                        ps.Runspace = host.session;
                        var output = new PSDataCollection<PSObject>();
                        Forward(output, "output");
                        Forward(ps.Streams.Error, "error");
                        Forward(ps.Streams.Warning, "warning");
                        Forward(ps.Streams.Verbose, "verbose");
                        Forward(ps.Streams.Debug, "debug");
                        Forward(ps.Streams.Information, "information");
                        Forward(ps.Streams.Progress, "progress");
                        PSDataCollection<object> pipelineInput = null;
                        if (input != null)
                        {
                            pipelineInput = new PSDataCollection<object>();
                            foreach (object item in input) pipelineInput.Add(item);
                            pipelineInput.Complete();
                        }
                        bool stopFirst;
                        lock (host.stateLock) { stopFirst = host.stopRequested; if (!stopFirst) host.running = ps; }
                        if (stopFirst) state = "Stopped";
                        else
                        {
                            try { ps.Invoke<object, PSObject>(pipelineInput, output, new PSInvocationSettings()); }
                            finally { lock (host.stateLock) { host.running = null; } }
                            if (ps.InvocationStateInfo.State == PSInvocationState.Stopped) state = "Stopped";
                        }
                    }
                }
                catch (PipelineStoppedException) { state = "Stopped"; }
                catch (Exception e)
                {
                    if (ps != null && ps.InvocationStateInfo.State == PSInvocationState.Stopped) state = "Stopped";
                    else
                    {
                        state = "Failed";
                        var withRecord = e as IContainsErrorRecord;
                        failure = withRecord != null && withRecord.ErrorRecord != null
                            ? withRecord.ErrorRecord
                            : new ErrorRecord(e, "WinsHost.InvocationFailed", ErrorCategory.NotSpecified, null);
                    }
                }
                finally
                {
                    if (ps != null) ps.Dispose();
                    ForgetUsing();
                }

                string error = null;
                if (state == "Failed" && failure != null)
                {
                    try { error = PSSerializer.Serialize(failure, Math.Max(depth, 1)); }
                    catch (Exception e) { error = PSSerializer.Serialize(new ErrorRecord(e, "WinsHost.ErrorNotSerializable", ErrorCategory.InvalidResult, null), 1); }
                }
                string location = host.sessionIsRemote ? null : host.CurrentLocation();
                // Idle before `done` leaves: the broker may send the next invoke the moment it reads it.
                lock (host.stateLock) { host.runningId = null; host.stopRequested = false; }
                host.Send(Json.Object("type", "done", "id", id, "state", state, "error", error, "location", location));
            }
        }
    }
}
'@

if (-not ('WinsHost.SessionHost.Host' -as [type])) {
    Add-Type -TypeDefinition $SessionHostSource -Language CSharp
}
$edition = 'Desktop'
if ($PSVersionTable.ContainsKey('PSEdition')) { $edition = [string]$PSVersionTable.PSEdition }
$exitCode = 1
try {
    $exitCode = [WinsHost.SessionHost.Host]::Run($SessionRestrictionScript, $PSVersionTable.PSVersion.ToString(), $edition, $PID)
} catch {
    [Console]::Error.WriteLine('session host failed: ' + $_.Exception.ToString())
    $exitCode = 1
}
[Environment]::Exit($exitCode)
