using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;

namespace WinsHost.SessionHost
{
    /// Case-insensitive command and parameter names; a null name is never contained.
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
}
