/**
 * One session host process as the broker sees it: started through the platform, spoken to in NDJSON
 * (host-protocol.ts), and distrusted. Whatever the host writes is parsed defensively: a line that is not
 * JSON, an event of an unknown type or for another invocation is logged and dropped, and a line longer than
 * the limit kills the host, since the broker would otherwise have to buffer without bound.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SessionLanguageMode, SessionStream } from '../../../typings/session.js';
import { BrokerError, HostOperationFailedError } from '../errors.js';
import type { HostPlatformSessions, ResolvedContainer } from '../platform/types.js';
import type { HostEvent, HostRequest, SessionHostConfig } from './host-protocol.js';

/** Under tsx this is the source file; in the bundle, dist/broker/session-host.ps1 (the build copies it there). */
export function sessionHostScriptPath(): string {
  return fileURLToPath(new URL('./session-host.ps1', import.meta.url));
}

/**
 * The host's compiled core (broker/src/sessions/host), which the build puts beside the bundle: under tsx this
 * module is the source file and the assembly is still the built one in dist/broker.
 */
export function sessionHostAssemblyPath(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(fromSource ? '../../../dist/broker/WinsHost.SessionHost.dll' : './WinsHost.SessionHost.dll', import.meta.url));
}

/** `-ExecutionPolicy Bypass` matters on Windows, where the machine policy may refuse unsigned scripts. */
export function sessionHostArgs(script: string, assembly: string): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', script, '-AssemblyPath', assembly];
}

/**
 * What a session host's runtime is started with unless the policy's `sessionHost.environment` says otherwise.
 * Quick JIT off: code without precompiled native code (PowerShell's own assemblies, as the PowerShell tool
 * package ships them) is compiled fully optimized at its first call instead of at tier 0. A session host is
 * started ahead of use (warm) and then serves many small invocations, so its steady state counts, not its
 * start: with quick JIT, PowerShell's pipeline code stayed at tier 0 for thousands of invocations and `{ 1 }`
 * took 0.22 ms in the host; without, 0.09 ms from the first call. Tiered compilation itself stays on, so hot
 * precompiled framework code is still recompiled with profile data (turning it off altogether made heavier
 * commands 10–15% slower for good). The price, about 0.5 s more start-up, is paid while warming. Windows
 * PowerShell 5.1 (.NET Framework) has no tiered compilation and ignores the variable.
 */
export const SESSION_HOST_RUNTIME_ENVIRONMENT: Readonly<Record<string, string>> = { DOTNET_TC_QuickJit: '0' };

export type ReadyEvent = Extract<HostEvent, { type: 'ready' }>;
export type DoneEvent = Extract<HostEvent, { type: 'done' }>;
export type OutputEvent = Extract<HostEvent, { type: 'output' }>;

/** Where an invocation's records go, and how congested the caller is. */
export interface InvocationSink {
  output(event: OutputEvent): void;
  congested(): boolean;
  drained(): Promise<void>;
}

export interface SessionHostStart {
  platform: HostPlatformSessions;
  executable: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  container?: ResolvedContainer;
  /** A line from the host longer than this kills it. */
  maxLineBytes: number;
  /** How long PowerShell may take to start and compile the host; default 30 s. */
  readyTimeoutMs?: number;
  log(message: string): void;
}

const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** Enough stderr to explain a failed start (a .NET exception, a missing assembly). */
const STDERR_TAIL_BYTES = 4096;
/** After the host's exit, how long its pipes may stay open (held by something it started) before it counts as gone. */
const EXIT_SETTLE_MS = 1000;
/** The longest host text (a message) passed on to a caller or the log. */
const MAX_MESSAGE_CHARS = 2000;

const STREAMS = new Set<SessionStream>(['output', 'error', 'warning', 'verbose', 'debug', 'information', 'progress']);
const LANGUAGE_MODES = new Set<SessionLanguageMode>(['FullLanguage', 'ConstrainedLanguage', 'NoLanguage']);
const INVOCATION_STATES = new Set(['Completed', 'Failed', 'Stopped']);

const isString = (value: unknown): value is string => typeof value === 'string';
const nullableString = (value: unknown): value is string | null => value === null || typeof value === 'string';

/** A host event with the fields the broker relies on, or undefined: a host is never trusted to be well-formed. */
export function parseHostEvent(line: string): HostEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const event = value as Record<string, unknown>;
  switch (event.type) {
    case 'ready':
      return isString(event.psVersion) && (event.edition === 'Core' || event.edition === 'Desktop') && Number.isInteger(event.pid) ? (event as HostEvent) : undefined;
    case 'opened':
      return LANGUAGE_MODES.has(event.languageMode as SessionLanguageMode) && nullableString(event.location) ? (event as HostEvent) : undefined;
    case 'openFailed':
      return isString(event.reason) && isString(event.message) ? (event as HostEvent) : undefined;
    case 'output':
      return isString(event.id) && STREAMS.has(event.stream as SessionStream) && isString(event.clixml) ? (event as HostEvent) : undefined;
    case 'done':
      return isString(event.id) && INVOCATION_STATES.has(event.state as string) && nullableString(event.error) && nullableString(event.location) ? (event as HostEvent) : undefined;
    case 'protocolError':
      return isString(event.message) && (event.id === undefined || isString(event.id)) ? (event as HostEvent) : undefined;
    default:
      return undefined;
  }
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

interface EventWaiter {
  types: ReadonlySet<HostEvent['type']>;
  resolve(event: HostEvent): void;
  reject(error: Error): void;
}

interface RunningInvocation {
  id: string;
  sink: InvocationSink;
  resolve(done: DoneEvent): void;
  reject(error: Error): void;
}

export class SessionHost {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private stderrTail = '';
  private waiter: EventWaiter | undefined;
  private invocation: RunningInvocation | undefined;
  private pausedForCaller = false;
  private closing = false;
  private exitListeners: ((error: BrokerError) => void)[] = [];
  /** Set once the process is gone, with the error every pending call gets. */
  private exitError: BrokerError | undefined;
  /** Why the broker killed the host, when it did (a protocol violation): it names the exit. */
  private killedBecause: { reason: string; message: string } | undefined;
  private readonly exitedPromise: Promise<void>;
  private markExited!: () => void;
  ready: ReadyEvent | undefined;

  private constructor(
    readonly child: ChildProcess,
    private readonly options: SessionHostStart,
  ) {
    this.exitedPromise = new Promise((resolve) => (this.markExited = resolve));
    child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    // A host that died leaves a broken pipe; the exit says what happened.
    child.stdin!.on('error', () => {});
    child.once('error', (error: NodeJS.ErrnoException) => {
      const missing = error.code === 'ENOENT';
      // The spawned file is PowerShell itself, or a tool that enters the container first (nsenter).
      const missingReason = child.spawnfile === options.executable ? 'PowerShellNotFound' : 'ToolMissing';
      this.ended(
        new HostOperationFailedError(missing ? `the session host cannot start: ${child.spawnfile} does not exist` : `the session host cannot start: ${error.message}`, {
          reason: missing ? missingReason : 'SessionHostStartFailed',
          cause: error,
        }),
      );
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      if (this.killedBecause) return this.ended(new HostOperationFailedError(this.killedBecause.message, { reason: this.killedBecause.reason }));
      if (!this.ready) return this.ended(new HostOperationFailedError(`the session host ended before it was ready (${how})${this.stderrSuffix()}`, { reason: 'SessionHostStartFailed' }));
      this.ended(new HostOperationFailedError(`the session host ended (${how})${this.stderrSuffix()}`, { reason: 'SessionHostExited' }));
    };
    // 'close' comes after the last output was read, so a `done` written just before exiting still counts;
    // but a program the session left running may hold the pipes open, so the exit alone ends it soon after.
    child.once('close', finish);
    child.once('exit', (code, signal) => setTimeout(() => finish(code, signal), EXIT_SETTLE_MS).unref());
  }

  /** Starts a host and waits for its `ready`; on any failure the process is gone when this rejects. */
  static async start(options: SessionHostStart): Promise<SessionHost> {
    let child: ChildProcess;
    try {
      child = options.platform.spawnHost({ executable: options.executable, args: options.args, env: options.env, cwd: options.cwd, container: options.container });
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw new HostOperationFailedError(`the session host cannot start: ${(error as Error).message}`, { reason: 'SessionHostStartFailed', cause: error });
    }
    const host = new SessionHost(child, options);
    const timeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    try {
      host.ready = (await host.expect(['ready'], timeoutMs, () => new HostOperationFailedError(`the session host was not ready after ${timeoutMs / 1000} s${host.stderrSuffix()}`, { reason: 'SessionHostStartFailed' }))) as ReadyEvent;
      return host;
    } catch (error) {
      host.kill();
      await host.exited;
      throw error;
    }
  }

  /**
   * The PowerShell process itself, as the host reports it: a launcher such as the `dotnet tool` shim runs
   * PowerShell as its child, so the spawned process is not always the one that runs the session.
   */
  get pid(): number {
    return this.ready?.pid ?? this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.exitError === undefined;
  }

  get busy(): boolean {
    return this.invocation !== undefined;
  }

  /** Resolves once the process is gone. */
  get exited(): Promise<void> {
    return this.exitedPromise;
  }

  /** Called once, when the host is gone, with the error pending calls got. */
  onExit(listener: (error: BrokerError) => void): () => void {
    if (this.exitError) {
      listener(this.exitError);
      return () => {};
    }
    this.exitListeners.push(listener);
    return () => (this.exitListeners = this.exitListeners.filter((l) => l !== listener));
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.trim();
    return tail ? `; its stderr ends with: ${clip(tail.slice(-1000))}` : '';
  }

  /** The host's last stderr output, for the broker's log. */
  get stderr(): string {
    return this.stderrTail;
  }

  private send(request: HostRequest): void {
    if (!this.alive) throw this.exitError!;
    if (this.closing) throw new HostOperationFailedError('the session is closing', { reason: 'SessionClosing' });
    this.child.stdin!.write(`${JSON.stringify(request)}\n`);
  }

  private expect(types: HostEvent['type'][], timeoutMs: number, onTimeout: () => BrokerError): Promise<HostEvent> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(onTimeout());
      }, timeoutMs);
      this.waiter = {
        types: new Set(types),
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Builds the session's runspace; `openFailed` becomes HostOperationFailed with the host's reason. */
  async open(config: SessionHostConfig, timeoutMs: number): Promise<{ languageMode: SessionLanguageMode; location: string | null }> {
    const answer = this.expect(['opened', 'openFailed'], timeoutMs, () => new HostOperationFailedError(`the session host did not open the session within ${timeoutMs / 1000} s`, { reason: 'SessionOpenTimedOut' }));
    this.send({ type: 'open', config });
    const event = await answer;
    if (event.type === 'openFailed') {
      const reason = /^[A-Za-z]{1,64}$/.test(event.reason) ? event.reason : 'SessionOpenFailed';
      throw new BrokerError('HostOperationFailed', clip(event.message), { reason });
    }
    const opened = event as Extract<HostEvent, { type: 'opened' }>;
    return { languageMode: opened.languageMode, location: opened.location };
  }

  /** Runs one invocation; records go to the sink as they come, the promise resolves with `done`. */
  invoke(request: Omit<Extract<HostRequest, { type: 'invoke' }>, 'type'>, sink: InvocationSink): Promise<DoneEvent> {
    if (this.exitError) return Promise.reject(this.exitError);
    if (this.invocation) return Promise.reject(new BrokerError('Conflict', 'the session is running another invocation', { reason: 'SessionBusy' }));
    return new Promise((resolve, reject) => {
      this.send({ type: 'invoke', ...request });
      this.invocation = { id: request.id, sink, resolve, reject };
    });
  }

  /** Asks the host to stop the running pipeline; its `done` (state Stopped) ends the invocation. */
  stop(id: string): void {
    if (this.alive && !this.closing) this.send({ type: 'stop', id });
  }

  /** Asks the host to dispose the runspace and exit; kills it when it has not after the grace period. */
  async close(graceMs: number): Promise<void> {
    if (!this.alive) return;
    if (!this.closing) {
      this.send({ type: 'close' });
      this.closing = true;
      this.child.stdin!.end();
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const reported = this.ready?.pid;
    if (reported !== undefined && reported !== this.child.pid) {
      // Behind a launcher, ending the launcher alone would leave PowerShell running. The launcher lives as
      // long as its PowerShell child, so while it runs the pid is very unlikely to name another process.
      try {
        process.kill(reported, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.child.kill('SIGKILL');
  }

  private violate(reason: string, message: string): void {
    this.options.log(`session host ${this.pid}: ${message}; killing it`);
    this.killedBecause ??= { reason, message };
    this.partial = [];
    this.partialBytes = 0;
    this.child.stdout!.removeAllListeners('data');
    this.child.stdout!.resume();
    this.kill();
  }

  private onStdout(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      const piece = chunk.subarray(start, end);
      if (this.partialBytes + piece.length > this.options.maxLineBytes) {
        this.violate('SessionHostProtocolViolation', `the session host wrote a line longer than ${this.options.maxLineBytes} bytes`);
        return;
      }
      if (newline < 0) {
        if (piece.length) {
          this.partial.push(piece);
          this.partialBytes += piece.length;
        }
        break;
      }
      const line = this.partialBytes ? Buffer.concat([...this.partial, piece]) : piece;
      this.partial = [];
      this.partialBytes = 0;
      start = newline + 1;
      const text = line.toString('utf8').replace(/\r$/, '');
      if (text.trim()) this.onLine(text);
      if (!this.alive && this.killedBecause) return;
    }
    const invocation = this.invocation;
    if (invocation && !this.pausedForCaller && invocation.sink.congested()) {
      // The host's writer then blocks, and so does its pipeline: the caller's pace reaches the producer.
      this.pausedForCaller = true;
      this.child.stdout!.pause();
      void invocation.sink.drained().then(() => {
        this.pausedForCaller = false;
        if (this.alive) this.child.stdout!.resume();
      });
    }
  }

  private onLine(text: string): void {
    const event = parseHostEvent(text);
    if (!event) {
      this.options.log(`session host ${this.pid}: ignored a line that is not a protocol event: ${clip(JSON.stringify(text.slice(0, 200)))}`);
      return;
    }
    const waiter = this.waiter;
    if (waiter && waiter.types.has(event.type)) {
      this.waiter = undefined;
      waiter.resolve(event);
      return;
    }
    const invocation = this.invocation;
    switch (event.type) {
      case 'output':
        if (invocation && event.id === invocation.id) invocation.sink.output(event);
        return;
      case 'done':
        if (invocation && event.id === invocation.id) {
          this.invocation = undefined;
          invocation.resolve(event);
        }
        return;
      case 'protocolError':
        if (invocation && event.id === invocation.id) {
          this.invocation = undefined;
          invocation.reject(new HostOperationFailedError(`the session host refused the invocation: ${clip(event.message)}`, { reason: 'SessionHostProtocolError' }));
          return;
        }
        this.options.log(`session host ${this.pid} reported a protocol error: ${clip(event.message)}`);
        return;
      default:
        this.options.log(`session host ${this.pid}: ignored an unexpected '${event.type}' event`);
    }
  }

  private ended(error: BrokerError): void {
    if (this.exitError) return;
    this.exitError = error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
    const invocation = this.invocation;
    this.invocation = undefined;
    invocation?.reject(error);
    for (const listener of this.exitListeners.splice(0)) listener(error);
    this.markExited();
  }
}
