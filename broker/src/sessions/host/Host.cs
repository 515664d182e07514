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
