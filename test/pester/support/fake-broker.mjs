// A scriptable stand-in for the WinsHost broker, for testing the PowerShell module's JSON-RPC client.
// Node builtins only. Usage: node fake-broker.mjs <unix socket path>
//
// Speaks LSP framing (Content-Length) and answers `initialize` like the broker. Test methods drive the
// cases the client must handle:
//   test/echo              -> { id, params, connection, initialize }  (initialize = that connection's params)
//   test/notify            -> 2 `test/progress` notifications, then { sent: 2 }; the second notification and the
//                             response go out in one write, so the client must keep bytes past a message end
//   test/split {size?}     -> a response cut into pieces (mid-header, mid-UTF-8 character) written with delays;
//                             size pads the body with that many bytes, to exceed the client's read buffer
//   test/error {code,message,data} -> that JSON-RPC error
//   test/closeAfterReply   -> { ok: true }, then the connection is closed
//   test/dropWithoutReply  -> the connection is closed without a response
//   test/badLength, test/hugeHeader, test/badJson, test/unknownHeader -> framing violations
//   test/wrongId           -> a response with another id
//   test/serverRequest     -> sends the client a request, then answers { clientReply } with what it got back
//   test/respondWith {method, result?, error?} -> from now on, answer `method` with that result or error
//                             (neither: back to the default answer)
//   test/stats             -> { connections, initializes, calls: {method: count} }
//   test/shutdown          -> { ok: true }, then every connection and the listener close and the process exits
//   test/setFile {path, text? | base64? | generate?: {bytes}, encoding?, cuts?, chunkSize?, delayMs?,
//                 responseDelayMs?, foreignToken?, wrongSha?, wrongCount?, gapAfter?}
//                          -> { size, sha256, lines }: from now on file/read of `path` plays that file
//   test/lastRead          -> { token, chunks, firstChunkAt, responseAt } of the last file/read (ms since epoch)
//   test/setProgram {path, outputs?: [{stream?, text? | base64?, delayMs?}], exitCode?, signal?, untilStopped?,
//                    earlyOutput?, foreignOutput?, waitResponseDelayMs?, generate?: {bytes, lineLength?, chunkSize?}}
//                          -> { ok }: from now on process/start of `path` runs that script (see below)
//   test/lastProcess       -> { id, outputsAt, startRespondedAt, waitResponseAt, exitedAt, stoppedBy, info } of the
//                             last process/start (ms since epoch; stoppedBy 'process/stop' or 'disconnect')
//   test/processStops      -> { stops: [{ processId, timeoutMs, connection, startConnection }] } every process/stop
//   test/setInvocation {outputs?: [{stream, clixml, delayMs?}], state?, error?, timedOut?, location?, untilCancelled?,
//                       responseDelayMs?, dropConnection?} -> { ok }: how the following session/invoke calls play (see below)
//   test/sessionStats      -> { invokes: [params...], cancels: [{ id, at }], cancelledInvokes } (ms since epoch)
// host/info, network/adapters and network/routes answer with canned data unless overridden by test/respondWith.
//
// session/* keeps sessions per connection as the broker does (typings/session.ts): targets 'host' and 'web'
// exist, anything else is PolicyDenied; an unknown session id is NotFound. session/invoke sends the scripted
// outputs as session/output notifications (each after its delayMs), then answers with the scripted state;
// untilCancelled waits for '$/cancelRequest' of the request and answers RequestCancelled (-32800), as the
// broker does, also when the cancel arrives during the delays. dropConnection closes the connection after the
// outputs instead of answering.
//
// file/read streams a file of the `files` table as `file/data` notifications, then answers like the broker
// (typings/files.ts): paths must be absolute (else InvalidParams), under /srv/files (else PolicyDenied) and
// known (else NotFound); tail/head count lines by lineEncoding as the broker does. Per file: `cuts` (byte
// offsets into the bytes sent) or `chunkSize` split the chunks, `delayMs` waits after each chunk,
// `responseDelayMs` before the response, `foreignToken` sends a chunk of another read after the first one,
// `wrongSha`/`wrongCount` falsify the response, `gapAfter` skips a byte after that many chunks.
// file/list lists the canned tree under /srv/files; credspec/list, credspec/get and credspec/test answer from
// the canned specs (webapp1.json: valid, resolved; broken.json: invalid; registry://webapp2: its account does
// not resolve; raw://JSON: parsed, accounts unresolvable as on Linux). stats.lastParams holds the params of
// the last call of each method.
//
// process/* plays the programs of the `programs` table (typings/process.ts): a path that is not absolute is
// InvalidParams, one not in the table (or with '..') PolicyDenied. A started process writes its `outputs` in
// order, each after its delayMs, then exits with exitCode (or by `signal`, exitCode null), unless
// `untilStopped`: then it runs until process/stop (-> signal SIGTERM) or until the connection that started it
// closes (-> SIGKILL, unless detached). Output goes as process/output notifications to the connection that
// asked to stream (process/start stream:true, or process/wait stream:true, which first sends what was
// buffered), followed by process/exited; otherwise it is buffered for process/receive. earlyOutput writes the
// first output before the process/start response; foreignOutput sends output and an exit of another process id
// after the first output; waitResponseDelayMs delays the process/wait response after the exit; generate writes
// `bytes` of 'xxx...x' LF lines of lineLength first, in chunks of chunkSize, waiting for the socket to drain. process/wait
// answers at the exit or after timeoutMs with the process still Running.
// Prints "listening <path>" on stdout once the socket accepts connections.

import net from 'node:net';
import fs from 'node:fs';
import { createHash } from 'node:crypto';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: node fake-broker.mjs <socket path>');
  process.exit(2);
}

const stats = { connections: 0, initializes: 0, calls: {}, lastParams: {} };
const overrides = new Map();
const sockets = new Set();

const canned = {
  'host/info': {
    HostName: 'fake-host',
    Platform: 'linux',
    OSName: 'Fake Linux',
    OSVersion: '1.0',
    OSBuild: '1.0',
    KernelVersion: '6.1.0-fake',
    Architecture: 'x64',
    UptimeSeconds: 3600,
    BootTime: '2024-05-01T10:00:00.000Z',
    BrokerVersion: '9.9.9',
  },
  'network/adapters': {
    adapters: [
      {
        InterfaceIndex: 1, GatewayAddress: null, SubnetCIDR: '127.0.0.0/8', HostName: 'fake-host',
        AddressCIDR: '127.0.0.1/8', Name: 'lo', Description: 'loopback', MacAddress: null, Mtu: 65536,
        Status: 'Up', Type: 'loopback', IsDefault: false,
        IPv4Addresses: [{ Address: '127.0.0.1', PrefixLength: 8, AddressCIDR: '127.0.0.1/8', SubnetCIDR: '127.0.0.0/8' }],
        IPv6Addresses: [{ Address: '::1', PrefixLength: 128, AddressCIDR: '::1/128', SubnetCIDR: '::1/128', Scope: 'host' }],
        IPv6GatewayAddress: null,
      },
      {
        InterfaceIndex: 2, GatewayAddress: '10.170.0.1', SubnetCIDR: '10.170.0.0/20', HostName: 'fake-host',
        AddressCIDR: '10.170.15.229/20', Name: 'eth0', Description: 'virtio', MacAddress: '00:15:5d:01:02:03',
        Mtu: 1500, Status: 'Up', Type: 'ethernet', IsDefault: true,
        IPv4Addresses: [{ Address: '10.170.15.229', PrefixLength: 20, AddressCIDR: '10.170.15.229/20', SubnetCIDR: '10.170.0.0/20' }],
        IPv6Addresses: [],
        IPv6GatewayAddress: null,
      },
    ],
    defaultInterfaceIndex: 2,
  },
  'network/routes': {
    routes: [
      {
        AddressFamily: 'IPv4', DestinationPrefix: '0.0.0.0/0', NextHop: '10.170.0.1', InterfaceIndex: 2,
        InterfaceAlias: 'eth0', RouteMetric: 100, Protocol: 'dhcp', Scope: 'universe', IsDefault: true,
      },
    ],
  },
};

// ---- files -------------------------------------------------------------------------------------------

const FILE_ROOT = '/srv/files';
const CR_LF_TEXT = 'first line\r\nsecond line h\u00e9llo\r\nthird \u2713 line\nfourth line \u4e16\u754c\r\nlast line\n';
const crlfBytes = Buffer.from(CR_LF_TEXT, 'utf8');
// Cuts: inside the \r\n after "first line", inside the 2-byte e-acute, inside the 3-byte check mark, inside \r\n
// after the CJK text, and inside a CJK character.
const crlfCuts = [
  crlfBytes.indexOf('\r\n') + 1,
  crlfBytes.indexOf(Buffer.from('\u00e9', 'utf8')) + 1,
  crlfBytes.indexOf(Buffer.from('\u2713', 'utf8')) + 2,
  crlfBytes.indexOf(Buffer.from('\u4e16', 'utf8')) + 1,
  crlfBytes.indexOf(Buffer.from('\u754c\r\n', 'utf8')) + 4,
];
const unicodeText = '\ufeffalpha\r\nbeta \u00fc\r\ngamma \ud83d\ude00 end\r\ndelta';
const unicodeBytes = Buffer.from(unicodeText, 'utf16le');

const files = new Map([
  // Streaming: a chunk every 150 ms, the response 1 s after the last chunk, a chunk of another read mixed in.
  ['/srv/files/stream.txt', { bytes: crlfBytes, cuts: crlfCuts, delayMs: 150, responseDelayMs: 1000, foreignToken: true }],
  ['/srv/files/crlf.txt', { bytes: crlfBytes, cuts: crlfCuts, foreignToken: true }],
  ['/srv/files/partial.txt', { bytes: Buffer.from('one\r\ntwo\r\nno newline at the end', 'utf8'), chunkSize: 3 }],
  ['/srv/files/bom.txt', { bytes: Buffer.from('\ufeffwith bom\nsecond\n', 'utf8'), cuts: [1, 2] }],
  // UTF-16LE with a BOM; cuts inside a code unit and inside the surrogate pair of the emoji.
  ['/srv/files/unicode.txt', { bytes: unicodeBytes, cuts: [3, 17, unicodeBytes.indexOf(Buffer.from('\ud83d', 'utf16le')) + 2, unicodeBytes.indexOf(Buffer.from('\ude00', 'utf16le')) + 1] }],
  ['/srv/files/empty.txt', { bytes: Buffer.alloc(0) }],
  ['/srv/files/wrongsha.txt', { bytes: Buffer.from('one\ntwo\nthree\n', 'utf8'), chunkSize: 4, wrongSha: true }],
  ['/srv/files/wrongcount.txt', { bytes: Buffer.from('one\ntwo\nthree\n', 'utf8'), chunkSize: 4, wrongCount: true }],
  ['/srv/files/gap.txt', { bytes: Buffer.from('one\ntwo\nthree\n', 'utf8'), chunkSize: 4, gapAfter: 1 }],
  ['/srv/files/lines.txt', { bytes: Buffer.from(Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n', 'utf8'), chunkSize: 7 }],
]);

const entry = (name, fullName, type, length) => ({
  Name: name, FullName: fullName, Type: type, Length: length, LastWriteTime: '2024-05-01T10:00:00.000Z', Root: FILE_ROOT,
});
const listings = new Map([
  [FILE_ROOT, [entry('logs', '/srv/files/logs', 'Directory', 0), entry('crlf.txt', '/srv/files/crlf.txt', 'File', crlfBytes.length)]],
  ['/srv/files/logs', [entry('app.log', '/srv/files/logs/app.log', 'File', 5000000000), entry('old', '/srv/files/logs/old', 'Directory', 0)]],
  ['/srv/files/logs/old', [entry('app.1.log', '/srv/files/logs/old/app.1.log', 'File', 12)]],
]);

// Generated content: lines of varying length with 2-, 3- and 4-byte characters, LF-terminated.
function generateText(bytes) {
  const words = ['alpha', 'b\u00e9ta', 'gamma', '\u2713check', '\u4e16\u754c', 'emoji\ud83d\ude00', 'delta', 'epsilon'];
  const lines = [];
  let size = 0;
  let n = 0;
  while (size < bytes) {
    const parts = [`${n}`];
    for (let i = 0; i < (n * 7) % 23 + 1; i++) parts.push(words[(n + i * 3) % words.length]);
    const line = parts.join(' ') + '\n';
    size += Buffer.byteLength(line, 'utf8');
    lines.push(line);
    n++;
  }
  return lines.join('');
}

function fileProblem(path) {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    return { code: -32602, message: `path: ${path} is not an absolute path`, data: { reason: 'FieldInvalid', field: 'path' } };
  }
  if (path !== FILE_ROOT && !path.startsWith(`${FILE_ROOT}/`)) {
    return { code: -32001, message: `${path} is not under a directory this profile may read`, data: { reason: 'NotUnderRoot', rule: 'profiles.test.files.roots' } };
  }
  return null;
}

/** Where the selected lines start and end, as the broker's tailStart/headEnd compute them. */
function lineRange(bytes, params) {
  const width = params.lineEncoding === 'utf16le' ? 2 : 1;
  const isNewline = (i) => bytes[i] === 0x0a && (width === 1 || bytes[i + 1] === 0);
  let start = 0;
  let end = bytes.length;
  if (params.tail !== undefined) {
    start = bytes.length;
    if (params.tail > 0) {
      let last = bytes.length;
      if (last >= width && isNewline(last - width)) last -= width;
      let seen = 0;
      start = 0;
      for (let i = last - width; i >= 0; i -= width) {
        if (isNewline(i) && ++seen === params.tail) {
          start = i + width;
          break;
        }
      }
    }
  }
  if (params.head !== undefined) {
    end = 0;
    if (params.head > 0) {
      let seen = 0;
      end = bytes.length;
      for (let i = 0; i + width <= bytes.length; i += width) {
        if (isNewline(i) && ++seen === params.head) {
          end = i + width;
          break;
        }
      }
    }
  }
  return { start, end };
}

let lastRead = null;

// ---- processes -------------------------------------------------------------------------------------------

const PROCESS_RULE = 'profiles.test.processes.0';
const programs = new Map([
  ['/usr/bin/true', { outputs: [], exitCode: 0 }],
  ['/usr/bin/false', { outputs: [], exitCode: 1 }],
]);
const hostProcesses = new Map();
let nextProcessId = 4100;
let lastProcess = null;
const processStops = [];

function outputBytes(output) {
  if (output.bytes !== undefined) return output.bytes;
  return output.base64 !== undefined ? Buffer.from(output.base64, 'base64') : Buffer.from(output.text ?? '', 'utf8');
}
const notification = (method, params) => frame({ jsonrpc: '2.0', method, params });

function processProblem(params) {
  const path = params.path;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    return { code: -32602, message: `path: ${path} is not an absolute path`, data: { reason: 'FieldInvalid', field: 'path' } };
  }
  if (path.split('/').includes('..')) {
    return { code: -32001, message: `${path} contains '..' (policy rule: profiles.test.processes)`, data: { reason: 'PathNotCanonical', rule: 'profiles.test.processes' } };
  }
  if (!programs.has(path)) {
    return { code: -32001, message: `${path} is not listed in a process rule of this profile (policy rule: profiles.test.processes)`, data: { reason: 'RuleDenied', rule: 'profiles.test.processes' } };
  }
  for (const port of params.exposes ?? []) {
    if (!/^(tcp|udp)\/\d{1,5}$/.test(port)) {
      return { code: -32602, message: `exposes: ${port} is not protocol/port`, data: { reason: 'FieldInvalid', field: 'exposes' } };
    }
  }
  return null;
}

function writeProcessOutput(proc, output) {
  const stream = output.stream ?? 'stdout';
  const bytes = outputBytes(output);
  proc.outputsAt.push(Date.now());
  const target = proc.streamTo;
  if (target === null || target.destroyed) {
    proc.buffered[stream].push(bytes);
    return;
  }
  target.write(notification('process/output', { processId: proc.info.Id, stream, data: bytes.toString('base64') }));
  if (proc.program.foreignOutput && proc.outputsAt.length === 1) {
    const other = proc.info.Id + 1000;
    target.write(notification('process/output', { processId: other, stream: 'stdout', data: Buffer.from('NOT THIS PROCESS\n').toString('base64') }));
    target.write(notification('process/output', { processId: other, stream: 'stderr', data: Buffer.from('NOT THIS PROCESS EITHER\n').toString('base64') }));
    target.write(notification('process/exited', { processId: other, exitCode: 99, signal: null }));
  }
}

function flushProcessOutput(proc) {
  for (const stream of ['stdout', 'stderr']) {
    for (const bytes of proc.buffered[stream]) {
      proc.streamTo.write(notification('process/output', { processId: proc.info.Id, stream, data: bytes.toString('base64') }));
    }
    proc.buffered[stream] = [];
  }
}

function exitProcess(proc, exitCode, signal, by) {
  if (proc.info.State !== 'Running') return;
  Object.assign(proc.info, { State: 'Exited', ExitCode: exitCode, Signal: signal, ExitTime: new Date().toISOString() });
  proc.exitedAt = Date.now();
  proc.stoppedBy = by ?? null;
  if (proc.streamTo !== null && !proc.streamTo.destroyed) {
    proc.streamTo.write(notification('process/exited', { processId: proc.info.Id, exitCode, signal }));
    proc.exitSentTo = proc.streamTo;
  }
  proc.resolveExit();
}

async function runProcess(proc) {
  const generate = proc.program.generate;
  if (generate) {
    // `bytes` of lines of `lineLength` ('x' repeated, then LF) in chunks of `chunkSize`, as fast as the socket takes them.
    const line = Buffer.from(`${'x'.repeat((generate.lineLength ?? 1000) - 1)}\n`, 'ascii');
    const chunkSize = generate.chunkSize ?? 65536;
    let sent = 0;
    while (sent < generate.bytes && proc.info.State === 'Running') {
      const size = Math.min(chunkSize, generate.bytes - sent);
      // Each chunk continues the line pattern where the previous one stopped.
      const offset = sent % line.length;
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = line[(offset + i) % line.length];
      writeProcessOutput(proc, { stream: 'stdout', bytes });
      sent += size;
      const target = proc.streamTo;
      if (target !== null && !target.destroyed && target.writableNeedDrain) await new Promise((resolve) => target.once('drain', resolve));
    }
    if (proc.info.State !== 'Running') return;
  }
  const outputs = proc.program.outputs ?? [];
  while (proc.next < outputs.length) {
    const output = outputs[proc.next];
    if (output.delayMs) await sleep(output.delayMs);
    if (proc.info.State !== 'Running') return;
    proc.next += 1;
    writeProcessOutput(proc, output);
  }
  if (proc.program.untilStopped) return;
  const signal = proc.program.signal ?? null;
  exitProcess(proc, signal === null ? (proc.program.exitCode ?? 0) : null, signal);
}

function startProcess(params, socket, connection) {
  const program = programs.get(params.path);
  const proc = {
    info: {
      Id: nextProcessId++, Path: params.path, Arguments: params.args ?? [], WorkingDirectory: params.cwd ?? '/',
      State: 'Running', ExitCode: null, Signal: null, Detached: params.detach === true, Exposes: params.exposes ?? [],
      StartTime: new Date().toISOString(), ExitTime: null, Rule: PROCESS_RULE,
    },
    program, owner: socket, connection, streamTo: params.stream === true ? socket : null,
    buffered: { stdout: [], stderr: [] }, next: 0, exitSentTo: null,
    outputsAt: [], startRespondedAt: null, waitResponseAt: null, exitedAt: null, stoppedBy: null,
  };
  proc.exited = new Promise((resolve) => {
    proc.resolveExit = resolve;
  });
  hostProcesses.set(proc.info.Id, proc);
  lastProcess = proc;
  return proc;
}

function processGone(id, processId) {
  return { jsonrpc: '2.0', id, error: { code: -32003, message: `no process ${processId} was started by this profile`, data: { reason: 'NotFound', processId } } };
}

// ---- sessions ---------------------------------------------------------------------------------------------

let nextSessionNumber = 1;
let invocationScript = { outputs: [], state: 'Completed', error: null, timedOut: false, location: '/root' };
const sessionStats = { invokes: [], cancels: [], cancelledInvokes: 0 };

function sessionInfo(name, target) {
  const number = nextSessionNumber++;
  const now = new Date().toISOString();
  return {
    Id: `s-${(0x3f9c2a00 + number).toString(16)}`, Name: name ?? `Session${number}`, Target: target ?? 'host', State: 'Opened',
    LanguageMode: 'NoLanguage', Location: '/root', PSVersion: '7.6.9', ProcessId: 5000 + number, Created: now, LastUsed: now,
    IdleTimeoutSeconds: 900, Rule: 'profiles.test.sessions',
  };
}

// ---- credential specs ------------------------------------------------------------------------------------

const specDocument = (domain, netbios, accounts) => ({
  CmsPlugins: ['ActiveDirectory'],
  DomainJoinConfig: {
    Sid: 'S-1-5-21-702590844-1001920913-2680819671',
    MachineAccountName: accounts[0] ?? 'none',
    Guid: '56d9b66c-d746-4f87-bd26-26760cfdca2e',
    DnsTreeName: domain,
    DnsName: domain,
    NetBiosName: netbios,
  },
  ActiveDirectoryConfig: {
    GroupManagedServiceAccounts: accounts.flatMap((name) => [{ Name: name, Scope: domain }, { Name: name, Scope: netbios }]),
  },
});

const credentialSpecs = new Map([
  ['file://webapp1.json', {
    info: { Uri: 'file://webapp1.json', Source: 'file', Name: 'webapp1.json', Path: '/srv/credspecs/webapp1.json' },
    spec: specDocument('contoso.com', 'CONTOSO', ['WebApp01']),
    problems: [],
    resolved: { resolved: true, detail: 'WebApp01 is a gMSA this host may retrieve the password of' },
  }],
  ['file://broken.json', {
    info: { Uri: 'file://broken.json', Source: 'file', Name: 'broken.json', Path: '/srv/credspecs/broken.json' },
    spec: null,
    problems: [
      { Field: 'DomainJoinConfig.Sid', Message: 'is not a domain SID' },
      { Field: 'ActiveDirectoryConfig.GroupManagedServiceAccounts', Message: 'is missing' },
    ],
    resolved: null,
  }],
  ['registry://webapp2', {
    info: { Uri: 'registry://webapp2', Source: 'registry', Name: 'webapp2' },
    spec: specDocument('fabrikam.com', 'FABRIKAM', ['WebApp02']),
    problems: [],
    resolved: { resolved: false, detail: 'WebApp02 was not found in fabrikam.com' },
  }],
]);

function findCredentialSpec(uri) {
  if (typeof uri !== 'string') return { error: { code: -32602, message: 'uri: expected a string', data: { reason: 'FieldInvalid', field: 'uri' } } };
  const match = /^(file|registry|raw):\/\/([\s\S]*)$/i.exec(uri);
  if (!match) return { error: { code: -32602, message: `uri: ${uri} is not file://, registry:// or raw://`, data: { reason: 'FieldInvalid', field: 'uri' } } };
  const source = match[1].toLowerCase();
  if (source === 'raw') {
    let spec;
    try {
      spec = JSON.parse(match[2]);
    } catch {
      return { error: { code: -32602, message: 'uri: the credential spec is not valid JSON', data: { reason: 'InvalidCredentialSpec', field: 'uri' } } };
    }
    return { info: { Uri: uri, Source: 'raw', Name: '' }, spec, problems: [], resolved: { resolved: null, detail: 'gMSA accounts cannot be checked on a Linux host' } };
  }
  const known = credentialSpecs.get(`${source}://${match[2]}`);
  if (!known) return { error: { code: -32003, message: `no credential spec ${uri}`, data: { reason: 'NotFound', uri } } };
  return known;
}

function frame(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function handleConnection(socket) {
  stats.connections += 1;
  const connection = stats.connections;
  sockets.add(socket);
  socket.on('close', () => {
    sockets.delete(socket);
    // Processes are tied to the connection that started them, unless detached; streams to it stop.
    for (const proc of hostProcesses.values()) {
      if (proc.streamTo === socket) proc.streamTo = null;
      if (proc.owner === socket && !proc.info.Detached) exitProcess(proc, null, 'SIGKILL', 'disconnect');
    }
  });
  socket.on('error', () => {});
  // A client that lost track of the stream waits forever for a response; closing idle connections turns
  // that hang into a failing test.
  socket.setTimeout(10000, () => socket.destroy());

  let buffer = Buffer.alloc(0);
  let initializeParams = null;
  let awaitingClient = null;
  // Sessions of this connection, and the cancel hooks of its running session/invoke requests by request id.
  const connectionSessions = new Map();
  const cancelHooks = new Map();
  // Requests are answered one after another, like the client sends them.
  let queue = Promise.resolve();

  const send = (message) => socket.write(frame(message));
  const reply = (id, result) => send({ jsonrpc: '2.0', id, result });
  const fail = (id, code, message, data) => send({ jsonrpc: '2.0', id, error: { code, message, data } });

  async function dispatch(request) {
    const { id, method } = request;
    const params = request.params ?? {};
    stats.calls[method] = (stats.calls[method] ?? 0) + 1;
    stats.lastParams[method] = params;

    if (method === 'initialize') {
      stats.initializes += 1;
      initializeParams = params;
      return reply(id, {
        serverInfo: { name: 'fake-broker', version: '9.9.9', platform: 'linux' },
        protocolVersion: 1,
        capabilities: {
          methods: ['host/info', 'network/adapters', 'network/routes', 'file/list', 'file/read', 'credspec/list', 'credspec/get', 'credspec/test',
            'process/start', 'process/list', 'process/wait', 'process/stop', 'process/receive'],
        },
        caller: { listener: 'fake', profile: 'test', pid: 4242, uid: 1000, gid: 1000, netns: 'net:[4026531840]' },
      });
    }
    if (initializeParams === null) {
      return fail(id, -32002, 'initialize first', { reason: 'NotInitialized' });
    }
    if (overrides.has(method)) {
      const override = overrides.get(method);
      if (override.error) return send({ jsonrpc: '2.0', id, error: override.error });
      return reply(id, override.result ?? null);
    }

    switch (method) {
      case 'test/echo':
        return reply(id, { id, params, connection, initialize: initializeParams });
      case 'test/notify': {
        socket.write(frame({ jsonrpc: '2.0', method: 'test/progress', params: { seq: 1 } }));
        await sleep(30);
        const rest = Buffer.concat([
          frame({ jsonrpc: '2.0', method: 'test/progress', params: { seq: 2 } }),
          frame({ jsonrpc: '2.0', id, result: { sent: 2 } }),
        ]);
        return socket.write(rest);
      }
      case 'test/split': {
        const size = Number(params.size ?? 0);
        const text = 'h\u00e9llo \u2713 \u00fcber';
        const bytes = frame({ jsonrpc: '2.0', id, result: { text, padding: 'x'.repeat(size) } });
        const headerEnd = bytes.indexOf('\r\n\r\n') + 4;
        const multiByte = bytes.indexOf(Buffer.from('\u2713', 'utf8')) + 1; // inside the 3-byte check mark
        const cuts = [7, headerEnd - 1, headerEnd + 5, multiByte, bytes.length];
        let start = 0;
        for (const cut of cuts) {
          if (cut <= start) continue;
          socket.write(bytes.subarray(start, cut));
          start = cut;
          await sleep(40);
        }
        return undefined;
      }
      case 'test/error':
        return fail(id, params.code, params.message, params.data);
      case 'test/closeAfterReply':
        socket.write(frame({ jsonrpc: '2.0', id, result: { ok: true } }), () => socket.destroy());
        return undefined;
      case 'test/dropWithoutReply':
        socket.destroy();
        return undefined;
      case 'test/badLength':
        return socket.write('Content-Length: 12a\r\n\r\n{"jsonrpc":"2.0"}');
      case 'test/hugeHeader':
        return socket.write(`X-Padding: ${'a'.repeat(9000)}\r\n\r\n`);
      case 'test/badJson': {
        const body = Buffer.from('{"jsonrpc":"2.0","id":', 'utf8');
        return socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
      }
      case 'test/unknownHeader': {
        const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, result: {} }), 'utf8');
        return socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\nX-Extra: 1\r\n\r\n`), body]));
      }
      case 'test/serverRequest': {
        const answer = new Promise((resolve) => {
          awaitingClient = resolve;
        });
        send({ jsonrpc: '2.0', id: 'srv-1', method: 'client/ping', params: {} });
        const clientReply = await answer;
        return reply(id, { clientReply });
      }
      case 'test/wrongId':
        return reply(id + 1000, { ok: true });
      case 'test/respondWith':
        if (params.result === undefined && params.error === undefined) overrides.delete(params.method);
        else overrides.set(params.method, { result: params.result, error: params.error });
        return reply(id, { ok: true });
      case 'test/stats':
        return reply(id, stats);
      case 'test/shutdown':
        reply(id, { ok: true });
        setTimeout(() => {
          for (const s of sockets) s.destroy();
          server.close(() => process.exit(0));
        }, 20);
        return undefined;
      case 'test/setFile': {
        let bytes;
        if (params.generate) bytes = Buffer.from(generateText(Number(params.generate.bytes)), 'utf8');
        else if (params.base64 !== undefined) bytes = Buffer.from(params.base64, 'base64');
        else bytes = Buffer.from(params.text ?? '', params.encoding ?? 'utf8');
        const { path, text, base64, generate, encoding, ...behaviour } = params;
        files.set(path, { bytes, ...behaviour });
        const lines = bytes.toString(encoding ?? 'utf8').split('\n').length - 1;
        return reply(id, { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), lines });
      }
      case 'test/lastRead':
        return reply(id, lastRead);
      case 'test/setProgram': {
        const { path, ...program } = params;
        programs.set(path, program);
        return reply(id, { ok: true });
      }
      case 'test/lastProcess': {
        if (lastProcess === null) return reply(id, null);
        const { outputsAt, startRespondedAt, waitResponseAt, exitedAt, stoppedBy, info } = lastProcess;
        return reply(id, { id: info.Id, outputsAt, startRespondedAt, waitResponseAt, exitedAt, stoppedBy, info });
      }
      case 'test/processStops':
        return reply(id, { stops: processStops });
      case 'test/setInvocation':
        invocationScript = { outputs: [], state: 'Completed', error: null, timedOut: false, location: '/root', ...params };
        return reply(id, { ok: true });
      case 'test/sessionStats':
        return reply(id, sessionStats);
      case 'session/new': {
        const target = params.target ?? 'host';
        if (!['host', 'web'].includes(target)) {
          return fail(id, -32001, `target ${target} is not in sessions.targets of this profile (policy rule: profiles.test.sessions.targets)`, { reason: 'TargetDenied', rule: 'profiles.test.sessions.targets' });
        }
        if (params.name !== undefined && [...connectionSessions.values()].some((known) => known.Name === params.name)) {
          return fail(id, -32004, `a session named ${params.name} exists`, { reason: 'NameInUse' });
        }
        const info = sessionInfo(params.name, target);
        connectionSessions.set(info.Id, info);
        return reply(id, info);
      }
      case 'session/list':
        return reply(id, { sessions: [...connectionSessions.values()] });
      case 'session/remove': {
        const info = connectionSessions.get(params.sessionId);
        if (!info) return fail(id, -32003, `no session ${params.sessionId}`, { reason: 'NotFound' });
        connectionSessions.delete(params.sessionId);
        return reply(id, { ...info, State: 'Broken' });
      }
      case 'session/invoke': {
        sessionStats.invokes.push(params);
        let info;
        if (params.sessionId !== undefined) {
          info = connectionSessions.get(params.sessionId);
          if (!info) return fail(id, -32003, `no session ${params.sessionId}`, { reason: 'NotFound' });
        } else {
          const target = params.target ?? 'host';
          if (!['host', 'web'].includes(target)) {
            return fail(id, -32001, `target ${target} is not in sessions.targets of this profile (policy rule: profiles.test.sessions.targets)`, { reason: 'TargetDenied', rule: 'profiles.test.sessions.targets' });
          }
          info = sessionInfo(undefined, target);
        }
        const script = invocationScript;
        const invocationId = `i-${sessionStats.invokes.length}`;
        let cancelled = false;
        let wake = () => {};
        cancelHooks.set(id, () => {
          cancelled = true;
          wake();
        });
        const pause = (ms) => new Promise((resolve) => {
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        try {
          for (const output of script.outputs) {
            if (output.delayMs) await pause(output.delayMs);
            if (cancelled) break;
            socket.write(notification('session/output', { sessionId: info.Id, invocationId, stream: output.stream, clixml: output.clixml }));
          }
          if (script.untilCancelled && !cancelled) await new Promise((resolve) => { wake = resolve; });
          if (script.responseDelayMs && !cancelled) await pause(script.responseDelayMs);
        } finally {
          cancelHooks.delete(id);
        }
        if (script.dropConnection && !cancelled) {
          socket.destroy();
          return undefined;
        }
        if (cancelled) {
          sessionStats.cancelledInvokes += 1;
          return fail(id, -32800, 'the invocation was cancelled', { reason: 'Cancelled' });
        }
        if (params.sessionId !== undefined) info.Location = script.location;
        return reply(id, {
          sessionId: info.Id, invocationId, state: script.state, error: script.error ?? null, timedOut: script.timedOut === true,
          outputCount: script.outputs.filter((output) => output.stream === 'output').length, location: script.location ?? null,
        });
      }
      case 'process/start': {
        const problem = processProblem(params);
        if (problem) return fail(id, problem.code, problem.message, problem.data);
        const proc = startProcess(params, socket, connection);
        const outputs = proc.program.outputs ?? [];
        if (proc.program.earlyOutput && proc.streamTo !== null && outputs.length > 0) {
          writeProcessOutput(proc, outputs[0]);
          proc.next = 1;
        }
        reply(id, proc.info);
        proc.startRespondedAt = Date.now();
        runProcess(proc).catch((error) => console.error(error));
        return undefined;
      }
      case 'process/list':
        return reply(id, { processes: [...hostProcesses.values()].map((proc) => proc.info) });
      case 'process/wait': {
        const proc = hostProcesses.get(params.processId);
        if (!proc) return send(processGone(id, params.processId));
        if (params.stream === true) {
          proc.streamTo = socket;
          flushProcessOutput(proc);
          if (proc.info.State === 'Exited' && proc.exitSentTo !== socket) {
            socket.write(notification('process/exited', { processId: proc.info.Id, exitCode: proc.info.ExitCode, signal: proc.info.Signal }));
          }
        }
        const timeout = typeof params.timeoutMs === 'number' ? sleep(params.timeoutMs) : new Promise(() => {});
        await Promise.race([proc.exited, timeout]);
        if (proc.info.State === 'Exited' && proc.program.waitResponseDelayMs) await sleep(proc.program.waitResponseDelayMs);
        proc.waitResponseAt = Date.now();
        return reply(id, proc.info);
      }
      case 'process/stop': {
        const proc = hostProcesses.get(params.processId);
        processStops.push({ processId: params.processId, timeoutMs: params.timeoutMs ?? null, connection, startConnection: proc ? proc.connection : null });
        if (!proc) return send(processGone(id, params.processId));
        exitProcess(proc, null, 'SIGTERM', 'process/stop');
        return reply(id, proc.info);
      }
      case 'process/receive': {
        const proc = hostProcesses.get(params.processId);
        if (!proc) return send(processGone(id, params.processId));
        const take = (stream) => {
          const data = Buffer.concat(proc.buffered[stream]).toString('base64');
          proc.buffered[stream] = [];
          return data;
        };
        const stdout = take('stdout');
        const stderr = take('stderr');
        return reply(id, { stdout, stderr, complete: proc.info.State === 'Exited', process: proc.info });
      }
      case 'file/read': {
        const problem = fileProblem(params.path);
        if (problem) return fail(id, problem.code, problem.message, problem.data);
        if (typeof params.token !== 'string' || params.token.length === 0) {
          return fail(id, -32602, 'token: expected a non-empty string', { reason: 'FieldInvalid', field: 'token' });
        }
        if (params.tail !== undefined && params.head !== undefined) {
          return fail(id, -32602, 'tail cannot be combined with head or offset', { reason: 'FieldInvalid', field: 'tail' });
        }
        const file = files.get(params.path);
        if (!file) return fail(id, -32003, `${params.path} does not exist`, { reason: 'NotFound', path: params.path });
        const { start, end } = lineRange(file.bytes, params);
        const body = file.bytes.subarray(start, end);
        const cuts = [];
        if (file.cuts) cuts.push(...file.cuts.filter((cut) => cut > 0 && cut < body.length));
        else for (let at = file.chunkSize ?? 65536; at < body.length; at += file.chunkSize ?? 65536) cuts.push(at);
        cuts.push(body.length);
        const read = { token: params.token, chunks: 0, firstChunkAt: null, responseAt: null };
        lastRead = read;
        let from = 0;
        let skipped = 0;
        for (const cut of cuts) {
          if (cut <= from) continue;
          const chunk = body.subarray(from, cut);
          socket.write(frame({ jsonrpc: '2.0', method: 'file/data', params: { token: params.token, offset: start + from + skipped, data: chunk.toString('base64') } }));
          if (read.chunks === 0) read.firstChunkAt = Date.now();
          read.chunks += 1;
          if (file.gapAfter === read.chunks) skipped += 1;
          if (file.foreignToken && read.chunks === 1) {
            const foreign = Buffer.from('NOT THIS READ\r\n', 'utf8');
            socket.write(frame({ jsonrpc: '2.0', method: 'file/data', params: { token: 'another-read', offset: 0, data: foreign.toString('base64') } }));
          }
          from = cut;
          if (file.delayMs) await sleep(file.delayMs);
        }
        if (file.responseDelayMs) await sleep(file.responseDelayMs);
        let sha256 = createHash('sha256').update(body).digest('hex');
        if (file.wrongSha) sha256 = createHash('sha256').update('something else').digest('hex');
        read.responseAt = Date.now();
        return reply(id, { path: params.path, size: file.bytes.length, offset: start, bytesRead: body.length + (file.wrongCount ? 1 : 0), sha256 });
      }
      case 'file/list': {
        const problem = fileProblem(params.path);
        if (problem) return fail(id, problem.code, problem.message, problem.data);
        if (files.has(params.path)) return fail(id, -32602, `path: ${params.path} is not a directory`, { reason: 'NotADirectory', field: 'path' });
        if (!listings.has(params.path)) return fail(id, -32003, `${params.path} does not exist`, { reason: 'NotFound', path: params.path });
        const entries = [];
        const pending = [params.path];
        while (pending.length > 0) {
          for (const item of listings.get(pending.shift()) ?? []) {
            entries.push(item);
            if (params.recurse === true && item.Type === 'Directory') pending.push(item.FullName);
          }
        }
        return reply(id, { entries });
      }
      case 'credspec/list':
        return reply(id, { specs: [...credentialSpecs.values()].map((known) => known.info) });
      case 'credspec/get': {
        const found = findCredentialSpec(params.uri);
        if (found.error) return send({ jsonrpc: '2.0', id, error: found.error });
        if (!found.spec) return fail(id, -32007, `the credential spec ${params.uri} is not valid`, { reason: 'InvalidCredentialSpec' });
        return reply(id, { ...found.info, Spec: found.spec });
      }
      case 'credspec/test': {
        const found = findCredentialSpec(params.uri);
        if (found.error) return send({ jsonrpc: '2.0', id, error: found.error });
        const accounts = (found.spec?.ActiveDirectoryConfig?.GroupManagedServiceAccounts ?? []).map((account) => ({
          Name: account.Name, Scope: account.Scope, Resolved: found.resolved.resolved, Detail: found.resolved.detail,
        }));
        return reply(id, { ...found.info, Valid: found.problems.length === 0, Problems: found.problems, Accounts: accounts });
      }
      case 'network/adapters': {
        // Selectors combine with AND, as in typings/network.ts.
        const adapters = canned[method].adapters.filter(
          (a) =>
            (params.defaultOnly !== true || a.IsDefault) &&
            (params.interfaceIndex === undefined || a.InterfaceIndex === params.interfaceIndex) &&
            (params.name === undefined || a.Name === params.name),
        );
        return reply(id, { adapters, defaultInterfaceIndex: canned[method].defaultInterfaceIndex });
      }
      default:
        if (Object.prototype.hasOwnProperty.call(canned, method)) return reply(id, canned[method]);
        return fail(id, -32601, `Unknown method ${method}`, { reason: 'MethodNotFound' });
    }
  }

  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const match = /Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString('ascii'));
      if (!match) {
        socket.destroy();
        return;
      }
      const length = Number(match[1]);
      if (buffer.length < headerEnd + 4 + length) return;
      const body = buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      buffer = buffer.subarray(headerEnd + 4 + length);
      let message;
      try {
        message = JSON.parse(body);
      } catch {
        send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error', data: { reason: 'ParseError' } } });
        continue;
      }
      if (message.id === undefined) {
        // A notification from the client; only cancellation means something here.
        if (message.method === '$/cancelRequest') {
          sessionStats.cancels.push({ id: message.params?.id, at: Date.now() });
          cancelHooks.get(message.params?.id)?.();
        }
        continue;
      }
      if (message.method === undefined) {
        // The client's answer to a request of ours (test/serverRequest).
        if (awaitingClient) awaitingClient(message);
        awaitingClient = null;
        continue;
      }
      queue = queue.then(() => dispatch(message)).catch((error) => console.error(error));
    }
  });
}

try {
  fs.unlinkSync(socketPath);
} catch {
  // not there: fine
}
const server = net.createServer(handleConnection);
server.listen(socketPath, () => {
  process.stdout.write(`listening ${socketPath}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
