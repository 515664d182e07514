// `npm run fuzz [-- --cases N --seconds S --connections C --seed X]`: mutated framing and params, from a
// corpus of valid messages for every method, sent to a live broker over several connections at once.
// After every batch: the broker is alive, its RSS is under a bound, and a well-behaved client on its own
// connection gets correct answers. Every case: a body mutation in a good frame leaves the connection in
// sync (a sentinel request right after it is answered); a framing mutation either closes the connection
// or, if it happened to stay valid, leaves it in sync. Bounded by count and time; exits 1 on any failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Methods } from '../../typings/index.js';

const { values } = parseArgs({
  options: { cases: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '300' }, connections: { type: 'string', default: '8' }, seed: { type: 'string', default: '1' }, 'rss-mb': { type: 'string', default: '300' } },
});
const CASES = Number(values.cases);
const DEADLINE = Date.now() + Number(values.seconds) * 1000;
const CONNECTIONS = Number(values.connections);
const RSS_BOUND = Number(values['rss-mb']) * 1024 * 1024;
const BATCH = 500;

let seed = Number(values.seed) >>> 0 || 1;
/** xorshift32: the same seed gives the same cases, so a failure can be replayed. */
function random(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 0x100000000;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const int = (max: number) => Math.floor(random() * max);

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'winshost-fuzz-'));
mkdirSync(join(dir, 'logs'));
writeFileSync(join(dir, 'logs', 'a.log'), 'one\ntwo\n');

/** A valid request for every method in the protocol: the corpus. */
const corpus: Record<string, unknown> = {
  initialize: { clientInfo: { name: 'fuzz' }, protocolVersion: 1 },
  'host/info': {},
  'network/adapters': { defaultOnly: true },
  'network/routes': { addressFamily: 'IPv4' },
  'file/list': { path: join(dir, 'logs') },
  'file/read': { path: join(dir, 'logs', 'a.log'), token: 't', tail: 1 },
  'credspec/list': {},
  'credspec/get': { uri: 'raw://{"CmsPlugins":["ActiveDirectory"]}' },
  'credspec/test': { uri: 'raw://{}' },
  'process/list': {},
  'process/start': { path: '/usr/bin/true' },
  'process/wait': { processId: 1, timeoutMs: 1 },
  'process/stop': { processId: 1 },
  'process/write': { processId: 1, data: 'AA==' },
  'process/receive': { processId: 1 },
  'proxy/list': {},
  'proxy/add': { policy: { OutboundProxyPort: 15001 } },
  'proxy/remove': { all: true },
  'session/new': { name: 'fuzz' },
  'session/list': {},
  'session/remove': { sessionId: 's-00000000' },
  'session/invoke': { script: 'emit 2' },
};
const missing = Methods.filter((method) => !(method in corpus));
if (missing.length) throw new Error(`the fuzz corpus has no message for ${missing.join(', ')}`);

const weird: unknown[] = [null, true, -1, 0, 1.5, 2 ** 53, -(2 ** 31), '', 'x'.repeat(5000), '\u0000', '\ud800', '../../etc/passwd', 'C:\\Windows\\..', [], {}, [[[[[]]]]], { __proto__: { polluted: 1 } }, { constructor: { prototype: {} } }];

function mutateValue(value: unknown, depth = 0): unknown {
  if (depth > 3 || random() < 0.3) return pick(weird);
  if (Array.isArray(value)) return value.map((item) => mutateValue(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (random() < 0.15) continue;
      out[random() < 0.1 ? `${key}x` : key] = random() < 0.5 ? mutateValue(item, depth + 1) : item;
    }
    if (random() < 0.1) out[pick(['extra', '__proto__', 'constructor'])] = pick(weird);
    return out;
  }
  return pick(weird);
}

interface Case {
  bytes: Buffer;
  /** True when the frame is intact, so the connection must stay in sync. */
  wellFramed: boolean;
}

function frame(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

function makeCase(id: number): Case {
  const method = pick(Object.keys(corpus));
  const message: Record<string, unknown> = { jsonrpc: '2.0', id, method, params: corpus[method] };
  const kind = random();
  if (kind < 0.45) {
    // params mutated, everything else valid
    message.params = mutateValue(message.params);
    return { bytes: frame(Buffer.from(JSON.stringify(message))), wellFramed: true };
  }
  if (kind < 0.65) {
    // the envelope mutated: jsonrpc, id, method, batches, bodies that are not JSON
    const variants: (() => Buffer)[] = [
      () => Buffer.from(JSON.stringify({ ...message, jsonrpc: pick(weird) })),
      () => Buffer.from(JSON.stringify({ ...message, id: pick(weird) })),
      () => Buffer.from(JSON.stringify({ ...message, method: pick([...weird, 'no/such', '$/cancelRequest', 'initialize']) })),
      () => Buffer.from(JSON.stringify([message, message])),
      () => Buffer.from(JSON.stringify(pick(weird))),
      () => Buffer.from(JSON.stringify(message).slice(0, int(40))),
      () => Buffer.from(Array.from({ length: int(200) }, () => int(256))),
      () => {
        const bytes = Buffer.from(JSON.stringify(message));
        for (let i = 0; i < 1 + int(4); i++) bytes[int(bytes.length)] = int(256);
        return bytes;
      },
    ];
    return { bytes: frame(pick(variants)()), wellFramed: true };
  }
  // the frame mutated
  const body = Buffer.from(JSON.stringify(message));
  const headers: (() => string)[] = [
    () => `Content-Length: ${pick(['', 'abc', '-1', '+5', '1e3', ' 12', '99999999999999', String(64 * 1024 * 1024)])}\r\n\r\n`,
    () => `Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n\r\n`,
    () => `X-Evil: 1\r\nContent-Length: ${body.length}\r\n\r\n`,
    () => `Content-Length ${body.length}\r\n\r\n`,
    () => `Content-Type: application/json; charset=latin1\r\nContent-Length: ${body.length}\r\n\r\n`,
    () => `${'H'.repeat(9000)}`,
    () => `Content-Length: ${body.length}\n\n`,
  ];
  return { bytes: Buffer.concat([Buffer.from(pick(headers)(), 'latin1'), body]), wellFramed: false };
}

class Peer {
  private buffer = Buffer.alloc(0);
  private readonly waiting = new Map<number | string, (message: Record<string, unknown>) => void>();
  closed = false;
  private onClose: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/Content-Length: (\d+)/.exec(this.buffer.subarray(0, end).toString())?.[1]);
        if (this.buffer.length < end + 4 + length) return;
        const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString()) as Record<string, unknown>;
        this.buffer = this.buffer.subarray(end + 4 + length);
        const waiter = this.waiting.get(message.id as number);
        if (waiter) {
          this.waiting.delete(message.id as number);
          waiter(message);
        }
      }
    });
    const close = () => {
      this.closed = true;
      for (const callback of this.onClose.splice(0)) callback();
    };
    socket.on('close', close);
    socket.on('error', close);
  }

  static async open(path: string): Promise<Peer> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const peer = new Peer(socket);
    const init = await peer.request({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: corpus.initialize });
    if (!init || !('result' in init)) throw new Error(`initialize failed: ${JSON.stringify(init)}`);
    return peer;
  }

  /** The response to a request, or undefined if the connection closed first; rejects after 5 s. */
  request(message: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    this.socket.write(frame(Buffer.from(JSON.stringify(message))));
    return this.response(message.id as string);
  }

  response(id: number | string): Promise<Record<string, unknown> | undefined> {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve(undefined);
      const timer = setTimeout(() => reject(new Error(`no answer to ${id} within 5 s`)), 5000);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      this.onClose.push(() => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }
}

function rss(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

async function main(): Promise<number> {
  // Sessions are granted, served by the protocol-speaking stand-in that starts in milliseconds: thousands of
  // fuzzed session requests must not start thousands of PowerShells.
  const sessionHost = join(dir, 'session-host');
  writeFileSync(sessionHost, `#!/bin/sh\nexec '${process.execPath}' '${join(repo, 'test', 'broker', 'support', 'fake-session-host.mjs')}' "$@"\n`, { mode: 0o755 });
  writeFileSync(
    join(dir, 'policy.yaml'),
    `listeners:\n  - name: fuzz\n    profiles: [fuzz]\nprofiles:\n  fuzz:\n    host: { read: true }\n    network: { read: true }\n    files:\n      roots:\n        - path: ${join(dir, 'logs')}\n    credentialSpecs:\n      directory: ${dir}\n      allow: ['raw://']\n    sessions:\n      languageMode: NoLanguage\n      commands: [Get-Date]\n      invocationTimeoutSeconds: 2\n    limits: { sessions: 4 }\nsessionHost:\n  executable: ${sessionHost}\n  warm: 1\n`,
  );
  const socketPath = join(dir, 'b.sock');
  const broker: ChildProcess = spawn(process.execPath, [join(repo, 'dist', 'broker', 'cli.js'), 'serve', '--policy', join(dir, 'policy.yaml'), '--listen', socketPath, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'audit.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let brokerLog = '';
  broker.stderr!.on('data', (chunk) => (brokerLog += chunk));
  await new Promise<void>((resolve, reject) => {
    broker.stderr!.on('data', () => brokerLog.includes('serving') && resolve());
    broker.once('exit', (code) => reject(new Error(`broker exited ${code}: ${brokerLog}`)));
  });
  const failures: string[] = [];
  let cases = 0;
  let closedByBroker = 0;
  let peakRss = 0;
  try {
    const watcher = await Peer.open(socketPath);
    const peers = await Promise.all(Array.from({ length: CONNECTIONS }, () => Peer.open(socketPath)));
    let nextId = 1;
    while (cases < CASES && Date.now() < DEADLINE && failures.length === 0) {
      await Promise.all(
        peers.map(async (_, index) => {
          for (let i = 0; i < BATCH / CONNECTIONS && failures.length === 0; i++) {
            let peer = peers[index];
            const id = nextId++;
            const fuzzCase = makeCase(id);
            const sentinel = `s${id}`;
            // A frame sometimes goes in pieces: the reader must not care.
            if (random() < 0.2) {
              const cut = int(fuzzCase.bytes.length);
              peer.socket.write(fuzzCase.bytes.subarray(0, cut));
              peer.socket.write(fuzzCase.bytes.subarray(cut));
            } else {
              peer.socket.write(fuzzCase.bytes);
            }
            const answer = await peer.request({ jsonrpc: '2.0', id: sentinel, method: 'host/info', params: {} }).catch((error: Error) => error);
            cases++;
            if (answer instanceof Error) failures.push(`case ${id}: ${answer.message}: ${fuzzCase.bytes.subarray(0, 120).toString('latin1')}`);
            else if (answer === undefined) {
              if (fuzzCase.wellFramed) failures.push(`case ${id}: a well-framed message closed the connection: ${fuzzCase.bytes.subarray(0, 200).toString('latin1')}`);
              closedByBroker++;
              const reopened = await Peer.open(socketPath).catch((error: Error) => error);
              if (reopened instanceof Error) {
                failures.push(`case ${id}: reconnecting after a closed connection failed: ${reopened.message}; broker log: ${brokerLog.slice(-500)}`);
                return;
              }
              peers[index] = peer = reopened;
            } else if (!('result' in answer)) failures.push(`case ${id}: the sentinel got ${JSON.stringify(answer).slice(0, 200)}`);
          }
        }),
      );
      if (broker.exitCode !== null) failures.push(`the broker exited (${broker.exitCode}): ${brokerLog.slice(-500)}`);
      else {
        peakRss = Math.max(peakRss, rss(broker.pid!));
        if (peakRss > RSS_BOUND) failures.push(`broker RSS ${peakRss} over the bound ${RSS_BOUND}`);
        const check = await watcher.request({ jsonrpc: '2.0', id: `w${cases}`, method: 'network/adapters', params: { defaultOnly: true } }).catch(() => undefined);
        if (!check || !('result' in check)) failures.push(`the well-behaved client got ${JSON.stringify(check)?.slice(0, 200)}`);
      }
    }
  } finally {
    broker.kill('SIGTERM');
    await new Promise((resolve) => broker.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`fuzz: ${cases} cases over ${CONNECTIONS} connections (seed ${values.seed}); ${closedByBroker} connections closed for framing; broker peak RSS ${(peakRss / 1e6).toFixed(1)} MB`);
  for (const failure of failures.slice(0, 10)) console.log(`fuzz failure: ${failure}`);
  console.log(`fuzz: ${failures.length === 0 ? 1 : 0} passed, ${failures.length === 0 ? 0 : 1} failed`);
  return failures.length === 0 ? 0 : 1;
}

process.exit(await main());
