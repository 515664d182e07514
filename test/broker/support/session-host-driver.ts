// Test driver for the real session host (broker/src/sessions/session-host.ps1): spawn it, speak its NDJSON
// protocol, wait for events with timeouts. Importable by any test that needs a live session host.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostEvent, HostRequest, SessionHostConfig } from '../../../broker/src/sessions/host-protocol.js';
import { sessionHostArgs, sessionHostAssemblyPath, sessionHostScriptPath } from '../../../broker/src/sessions/session-host.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PWSH_PATH = resolve(repoRoot, '.tools/pwsh/pwsh');
export const SESSION_HOST_SCRIPT = sessionHostScriptPath();
export const SESSION_HOST_ARGS = sessionHostArgs(SESSION_HOST_SCRIPT, sessionHostAssemblyPath());

/**
 * A broker policy with one listener and one profile `full` whose sessions are FullLanguage with every command,
 * run by the repository's pwsh without warm hosts. `containers` (YAML of a top-level `containers:` block) adds
 * the target `box`, which that block must define.
 */
export function fullSessionsPolicy(containers = ''): string {
  return `listeners:
  - name: main
    profiles: [full]
profiles:
  full:
    sessions:
      languageMode: FullLanguage
      commands: ['*']
      targets: [host${containers ? ', box' : ''}]
${containers}sessionHost:
  executable: ${PWSH_PATH}
  warm: 0
`;
}

/** Why live session host tests cannot run here, or null when they can; on CI a missing pwsh or build is a failure. */
export function sessionHostUnavailable(): string | null {
  let reason: string | null = null;
  if (!existsSync(PWSH_PATH)) reason = `PowerShell is missing at ${PWSH_PATH}; run node scripts/setup.mjs to fetch it`;
  else if (!existsSync(sessionHostAssemblyPath())) reason = `the session host assembly ${sessionHostAssemblyPath()} is not built; run node scripts/setup.mjs --build-only`;
  if (reason !== null && process.env.CI === 'true') throw new Error(reason);
  return reason;
}

export type EventOf<T extends HostEvent['type']> = Extract<HostEvent, { type: T }>;

export interface Invocation {
  outputs: EventOf<'output'>[];
  done: EventOf<'done'>;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

/** CliXml of an array of simple values, as `PSSerializer.Serialize(@(...))` writes it. */
type CliXmlPrimitive = string | number | boolean | null;

/** A primitive as a CliXml element, named `name` when it is a member of a dictionary entry. */
function cliXmlValue(value: CliXmlPrimitive, name?: string): string {
  const n = name === undefined ? '' : ` N="${name}"`;
  if (value === null) return `<Nil${n} />`;
  if (typeof value === 'string') return `<S${n}>${escapeXml(value)}</S>`;
  if (typeof value === 'boolean') return `<B${n}>${value}</B>`;
  return Number.isInteger(value) ? `<I32${n}>${value}</I32>` : `<Db${n}>${value}</Db>`;
}

/** The CliXml of a hashtable of primitives (what `PSSerializer.Serialize(@{...})` gives). */
export function cliXmlTable(values: Record<string, CliXmlPrimitive>): string {
  const entries = Object.entries(values)
    .map(([key, value]) => `<En>${cliXmlValue(key, 'Key')}${cliXmlValue(value, 'Value')}</En>`)
    .join('');
  return (
    '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0">' +
    '<TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>' +
    `<DCT>${entries}</DCT></Obj></Objs>`
  );
}

export function cliXmlArray(values: CliXmlPrimitive[]): string {
  const items = values.map((value) => cliXmlValue(value)).join('');
  return (
    '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0">' +
    '<TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN>' +
    `<LST>${items}</LST></Obj></Objs>`
  );
}

export class SessionHostDriver {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the host wrote to stderr: diagnostics only, never protocol. */
  stderr = '';
  /** The host's `ready`, once it came: its pid is the PowerShell process (pwsh may be started through a launcher). */
  ready: EventOf<'ready'> | undefined;
  private readonly queue: HostEvent[] = [];
  private waiters: Array<() => void> = [];
  private buffered = '';
  private invocationCounter = 0;

  private constructor(options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(PWSH_PATH, SESSION_HOST_ARGS, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, newline);
        this.buffered = this.buffered.slice(newline + 1);
        if (line.trim() === '') continue;
        this.queue.push(JSON.parse(line) as HostEvent);
      }
      this.wake();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    // A host that already exited must not turn writes into unhandled errors.
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolveExit) =>
      this.child.on('exit', (code, signal) => {
        resolveExit({ code, signal });
        this.wake();
      }),
    );
  }

  /** Spawns a host and waits for its `ready`. */
  static async start(options: { cwd?: string; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number } = {}): Promise<{ host: SessionHostDriver; ready: EventOf<'ready'> }> {
    const host = new SessionHostDriver(options);
    const ready = await host.next('ready', options.readyTimeoutMs ?? 60_000);
    host.ready = ready;
    return { host, ready };
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  send(request: HostRequest): void {
    this.sendRaw(JSON.stringify(request));
  }

  sendRaw(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** The next event in arrival order, whatever its type. */
  async nextEvent(timeoutMs = 30_000): Promise<HostEvent> {
    return this.take(() => 0, 'any event', timeoutMs);
  }

  /** The first queued or arriving event of `type`; events of other types stay queued. */
  async next<T extends HostEvent['type']>(type: T, timeoutMs = 30_000): Promise<EventOf<T>> {
    return this.take(() => this.queue.findIndex((event) => event.type === type), `a '${type}' event`, timeoutMs) as Promise<EventOf<T>>;
  }

  private async take(find: () => number, what: string, timeoutMs: number): Promise<HostEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.length > 0 ? find() : -1;
      if (index >= 0) return this.queue.splice(index, 1)[0];
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`session host exited (${this.child.exitCode ?? this.child.signalCode}) while waiting for ${what}; stderr: ${this.stderr}`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; queued: ${JSON.stringify(this.queue.map((e) => e.type))}`);
      await new Promise<void>((wakeUp) => {
        const timer = setTimeout(wakeUp, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          wakeUp();
        });
      });
    }
  }

  /** Sends `open`; resolves with `opened` or `openFailed`. */
  async open(config: SessionHostConfig, timeoutMs = 30_000): Promise<EventOf<'opened'> | EventOf<'openFailed'>> {
    this.send({ type: 'open', config });
    const event = await this.take(() => this.queue.findIndex((e) => e.type === 'opened' || e.type === 'openFailed' || e.type === 'protocolError'), "'opened' or 'openFailed'", timeoutMs);
    if (event.type === 'protocolError') throw new Error(`open was refused: ${event.message}`);
    return event as EventOf<'opened'> | EventOf<'openFailed'>;
  }

  /** Sends `invoke` without waiting; returns its id. */
  startInvoke(script: string, options: { arguments?: string | null; input?: string | null; using?: string | null; depth?: number; id?: string } = {}): string {
    const id = options.id ?? `i${++this.invocationCounter}`;
    this.send({ type: 'invoke', id, script, arguments: options.arguments ?? null, input: options.input ?? null, using: options.using ?? null, depth: options.depth ?? 1 });
    return id;
  }

  /** Collects the outputs of invocation `id` up to its `done`. */
  async finish(id: string, timeoutMs = 30_000): Promise<Invocation> {
    const outputs: EventOf<'output'>[] = [];
    for (;;) {
      const event = await this.take(() => this.queue.findIndex((e) => (e.type === 'output' || e.type === 'done' || e.type === 'protocolError') && 'id' in e && e.id === id), `the end of invocation ${id}`, timeoutMs);
      if (event.type === 'protocolError') throw new Error(`invocation ${id} was refused: ${event.message}`);
      if (event.type === 'done') return { outputs, done: event };
      outputs.push(event as EventOf<'output'>);
    }
  }

  async invoke(script: string, options: { arguments?: string | null; input?: string | null; using?: string | null; depth?: number; timeoutMs?: number } = {}): Promise<Invocation> {
    return this.finish(this.startInvoke(script, options), options.timeoutMs);
  }

  /** Sends `close` and waits for the exit. */
  async close(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.send({ type: 'close' });
    return this.waitForExit(timeoutMs);
  }

  async waitForExit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`session host did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Last resort for cleanup after a failed test. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
