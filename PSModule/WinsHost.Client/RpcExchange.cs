using System;
using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Runtime.ExceptionServices;

namespace WinsHost
{
    /// <summary>
    /// The module's exchange rule on top of RpcConnection.Call, shared by Invoke-HostRpc and session invocations,
    /// which call it without a script function in between (each advanced function call costs 0.05-0.2 ms, a
    /// noticeable part of a warm `{ 1 }`).
    /// </summary>
    public static class RpcExchange
    {
        /// <summary>
        /// Calls method on connection. A request whose send fails - the broker restarted, or the pipe broke since
        /// the last call - is sent once more on the connection reopen returns (the module's Get-HostRpcConnection,
        /// which reopens the same pipe). Only the send is retried: once a request went out, the broker may have
        /// acted on it (started a process, changed a rule), so losing the response is reported, never replayed.
        /// Without reopen every failure is thrown. What reopen throws is thrown as the exception the script threw.
        /// A connection that is null or closed is replaced by what reopen returns before the send, so a caller can
        /// pass the module's current connection without calling a script function to check it.
        /// </summary>
        public static RpcResponse Call(RpcConnection connection, ScriptBlock reopen, string method, IDictionary parameters, IRpcNotificationSink sink, Cmdlet cmdlet, ScriptBlock onSlice, DateTime deadline, IDictionary request, bool keepOpen)
        {
            return Call(connection, reopen, method, parameters, sink, cmdlet, RpcConnection.SliceCallback(onSlice), deadline, request, keepOpen);
        }

        internal static RpcResponse Call(RpcConnection connection, ScriptBlock reopen, string method, IDictionary parameters, IRpcNotificationSink sink, Cmdlet cmdlet, Action onSlice, DateTime deadline, IDictionary request, bool keepOpen)
        {
            if (connection == null || !connection.IsOpen)
            {
                // The caller's current connection, unchecked: opening or reopening it is reopen's decision.
                if (reopen != null) connection = Reopen(reopen);
                else if (connection == null) throw new ArgumentNullException("connection");
            }
            try
            {
                return connection.Call(method, parameters, sink, cmdlet, onSlice, deadline, request, keepOpen);
            }
            catch (RpcTransportException e)
            {
                if (e.Failure != RpcFailure.SendFailed || reopen == null) throw;
                if (cmdlet != null) cmdlet.WriteVerbose(string.Format("WinsHost: sending '{0}' failed ({1}); reconnecting once.", method, e.Message));
            }
            // The failed send closed the connection; reopen opens it again: same endpoint, same timeout.
            return Reopen(reopen).Call(method, parameters, sink, cmdlet, onSlice, deadline, request, keepOpen);
        }

        private static RpcConnection Reopen(ScriptBlock reopen)
        {
            Collection<PSObject> output;
            try { output = reopen.Invoke(); }
            catch (RuntimeException e)
            {
                // The connection error the module built (a tagged exception), not the script's wrapper around it.
                if (e.InnerException != null && !(e is PipelineStoppedException)) ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
            foreach (PSObject item in output)
            {
                var connection = (item == null ? null : item.BaseObject) as RpcConnection;
                if (connection != null) return connection;
            }
            throw new InvalidOperationException("The module's connection function returned no WinsHost.RpcConnection.");
        }
    }
}
