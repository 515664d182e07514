using System;
using System.Globalization;
using System.Management.Automation;

namespace WinsHost
{
    /// <summary>
    /// Takes the session/output notifications of one invocation while Invoke-HostCommand or Enter-HostSession
    /// waits for its response. Output objects, the bulk of any invocation, are deserialized and written here,
    /// as Invoke-Command writes them; records of the other streams (and output that is not valid CliXml, which
    /// becomes an error) go to the module's Write-HostSessionRecord through otherRecords, called as
    /// <c>&amp; $otherRecords cmdlet stream clixml outputPipeline</c>.
    /// </summary>
    public sealed class SessionOutputSink : IRpcNotificationSink
    {
        private readonly PSCmdlet cmdlet;
        private readonly string sessionId;
        private readonly SteppablePipeline outputPipeline;
        private readonly ScriptBlock otherRecords;

        /// <param name="cmdlet">The command whose pipeline gets the output.</param>
        /// <param name="sessionId">Records of other sessions are ignored; empty for a temporary session.</param>
        /// <param name="outputPipeline">Enter-HostSession's Out-Default: output is rendered through it instead.</param>
        /// <param name="otherRecords">Writes a record of another stream.</param>
        public SessionOutputSink(PSCmdlet cmdlet, string sessionId, SteppablePipeline outputPipeline, ScriptBlock otherRecords)
        {
            if (cmdlet == null) throw new ArgumentNullException("cmdlet");
            if (otherRecords == null) throw new ArgumentNullException("otherRecords");
            this.cmdlet = cmdlet;
            this.sessionId = sessionId ?? string.Empty;
            this.outputPipeline = outputPipeline;
            this.otherRecords = otherRecords;
        }

        /// <summary>The invocation whose records are taken: the first one seen. Records of another (a late one of a cancelled call) are not ours.</summary>
        public string InvocationId { get; private set; }

        public void OnNotification(string method, object parameters)
        {
            if (!string.Equals(method, "session/output", StringComparison.Ordinal)) return;
            var record = parameters as PSObject;
            if (record == null) return;
            if (sessionId.Length > 0 && !string.Equals(Text(record, "sessionId"), sessionId, StringComparison.Ordinal)) return;
            string invocation = Text(record, "invocationId");
            if (InvocationId == null) InvocationId = invocation;
            else if (!string.Equals(invocation, InvocationId, StringComparison.Ordinal)) return;

            string stream = Text(record, "stream");
            string clixml = Text(record, "clixml");
            if (string.Equals(stream, "output", StringComparison.Ordinal))
            {
                object value = null;
                bool valid = true;
                try { value = PSSerializer.Deserialize(clixml); }
                catch (Exception) { valid = false; }
                if (valid)
                {
                    if (outputPipeline != null) outputPipeline.Process(value);
                    else cmdlet.WriteObject(value);
                    return;
                }
            }
            otherRecords.Invoke(cmdlet, stream, clixml, outputPipeline);
        }

        internal static string Text(PSObject record, string name)
        {
            PSPropertyInfo property = record.Properties[name];
            if (property == null || property.Value == null) return string.Empty;
            return Convert.ToString(property.Value, CultureInfo.InvariantCulture);
        }
    }
}
