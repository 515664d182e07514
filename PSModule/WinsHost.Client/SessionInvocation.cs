using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;

namespace WinsHost
{
    /// <summary>
    /// One 'session/invoke' of Invoke-HostCommand or Enter-HostSession, compiled so that a warm `{ 1 }` pays for no
    /// script function between the cmdlet and the connection. Output streams while the request runs: output
    /// objects through SessionOutputSink, other records through the module's Write-HostSessionRecord. A wait
    /// abandoned without the response (Ctrl+C, a downstream 'Select-Object -First N', an error turned terminating
    /// by -ErrorAction Stop) cancels the invocation and reads its end (RpcConnection.CancelRequest), so the session
    /// is stopped, not lost, and the connection answers the next command.
    ///
    /// With watchControlC (Enter-HostSession, with Ctrl+C read as input) the keyboard is watched while waiting: the
    /// first Ctrl+C sends '$/cancelRequest' and keeps receiving until the session reports the stop; a second one
    /// abandons the wait and drops the connection.
    /// </summary>
    public sealed class SessionInvocation
    {
        /// <summary>JSON-RPC's RequestCancelled, the answer to a request cancelled by '$/cancelRequest'.</summary>
        public const int RequestCancelledCode = -32800;

        /// <summary>How long an abandoned invocation is given to report its stop before the connection is dropped.</summary>
        public static readonly TimeSpan CancelWait = TimeSpan.FromSeconds(5);

        private readonly PSCmdlet cmdlet;
        private readonly SessionOutputSink sink;
        private readonly Hashtable request = new Hashtable();

        /// <param name="cmdlet">The command whose pipeline gets the output and whose stopping ends the wait.</param>
        /// <param name="sessionId">The session; empty for a temporary one.</param>
        /// <param name="outputPipeline">Enter-HostSession's Out-Default, or null.</param>
        /// <param name="otherRecords">The module's Write-HostSessionRecord (see SessionOutputSink).</param>
        public SessionInvocation(PSCmdlet cmdlet, string sessionId, SteppablePipeline outputPipeline, ScriptBlock otherRecords)
        {
            this.cmdlet = cmdlet;
            sink = new SessionOutputSink(cmdlet, sessionId, outputPipeline, otherRecords);
        }

        /// <summary>The request as RpcConnection.Call fills it: Connection, Id, Method, Answered.</summary>
        public IDictionary Request { get { return request; } }

        /// <summary>The connection the request went out on (after a resend, the new one); null before the send.</summary>
        public RpcConnection Connection { get { return request["Connection"] as RpcConnection; } }

        /// <summary>Ctrl+C was read and '$/cancelRequest' sent (watchControlC).</summary>
        public bool CancelSent { get; private set; }

        /// <summary>A second Ctrl+C gave up waiting for the stop.</summary>
        public bool Abandoned { get; private set; }

        /// <summary>Completed, Failed or Stopped, from the response; empty without one.</summary>
        public string State { get; private set; }

        /// <summary>The session stopped the command at its time limit.</summary>
        public bool TimedOut { get; private set; }

        /// <summary>CliXml of the terminating error of a Failed invocation, or null.</summary>
        public string ErrorCliXml { get; private set; }

        /// <summary>The session's location after the command, or null.</summary>
        public object Location { get; private set; }

        /// <summary>
        /// Sends the invocation on connection (resent once on the connection reopen gives, see RpcExchange) and
        /// waits for its response, writing its records as they arrive. Returns the response, whose Error the module
        /// turns into its error record; null when the invocation ended as the Ctrl+C watched here asked
        /// (RequestCancelled after '$/cancelRequest'). Connection failures are thrown as RpcTransportException.
        /// </summary>
        public RpcResponse Invoke(RpcConnection connection, ScriptBlock reopen, string method, IDictionary parameters, bool watchControlC)
        {
            RpcResponse response = null;
            try
            {
                Action onSlice = null;
                if (watchControlC) onSlice = WatchControlC;
                response = RpcExchange.Call(connection, reopen, method, parameters, sink, cmdlet, onSlice, DateTime.MaxValue, request, true);
            }
            finally
            {
                if (response == null) EndUnanswered();
            }
            if (response.Error != null)
            {
                if (CancelSent && ErrorCode(response.Error) == RequestCancelledCode) return null;
                return response;
            }
            var result = response.Result as PSObject;
            if (result != null)
            {
                State = SessionOutputSink.Text(result, "state");
                PSPropertyInfo timedOut = result.Properties["timedOut"];
                TimedOut = timedOut != null && timedOut.Value is bool && (bool)timedOut.Value;
                string error = SessionOutputSink.Text(result, "error");
                ErrorCliXml = error.Length > 0 ? error : null;
                PSPropertyInfo location = result.Properties["location"];
                Location = location == null ? null : location.Value;
            }
            return response;
        }

        private void EndUnanswered()
        {
            var sent = Connection;
            if (sent == null) return;
            // A second Ctrl+C gave up on the end of the request; CancelRequest leaves an answered one alone.
            if (Abandoned) sent.Close();
            else sent.CancelRequest(request, DateTime.UtcNow.Add(CancelWait));
        }

        private void WatchControlC()
        {
            while (Console.KeyAvailable)
            {
                ConsoleKeyInfo key = Console.ReadKey(true);
                bool isControlC = (key.Key == ConsoleKey.C && (key.Modifiers & ConsoleModifiers.Control) != 0) || key.KeyChar == (char)3;
                var sent = Connection;
                if (!isControlC || sent == null) continue;
                if (CancelSent)
                {
                    Abandoned = true;
                    throw new OperationCanceledException("The command was abandoned: the session did not report the stop after Ctrl+C.");
                }
                CancelSent = true;
                cmdlet.Host.UI.WriteLine("^C");
                sent.SendCancel(Convert.ToInt64(request["Id"], CultureInfo.InvariantCulture));
            }
        }

        private static long ErrorCode(object error)
        {
            var record = error as PSObject;
            if (record == null) return 0;
            PSPropertyInfo code = record.Properties["code"];
            if (code == null || code.Value == null) return 0;
            try { return Convert.ToInt64(code.Value, CultureInfo.InvariantCulture); }
            catch (FormatException) { return 0; }
            catch (InvalidCastException) { return 0; }
            catch (OverflowException) { return 0; }
        }
    }
}
