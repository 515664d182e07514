using System;
using System.Collections;
using System.Collections.Specialized;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;

namespace WinsHost
{
    /// <summary>What went wrong with the connection itself, as opposed to an error the broker answered with.</summary>
    public enum RpcFailure
    {
        /// <summary>The bytes broke the framing rules (headers, length, UTF-8, JSON, JSON-RPC 2.0).</summary>
        Framing,
        /// <summary>Well-framed, but not an answer to what was asked (a response to another id, neither result nor error).</summary>
        Protocol,
        /// <summary>The stream ended or failed while reading.</summary>
        Lost,
        /// <summary>A write failed: the broker never saw a whole message, so it did not act on it.</summary>
        SendFailed,
        /// <summary>The response did not come before the caller's deadline.</summary>
        TimedOut,
    }

    /// <summary>
    /// A failure of the connection. The module turns it into its ConnectionError or ProtocolError records; Reason
    /// is the part of the message this side knows (the pipe and method are added there).
    /// </summary>
    public sealed class RpcTransportException : IOException
    {
        public RpcTransportException(RpcFailure failure, string reason, Exception inner = null)
            : base(reason, inner)
        {
            Failure = failure;
            Reason = reason;
        }

        public RpcFailure Failure { get; private set; }

        public string Reason { get; private set; }

        /// <summary>The connection that failed (its endpoint names the pipe in the module's message); set by Call and Wait.</summary>
        public RpcConnection Connection { get; internal set; }

        /// <summary>The method whose request failed; set by Call and Wait.</summary>
        public string Method { get; internal set; }
    }

    /// <summary>A response to the request that was waited for: its result, or its error object.</summary>
    public sealed class RpcResponse
    {
        internal RpcResponse(bool hasResult, object result, object error)
        {
            HasResult = hasResult;
            Result = result;
            Error = error;
        }

        public bool HasResult { get; private set; }

        public object Result { get; private set; }

        /// <summary>The JSON-RPC error object (code, message, data), or null.</summary>
        public object Error { get; private set; }

        /// <summary>The connection that answered (after a resend, not the one first tried).</summary>
        public RpcConnection Connection { get; internal set; }
    }

    /// <summary>Receives the notifications that arrive while a response is awaited.</summary>
    public interface IRpcNotificationSink
    {
        void OnNotification(string method, object parameters);
    }

    /// <summary>Hands notifications to a script block as <c>&amp; $block method params</c>; its output is discarded.</summary>
    public sealed class ScriptBlockNotificationSink : IRpcNotificationSink
    {
        private readonly ScriptBlock block;

        public ScriptBlockNotificationSink(ScriptBlock block)
        {
            if (block == null) throw new ArgumentNullException("block");
            this.block = block;
        }

        public void OnNotification(string method, object parameters)
        {
            block.Invoke(method, parameters);
        }
    }

    /// <summary>
    /// One connection to the broker: LSP framing ('Content-Length: N' CRLF CRLF, N bytes of UTF-8 JSON) over the
    /// pipe or socket stream, with the same strict rules as the broker's reader, so that a desynchronised or
    /// hostile stream is refused rather than guessed at.
    ///
    /// Reads wait at most the time they are given and then return null, with the read still pending: PowerShell
    /// can stop a command (Ctrl+C) only between statements, so the module waits in short slices, and a wait that
    /// is abandoned leaves the connection exactly where it was. The next call adopts the pending read and any
    /// half-received message; the caller can still cancel the request and read the rest of its answer.
    /// </summary>
    public sealed class RpcConnection
    {
        public const int MaxHeaderBytes = 8192;
        public const int MaxMessageBytes = 64 * 1024 * 1024;
        private const string Terminator = "\r\n\r\n";

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        private readonly Socket socket;
        private byte[] buffer = new byte[65536];
        private int bufferOffset;
        private int bufferCount;
        private Task<int> pendingRead;
        private byte[] partialBody;
        private int partialHave;

        /// <param name="endpoint">What the module resolved the pipe to (a WinsHost.PipeEndpoint).</param>
        /// <param name="stream">The connected stream; null for a connection that is closed from the start.</param>
        /// <param name="timeoutSec">The connect and handshake timeout it was opened with; reused on reconnects.</param>
        public RpcConnection(object endpoint, Stream stream, int timeoutSec)
        {
            Endpoint = endpoint;
            Stream = stream;
            IsOpen = stream != null;
            TimeoutSec = timeoutSec;
            NextId = 1;
            ConnectedAt = DateTime.Now;
        }

        /// <summary>
        /// A Unix socket connection. Reads then wait with Poll and read synchronously, which saves the two thread
        /// hops of an asynchronous read per message; a stream without a socket (a Windows pipe) reads asynchronously.
        /// </summary>
        public RpcConnection(object endpoint, Socket socket, int timeoutSec)
            : this(endpoint, new NetworkStream(socket, true), timeoutSec)
        {
            this.socket = socket;
        }

        public object Endpoint { get; private set; }

        public Stream Stream { get; private set; }

        public bool IsOpen { get; private set; }

        /// <summary>The connect and handshake timeout; a reopened connection keeps it.</summary>
        public int TimeoutSec { get; set; }

        /// <summary>Ids increase per connection from 1 (initialize), so a response can only match the request awaited.</summary>
        public long NextId { get; private set; }

        public DateTime ConnectedAt { get; private set; }

        // What initialize returned; Connect-HostBroker -PassThru shows them.
        public object ServerInfo { get; set; }

        public object ProtocolVersion { get; set; }

        public object Capabilities { get; set; }

        public object Caller { get; set; }

        /// <summary>Closes the stream; a pending read ends with it. Safe to call twice.</summary>
        public void Close()
        {
            Stream stream = Stream;
            Stream = null;
            IsOpen = false;
            bufferOffset = 0;
            bufferCount = 0;
            pendingRead = null;
            partialBody = null;
            partialHave = 0;
            if (stream != null)
            {
                try { stream.Dispose(); }
                catch (IOException) { }
                catch (ObjectDisposedException) { }
            }
        }

        /// <summary>Sends a request (params always an object: the broker validates against object schemas); returns its id.</summary>
        public long SendRequest(string method, IDictionary parameters)
        {
            long id = NextId;
            NextId = id + 1;
            var request = new OrderedDictionary();
            request["jsonrpc"] = "2.0";
            request["id"] = id;
            request["method"] = method;
            request["params"] = parameters ?? new Hashtable();
            WriteMessage(request);
            return id;
        }

        /// <summary>Writes one message, header and body in one Write, so the broker never sees a header without its body.</summary>
        public void WriteMessage(IDictionary message)
        {
            byte[] body = Encoding.UTF8.GetBytes(RpcJson.Serialize(message));
            byte[] header = Encoding.ASCII.GetBytes("Content-Length: " + body.Length.ToString(CultureInfo.InvariantCulture) + Terminator);
            var frame = new byte[header.Length + body.Length];
            Buffer.BlockCopy(header, 0, frame, 0, header.Length);
            Buffer.BlockCopy(body, 0, frame, header.Length, body.Length);
            Stream stream = Stream;
            if (!IsOpen || stream == null) throw new RpcTransportException(RpcFailure.SendFailed, "the connection is closed");
            try
            {
                stream.Write(frame, 0, frame.Length);
                stream.Flush();
            }
            catch (Exception e)
            {
                if (e is IOException || e is ObjectDisposedException || e is InvalidOperationException || e is UnauthorizedAccessException) throw new RpcTransportException(RpcFailure.SendFailed, e.Message, e);
                throw;
            }
        }

        /// <summary>How long one wait lasts before the caller is looked at again (stopping, deadline, onSlice).</summary>
        public const int SliceMilliseconds = 100;

        /// <summary>
        /// Sends a request and waits for its response: the one exchange behind every cmdlet (see Wait). request,
        /// when given, gets Connection, Id and Method before the send, so that a caller whose wait is abandoned can
        /// still cancel the request and read its end. A failed send (RpcFailure.SendFailed) closes the connection.
        /// </summary>
        public RpcResponse Call(string method, IDictionary parameters, IRpcNotificationSink sink, Cmdlet cmdlet, ScriptBlock onSlice, DateTime deadline, IDictionary request, bool keepOpen)
        {
            return Call(method, parameters, sink, cmdlet, SliceCallback(onSlice), deadline, request, keepOpen);
        }

        internal RpcResponse Call(string method, IDictionary parameters, IRpcNotificationSink sink, Cmdlet cmdlet, Action onSlice, DateTime deadline, IDictionary request, bool keepOpen)
        {
            if (request != null)
            {
                request["Connection"] = this;
                request["Id"] = NextId;
                request["Method"] = method;
                request["Answered"] = false;
            }
            long id;
            try { id = SendRequest(method, parameters); }
            catch (RpcTransportException e)
            {
                // Part of a frame may have gone out: nothing after it could be trusted to start at a boundary.
                Close();
                e.Connection = this;
                e.Method = method;
                throw;
            }
            return Wait(id, method, sink, cmdlet, onSlice, deadline, request, keepOpen);
        }

        /// <summary>
        /// Waits for the response to request id, in slices of SliceMilliseconds. PowerShell stops a command (Ctrl+C,
        /// a downstream Select-Object -First) only between statements, so after each slice without the response the
        /// wait looks at cmdlet.Stopping and ends with PipelineStoppedException, ends with RpcFailure.TimedOut past
        /// deadline (UTC), and otherwise calls onSlice (Enter-HostSession watches the keyboard there).
        /// Returns the response, which carries the broker's error if it answered with one; request["Answered"]
        /// becomes true once it was read. A response with neither result nor error is RpcFailure.Protocol.
        /// If the wait ends without the response, the connection is closed: the rest of that response would
        /// otherwise be read as the answer to the next request. With keepOpen it stays open unless the stream itself
        /// failed (any RpcTransportException): the caller then owes the connection the end of that request, by
        /// cancelling it and waiting again for the same id, or closes it.
        /// </summary>
        public RpcResponse Wait(long id, string method, IRpcNotificationSink sink, Cmdlet cmdlet, ScriptBlock onSlice, DateTime deadline, IDictionary request, bool keepOpen)
        {
            return Wait(id, method, sink, cmdlet, SliceCallback(onSlice), deadline, request, keepOpen);
        }

        internal RpcResponse Wait(long id, string method, IRpcNotificationSink sink, Cmdlet cmdlet, Action onSlice, DateTime deadline, IDictionary request, bool keepOpen)
        {
            bool completed = false;
            bool streamFailed = false;
            try
            {
                RpcResponse response;
                while ((response = ReceiveResponse(id, method, SliceMilliseconds, sink)) == null)
                {
                    if (cmdlet != null && cmdlet.Stopping) throw new PipelineStoppedException();
                    if (DateTime.UtcNow > deadline)
                    {
                        string within = "no response within " + TimeoutSec.ToString(CultureInfo.InvariantCulture) + " seconds";
                        throw new RpcTransportException(RpcFailure.TimedOut, within, new TimeoutException("No response to '" + method + "' before the deadline."));
                    }
                    if (onSlice != null) onSlice();
                }
                if (request != null) request["Answered"] = true;
                if (response.Error == null && !response.HasResult)
                {
                    throw new RpcTransportException(RpcFailure.Protocol, "answered '" + method + "' with neither a result nor an error");
                }
                completed = true;
                response.Connection = this;
                return response;
            }
            catch (RpcTransportException e)
            {
                streamFailed = true;
                e.Connection = this;
                e.Method = method;
                throw;
            }
            finally
            {
                if (!completed && (!keepOpen || streamFailed)) Close();
            }
        }

        /// <summary>
        /// Cancels a request whose wait was abandoned and reads its end, so that the connection stays in step.
        /// request is the dictionary Call filled. '$/cancelRequest' (vscode-jsonrpc's cancellation, which the broker
        /// honours for session/invoke by stopping the pipeline) is sent for its id and the response is read -
        /// notifications before it are dropped - until deadline (UTC). A response that does not come in time, or a
        /// broken stream, closes the connection: the next request then opens a fresh one. Runs while a pipeline
        /// is being stopped, so it never throws and watches no cmdlet. Returns true when the connection is still
        /// open and in step.
        /// </summary>
        public bool CancelRequest(IDictionary request, DateTime deadline)
        {
            if (request == null || !request.Contains("Connection") || IsTrue(request["Answered"])) return true;
            if (!IsOpen) return false;
            long id = Convert.ToInt64(request["Id"], CultureInfo.InvariantCulture);
            string method = Convert.ToString(request["Method"], CultureInfo.InvariantCulture);
            try
            {
                SendCancel(id);
                // Any answer ends the request; RequestCancelled (-32800) is the usual one.
                Wait(id, method, null, null, (Action)null, deadline, request, false);
            }
            catch (Exception)
            {
                // Whatever went wrong, the test below decides: a request that did not end closes the connection.
            }
            if (!IsTrue(request["Answered"]) && IsOpen) Close();
            return IsOpen;
        }

        /// <summary>Sends '$/cancelRequest' for request id; the response to that request still follows.</summary>
        public void SendCancel(long id)
        {
            var cancel = new OrderedDictionary();
            cancel["jsonrpc"] = "2.0";
            cancel["method"] = "$/cancelRequest";
            var parameters = new Hashtable();
            parameters["id"] = id;
            cancel["params"] = parameters;
            WriteMessage(cancel);
        }

        private static bool IsTrue(object value)
        {
            return value is bool && (bool)value;
        }

        internal static Action SliceCallback(ScriptBlock onSlice)
        {
            if (onSlice == null) return null;
            return delegate { onSlice.Invoke(); };
        }

        /// <summary>
        /// Waits up to waitMilliseconds for the response to request id. Notifications that arrive first go to the
        /// sink (or are dropped without one); a request from the broker gets 'method not found', since this client
        /// serves none. Returns null when the time passed without the response.
        /// </summary>
        public RpcResponse ReceiveResponse(long id, string method, int waitMilliseconds, IRpcNotificationSink sink)
        {
            Stopwatch clock = Stopwatch.StartNew();
            while (true)
            {
                int remaining = waitMilliseconds - (int)clock.ElapsedMilliseconds;
                PSObject message = ReadMessage(remaining < 0 ? 0 : remaining);
                if (message == null) return null;
                PSMemberInfoCollection<PSPropertyInfo> properties = message.Properties;
                PSPropertyInfo methodProperty = properties["method"];
                PSPropertyInfo idProperty = properties["id"];
                if (methodProperty != null)
                {
                    if (idProperty == null || idProperty.Value == null)
                    {
                        if (sink != null)
                        {
                            PSPropertyInfo parameters = properties["params"];
                            sink.OnNotification(Convert.ToString(methodProperty.Value, CultureInfo.InvariantCulture), parameters == null ? null : parameters.Value);
                        }
                    }
                    else
                    {
                        var reply = new OrderedDictionary();
                        reply["jsonrpc"] = "2.0";
                        reply["id"] = idProperty.Value;
                        var error = new OrderedDictionary();
                        error["code"] = -32601;
                        error["message"] = "The WinsHost PowerShell client does not serve '" + Convert.ToString(methodProperty.Value, CultureInfo.InvariantCulture) + "'.";
                        reply["error"] = error;
                        WriteMessage(reply);
                    }
                    continue;
                }

                PSPropertyInfo errorProperty = properties["error"];
                PSPropertyInfo resultProperty = properties["result"];
                string expected = id.ToString(CultureInfo.InvariantCulture);
                bool ours = idProperty != null && (
                    (idProperty.Value != null && string.Equals(Convert.ToString(idProperty.Value, CultureInfo.InvariantCulture), expected, StringComparison.Ordinal)) ||
                    (idProperty.Value == null && errorProperty != null));
                if (!ours)
                {
                    string shown = idProperty == null ? "none" : Convert.ToString(idProperty.Value, CultureInfo.InvariantCulture);
                    throw new RpcTransportException(RpcFailure.Protocol, "sent a response with id " + shown + " while request " + expected + " ('" + method + "') was outstanding");
                }
                object errorValue = errorProperty == null ? null : errorProperty.Value;
                return new RpcResponse(resultProperty != null, resultProperty == null ? null : resultProperty.Value, errorValue);
            }
        }

        /// <summary>The next message (a PSCustomObject of JSON-RPC 2.0), or null when none is complete within the wait.</summary>
        public PSObject ReadMessage(int waitMilliseconds)
        {
            Stopwatch clock = Stopwatch.StartNew();
            while (true)
            {
                PSObject message = TakeBufferedMessage();
                if (message != null) return message;
                int remaining = waitMilliseconds - (int)clock.ElapsedMilliseconds;
                if (!Fill(remaining < 0 ? 0 : remaining)) return null;
            }
        }

        private PSObject TakeBufferedMessage()
        {
            if (partialBody == null)
            {
                int scan = Math.Min(bufferCount, MaxHeaderBytes);
                int headerEnd = IndexOfTerminator(scan);
                if (headerEnd < 0)
                {
                    if (bufferCount >= MaxHeaderBytes) throw Framing("the header block is longer than " + MaxHeaderBytes.ToString(CultureInfo.InvariantCulture) + " bytes");
                    return null;
                }
                int contentLength = ParseHeaders(Encoding.ASCII.GetString(buffer, bufferOffset, headerEnd));
                partialBody = new byte[contentLength];
                partialHave = 0;
                bufferOffset += headerEnd + Terminator.Length;
                bufferCount -= headerEnd + Terminator.Length;
            }
            int take = Math.Min(bufferCount, partialBody.Length - partialHave);
            Buffer.BlockCopy(buffer, bufferOffset, partialBody, partialHave, take);
            partialHave += take;
            bufferOffset += take;
            bufferCount -= take;
            if (partialHave < partialBody.Length) return null;

            byte[] body = partialBody;
            partialBody = null;
            partialHave = 0;
            string json;
            try { json = StrictUtf8.GetString(body); }
            catch (DecoderFallbackException e) { throw Framing("the body is not valid UTF-8", e); }
            object parsed;
            try { parsed = RpcJson.Parse(json); }
            catch (FormatException e) { throw Framing("the body is not valid JSON", e); }
            var message = parsed as PSObject;
            if (message == null) throw Framing("the body is not a JSON object");
            PSPropertyInfo version = message.Properties["jsonrpc"];
            if (version == null || !(version.Value is string) || (string)version.Value != "2.0") throw Framing("the message is not JSON-RPC 2.0");
            return message;
        }

        private int IndexOfTerminator(int scan)
        {
            for (int i = 0; i + 3 < scan; i++)
            {
                int at = bufferOffset + i;
                if (buffer[at] == '\r' && buffer[at + 1] == '\n' && buffer[at + 2] == '\r' && buffer[at + 3] == '\n') return i;
            }
            return -1;
        }

        /// <summary>Only Content-Length (digits, at most MaxMessageBytes) and Content-Type, as the broker allows.</summary>
        private static int ParseHeaders(string block)
        {
            int contentLength = -1;
            foreach (string line in block.Split(new[] { "\r\n" }, StringSplitOptions.None))
            {
                int colon = line.IndexOf(':');
                string name = colon > 0 ? line.Substring(0, colon) : null;
                if (name == null || !IsHeaderName(name)) throw Framing("malformed header line '" + line + "'");
                string value = line.Substring(colon + 1).Trim(' ', '\t');
                if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    if (contentLength >= 0) throw Framing("Content-Length appears twice");
                    if (value.Length == 0 || value.Length > 10 || !IsDigits(value)) throw Framing("Content-Length '" + value + "' is not a decimal number");
                    long length = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
                    if (length > MaxMessageBytes) throw Framing("Content-Length " + length.ToString(CultureInfo.InvariantCulture) + " exceeds " + MaxMessageBytes.ToString(CultureInfo.InvariantCulture) + " bytes");
                    contentLength = (int)length;
                }
                else if (!string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    throw Framing("unexpected header '" + name + "'");
                }
            }
            if (contentLength < 0) throw Framing("the Content-Length header is missing");
            return contentLength;
        }

        private static bool IsHeaderName(string name)
        {
            foreach (char c in name)
            {
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
            }
            return true;
        }

        private static bool IsDigits(string value)
        {
            foreach (char c in value) if (c < '0' || c > '9') return false;
            return true;
        }

        /// <summary>Reads more bytes into the buffer, waiting at most waitMilliseconds; false when none came in time.</summary>
        private bool Fill(int waitMilliseconds)
        {
            Stream stream = Stream;
            if (stream == null) throw new RpcTransportException(RpcFailure.Lost, "the connection is closed");
            int count;
            if (socket != null)
            {
                int start = MakeRoom();
                try
                {
                    if (!socket.Poll(Math.Min(waitMilliseconds, 1000000) * 1000, SelectMode.SelectRead)) return false;
                    count = socket.Receive(buffer, start, buffer.Length - start, SocketFlags.None);
                }
                catch (Exception e)
                {
                    if (e is SocketException || e is ObjectDisposedException) throw new RpcTransportException(RpcFailure.Lost, e.Message, e);
                    throw;
                }
            }
            else
            {
                if (pendingRead == null)
                {
                    int start = MakeRoom();
                    try { pendingRead = stream.ReadAsync(buffer, start, buffer.Length - start); }
                    catch (Exception e) { throw new RpcTransportException(RpcFailure.Lost, e.Message, e); }
                }
                Task<int> read = pendingRead;
                if (!read.IsCompleted)
                {
                    try
                    {
                        if (!read.Wait(waitMilliseconds)) return false;
                    }
                    catch (AggregateException) { }
                }
                pendingRead = null;
                if (read.IsFaulted || read.IsCanceled)
                {
                    Exception inner = read.Exception == null ? null : read.Exception.GetBaseException();
                    throw new RpcTransportException(RpcFailure.Lost, inner == null ? "the read was cancelled" : inner.Message, inner);
                }
                count = read.Result;
            }
            if (count <= 0)
            {
                if (partialBody != null)
                {
                    throw new RpcTransportException(RpcFailure.Lost, "the broker closed the connection after " + partialHave.ToString(CultureInfo.InvariantCulture) + " of " +
                        partialBody.Length.ToString(CultureInfo.InvariantCulture) + " body bytes");
                }
                throw new RpcTransportException(RpcFailure.Lost, bufferCount > 0 ? "the broker closed the connection in the middle of a message" : "the broker closed the connection");
            }
            bufferCount += count;
            return true;
        }

        /// <summary>
        /// Where the next read may write: behind the buffered bytes, moved to the front when the tail is full. Only
        /// called while no read is pending, and consuming bytes never moves their end, where a pending read writes.
        /// </summary>
        private int MakeRoom()
        {
            if (bufferCount == 0) bufferOffset = 0;
            else if (bufferOffset + bufferCount >= buffer.Length)
            {
                Buffer.BlockCopy(buffer, bufferOffset, buffer, 0, bufferCount);
                bufferOffset = 0;
            }
            return bufferOffset + bufferCount;
        }

        private static RpcTransportException Framing(string reason, Exception inner = null)
        {
            return new RpcTransportException(RpcFailure.Framing, reason, inner);
        }
    }
}
