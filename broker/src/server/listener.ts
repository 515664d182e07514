import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { applyPipeDacl, pipeSddl, resolveAccessSids, type Pause, type PipeSecurityCalls } from '../platform/windows/pipe-security.js';
import type { Listener } from '../policy/schema.js';
import { writeStateFile } from '../state-file.js';

export class ListenerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenerError';
  }
}

export const isWindows = process.platform === 'win32';

export function defaultListenerPath(name: string): string {
  return isWindows ? `\\\\.\\pipe\\${name}` : `/run/winshost/${name}.sock`;
}

/** The sockets this broker created, by path, so a later run can tell its own stale socket from a stranger's. */
interface SocketRecord {
  dev: number;
  ino: number;
  pid: number;
}

function recordsFile(stateDir: string): string {
  return join(stateDir, 'sockets.json');
}

function readRecords(stateDir: string): Record<string, SocketRecord> {
  try {
    return JSON.parse(readFileSync(recordsFile(stateDir), 'utf8')) as Record<string, SocketRecord>;
  } catch {
    return {};
  }
}

function writeRecords(stateDir: string, records: Record<string, SocketRecord>): void {
  writeStateFile(recordsFile(stateDir), records);
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Makes the path free for our socket. A live socket, a file that is not a socket, or a dead socket this
 * broker did not create are all refused: removing them could take over another program's endpoint.
 */
async function claimSocketPath(path: string, stateDir: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    return;
  }
  if (!stat.isSocket()) throw new ListenerError(`${path} exists and is not a socket; refusing to replace it`);
  if (await isListening(path)) throw new ListenerError(`${path} is in use by a running process (another broker?)`);
  const record = readRecords(stateDir)[path];
  if (!record || record.ino !== stat.ino || record.dev !== stat.dev) {
    throw new ListenerError(`${path} is a stale socket this broker did not create (no record in ${recordsFile(stateDir)}); remove it by hand if it is safe`);
  }
  unlinkSync(path);
}

function resolveAccount(value: number | string | undefined, database: '/etc/passwd' | '/etc/group'): number | undefined {
  if (value === undefined || typeof value === 'number') return value;
  const line = readFileSync(database, 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[0] === value);
  if (!line) throw new ListenerError(`${database === '/etc/passwd' ? 'user' : 'group'} '${value}' does not exist on this host`);
  return Number(line.split(':')[2]);
}

/** What the Windows pipe path needs from the outside; tests replace it to run that path on Linux. */
export interface WindowsPipeDeps {
  /** Whether something already answers at the pipe name. */
  exists(path: string): boolean;
  /** The advapi32 calls (platform/windows/native.ts), loaded on first use. */
  security(): Promise<PipeSecurityCalls>;
  /** Opens the broker's own client connection (the sentinel). */
  connect(path: string): Socket;
  /** Yields to the event loop before a by-name call that found every pipe instance busy is retried. */
  pause: Pause;
  /** How long the sentinel may take to come through; generous, it only bounds a start that cannot succeed. */
  sentinelTimeoutMs: number;
}

export interface ListenerOptions {
  /** Defaults to the host's; 'win32' on Linux runs the pipe path over a Unix socket, for tests. */
  platform?: 'win32' | 'posix';
  pipe?: Partial<WindowsPipeDeps>;
}

const defaultPipeDeps: WindowsPipeDeps = {
  exists: (path) => existsSync(path),
  security: async () => (await import('../platform/windows/native.js')).pipeSecurityCalls(),
  connect: (path) => connect(path),
  pause: () => new Promise((resolve) => setTimeout(resolve, 20)),
  sentinelTimeoutMs: 30_000,
};

function listen(server: Server, path: string, describe: (error: NodeJS.ErrnoException) => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(new ListenerError(describe(error), { cause: error }));
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Listens on the listener's socket (or pipe), applies its mode and owner (or DACL) and records it as ours. */
export async function openListener(server: Server, listener: Listener, path: string, stateDir: string, options: ListenerOptions = {}): Promise<void> {
  if ((options.platform ?? (isWindows ? 'win32' : 'posix')) === 'win32') {
    await openPipe(server, listener, path, { ...defaultPipeDeps, ...options.pipe });
    return;
  }
  await claimSocketPath(path, stateDir);
  await listen(server, path, (error) => `cannot listen on ${path}: ${error.message}`);
  chmodSync(path, parseInt(listener.mode ?? '0660', 8));
  const uid = resolveAccount(listener.owner, '/etc/passwd');
  const gid = resolveAccount(listener.group, '/etc/group');
  if (uid !== undefined || gid !== undefined) chownSync(path, uid ?? -1, gid ?? -1);
  const { dev, ino } = lstatSync(path);
  writeRecords(stateDir, { ...readRecords(stateDir), [path]: { dev, ino, pid: process.pid } });
}

/**
 * A named pipe with the DACL from `listeners[].access`. Node creates the pipe itself (libuv, default security,
 * FILE_FLAG_FIRST_PIPE_INSTANCE) and cannot listen on a handle made beforehand on Windows, so the DACL is set by
 * name right after listen and read back. Until then the pipe has its default DACL, and each by-name call opens
 * a client end of the pipe itself; every connection accepted in that time is dropped unread and unanswered by
 * PipeGate, and only then does the listener's own handler get connections.
 */
async function openPipe(server: Server, listener: Listener, path: string, deps: WindowsPipeDeps): Promise<void> {
  if (deps.exists(path)) throw new ListenerError(`pipe ${path} already exists; refusing to start (another broker, or a squatter)`);
  let calls: PipeSecurityCalls;
  let sddl: string;
  try {
    calls = await deps.security();
    // Names are resolved before the pipe exists, so an unknown account stops the start with nothing to undo.
    sddl = pipeSddl(resolveAccessSids(calls, listener.access ?? []));
  } catch (error) {
    throw new ListenerError(`listener ${listener.name}: ${(error as Error).message}`, { cause: error });
  }
  const gate = new PipeGate(server);
  try {
    // libuv creates the first instance with FILE_FLAG_FIRST_PIPE_INSTANCE: a pipe made after the check above fails here.
    await listen(server, path, (error) =>
      error.code === 'EADDRINUSE' ? `pipe ${path} already exists; refusing to start (another broker, or a squatter)` : `cannot listen on ${path}: ${error.message}`,
    );
    await applyPipeDacl(calls, path, sddl, deps.pause);
    await gate.openAfterSentinel(() => deps.connect(path), deps.sentinelTimeoutMs);
  } catch (error) {
    gate.abandon();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (error instanceof ListenerError) throw error;
    throw new ListenerError(`listener ${listener.name}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Holds the server's connection handlers back until the pipe's DACL is known to be in place. Connections reach
 * the server in the order their clients connected, so once the DACL is set and read back the broker connects
 * to its own pipe and writes a random nonce: every connection that arrives before that one (the by-name opens
 * of SetNamedSecurityInfoW and GetNamedSecurityInfoW, and anything that slipped in under the default DACL) is
 * dropped. The few made after the sentinel but before its nonce is read are dropped too: refusing is safe.
 */
export class PipeGate {
  readonly #server: Server;
  readonly #handlers: ((...args: unknown[]) => void)[];
  readonly #held = new Set<Socket>();
  readonly #nonce = randomBytes(32);
  #onSentinel: (() => void) | undefined;
  #dropped = 0;

  constructor(server: Server) {
    this.#server = server;
    this.#handlers = server.listeners('connection') as ((...args: unknown[]) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', this.#onConnection);
  }

  /** Connections dropped so far, the sentinel not counted. */
  get dropped(): number {
    return this.#dropped;
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#held.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.#held.delete(socket));
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const length = Math.min(received.length, this.#nonce.length);
      if (!received.subarray(0, length).equals(this.#nonce.subarray(0, length))) {
        this.#drop(socket);
      } else if (received.length === this.#nonce.length && this.#onSentinel) {
        this.#held.delete(socket);
        socket.destroy();
        this.#onSentinel();
      }
    });
  };

  #drop(socket: Socket): void {
    if (this.#held.delete(socket)) this.#dropped++;
    socket.destroy();
  }

  /** Connects the sentinel, waits for it, drops everything held and hands new connections to the server's handlers. */
  openAfterSentinel(connect: () => Socket, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const client = connect();
      const timer = setTimeout(() => finish(new ListenerError(`the broker's own check connection did not come through the pipe within ${timeoutMs} ms`)), timeoutMs);
      let done = false;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#onSentinel = undefined;
        client.destroy();
        if (error) return reject(error);
        for (const socket of [...this.#held]) this.#drop(socket);
        this.#server.off('connection', this.#onConnection);
        for (const handler of this.#handlers) this.#server.on('connection', handler);
        resolve();
      };
      this.#onSentinel = () => finish();
      client.once('error', (error) => finish(new ListenerError(`the broker cannot connect to its own pipe once the DACL is set: ${error.message}`, { cause: error })));
      client.write(this.#nonce);
    });
  }

  /** Drops whatever is held and leaves the server's handlers detached (the server is being closed). */
  abandon(): void {
    for (const socket of [...this.#held]) this.#drop(socket);
  }
}

/** Removes our socket and its record at shutdown; a path that is no longer our socket is left alone. */
export function releaseListenerPath(path: string, stateDir: string): void {
  if (isWindows) return;
  const records = readRecords(stateDir);
  const record = records[path];
  try {
    const stat = lstatSync(path);
    if (record && stat.ino === record.ino && stat.dev === record.dev) unlinkSync(path);
  } catch {
    // already gone
  }
  delete records[path];
  writeRecords(stateDir, records);
}
