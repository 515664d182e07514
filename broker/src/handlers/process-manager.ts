import { mkdirSync, readFileSync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { NotificationType } from 'vscode-jsonrpc';
import {
  ProcessExitedNotification,
  ProcessOutputNotification,
  type ExposedPort,
  type HostProcessInfo,
} from '../../../typings/index.js';
import { BrokerError } from '../errors.js';
import { writeStateFile } from '../state-file.js';
import type { HostPlatformProcesses, LaunchedProcess, ProcessLaunch } from '../platform/types.js';

/** Who started a process: the connection while it lasts, and the identity that may find it again. */
export interface ProcessOwner {
  connectionId: number | undefined;
  uid: number | undefined;
  profile: string;
  listener: string;
}

/** A connection that takes a process's output as notifications. */
export interface OutputSubscriber {
  connectionId: number;
  notify<P>(type: NotificationType<P>, params: P): void;
  congested(): boolean;
  drained(): Promise<void>;
}

type StreamName = 'stdout' | 'stderr';

/** Output nobody is streaming yet is kept up to this many bytes per stream; past it the child is paused. */
const BUFFERED_OUTPUT_BYTES = 1024 * 1024;
/** How often an adopted process (not our child) is checked for having exited. */
const ADOPTED_POLL_MS = 500;
/** Exited processes kept for wait/receive after their owner is gone. */
const EXITED_KEPT = 200;

interface PortGrant {
  protocol: 'tcp' | 'udp';
  port: number;
}

/** One entry of processes.json. */
interface RegistryEntry {
  pid: number;
  instance: string;
  path: string;
  args: string[];
  cwd: string;
  detached: boolean;
  exposes: ExposedPort[];
  portOwner: string;
  rule: string;
  startTime: string;
  owner: { uid: number | undefined; profile: string; listener: string };
  outputFiles?: { stdout: string; stderr: string };
  /** Linux: the cgroup holding the whole tree, so a restarted broker ends descendants that left the group. */
  cgroup?: string;
}

class ManagedProcess {
  readonly buffers: Record<StreamName, { chunks: Buffer[]; bytes: number }> = { stdout: { chunks: [], bytes: 0 }, stderr: { chunks: [], bytes: 0 } };
  readonly fileOffsets: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  /** Pipes paused because their buffer is full, resumed once it is taken. */
  readonly paused: Partial<Record<StreamName, Readable>> = {};
  subscriber: OutputSubscriber | undefined;
  readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(
    readonly info: HostProcessInfo,
    readonly owner: ProcessOwner,
    readonly entry: RegistryEntry,
    readonly launched: LaunchedProcess | undefined,
  ) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  get running(): boolean {
    return this.info.State === 'Running';
  }

  finish(exitCode: number | null, signal: string | null): void {
    if (!this.running) return;
    Object.assign(this.info, { State: 'Exited', ExitCode: exitCode, Signal: signal, ExitTime: new Date().toISOString() });
    this.markExited();
  }
}

/**
 * Every process the broker started, tied to its caller: piped output buffered (bounded) or streamed with
 * back-pressure to one subscriber, whole-tree stops (a cgroup per process on Linux where the host allows
 * it, else its process group), and a registry in the state directory (temp file,
 * fsync, rename) from which a restarted broker stops the children of its previous run and re-adopts the
 * detached ones.
 */
export class ProcessManager {
  private readonly processes = new Map<number, ManagedProcess>();
  /** Starts in flight per connection, and connections that closed while one was: see `start`. */
  private readonly startingByConnection = new Map<number, number>();
  private readonly abandonedConnections = new Set<number>();
  private readonly registryPath: string;
  private readonly outputDir: string;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly platform: HostPlatformProcesses,
    stateDir: string,
    private readonly log: (message: string) => void,
  ) {
    this.registryPath = join(stateDir, 'processes.json');
    this.outputDir = join(stateDir, 'output');
    mkdirSync(this.outputDir, { recursive: true, mode: 0o700 });
  }

  /** Reconciles with the previous run: what was tied to a caller is stopped, detached processes adopted. */
  async restore(): Promise<{ stopped: number; adopted: number }> {
    let entries: RegistryEntry[] = [];
    try {
      entries = (JSON.parse(readFileSync(this.registryPath, 'utf8')) as { processes: RegistryEntry[] }).processes ?? [];
    } catch {
      // no registry yet, or unreadable: nothing to reconcile
    }
    let stopped = 0;
    let adopted = 0;
    const containment = this.platform.containment?.();
    if (containment) this.log(`started processes are held together by ${containment}`);
    for (const entry of entries) {
      const alive = (await this.platform.instanceOf(entry.pid)) === entry.instance;
      if (alive && entry.detached) {
        const managed = new ManagedProcess(this.infoOf(entry), { connectionId: undefined, ...entry.owner }, entry, undefined);
        this.processes.set(entry.pid, managed);
        adopted++;
        continue;
      }
      if (alive) {
        await this.platform.stopOrphanTree(entry.pid, entry.instance, 2000, entry.cgroup);
        stopped++;
      } else if (entry.cgroup) {
        // Its first process ended while no broker ran; what it left in its cgroup ends too.
        await this.platform.stopOrphanTree(entry.pid, entry.instance, 0, entry.cgroup);
      }
      await this.closePorts(entry);
    }
    this.saveRegistry();
    this.ensurePolling();
    return { stopped, adopted };
  }

  private infoOf(entry: RegistryEntry): HostProcessInfo {
    return {
      Id: entry.pid,
      Path: entry.path,
      Arguments: entry.args,
      WorkingDirectory: entry.cwd,
      State: 'Running',
      ExitCode: null,
      Signal: null,
      Detached: entry.detached,
      Exposes: entry.exposes,
      StartTime: entry.startTime,
      ExitTime: null,
      Rule: entry.rule,
    };
  }

  runningCount(profile: string, listener: string): number {
    return [...this.processes.values()].filter((p) => p.running && p.owner.profile === profile && p.owner.listener === listener).length;
  }

  async start(
    launch: Omit<ProcessLaunch, 'outputFiles'>,
    details: { exposes: ExposedPort[]; rule: string; owner: ProcessOwner; subscriber?: OutputSubscriber },
  ): Promise<HostProcessInfo> {
    const portOwner = `${details.owner.profile}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const outputFiles = launch.detach ? { stdout: join(this.outputDir, `${portOwner}.out`), stderr: join(this.outputDir, `${portOwner}.err`) } : undefined;
    const connectionId = details.owner.connectionId;
    if (connectionId !== undefined) this.startingByConnection.set(connectionId, (this.startingByConnection.get(connectionId) ?? 0) + 1);
    try {
      return await this.launchAndRegister(launch, outputFiles, portOwner, details);
    } finally {
      if (connectionId !== undefined) {
        const left = (this.startingByConnection.get(connectionId) ?? 1) - 1;
        if (left > 0) this.startingByConnection.set(connectionId, left);
        else this.startingByConnection.delete(connectionId);
        // The caller went away while the program was starting: what connectionClosed would have done.
        if (this.abandonedConnections.has(connectionId)) {
          if (left <= 0) this.abandonedConnections.delete(connectionId);
          await this.connectionClosed(connectionId);
        }
      }
    }
  }

  private async launchAndRegister(
    launch: Omit<ProcessLaunch, 'outputFiles'>,
    outputFiles: ProcessLaunch['outputFiles'],
    portOwner: string,
    details: { exposes: ExposedPort[]; rule: string; owner: ProcessOwner; subscriber?: OutputSubscriber },
  ): Promise<HostProcessInfo> {
    const ports = details.exposes.map(parsePort);
    const opened: PortGrant[] = [];
    // Events can come before launch resolves; they wait here until the process is registered.
    let managed: ManagedProcess | undefined;
    const early: (() => void)[] = [];
    const whenRegistered = (action: (m: ManagedProcess) => void) => (managed ? action(managed) : early.push(() => action(managed!)));
    let launched: LaunchedProcess;
    try {
      for (const port of ports) {
        await this.platform.exposePort(port, portOwner);
        opened.push(port);
      }
      launched = await this.platform.launch(
        { ...launch, outputFiles },
        {
          output: (stream, chunk, source) => whenRegistered((m) => this.relay(m, stream, chunk, source)),
          close: (code, signal) => whenRegistered((m) => void this.onExit(m, code, signal)),
        },
      );
    } catch (error) {
      for (const port of opened) await this.platform.closePort(port, portOwner).catch(() => {});
      throw error;
    }
    const entry: RegistryEntry = {
      pid: launched.pid,
      instance: launched.instance,
      path: launch.path,
      args: launch.args,
      cwd: launch.cwd,
      detached: launch.detach,
      exposes: details.exposes,
      portOwner,
      rule: details.rule,
      startTime: new Date().toISOString(),
      owner: { uid: details.owner.uid, profile: details.owner.profile, listener: details.owner.listener },
      outputFiles,
      ...(launched.cgroup ? { cgroup: launched.cgroup } : {}),
    };
    managed = new ManagedProcess(this.infoOf(entry), details.owner, entry, launched);
    this.processes.set(launched.pid, managed);
    this.saveRegistry();
    if (details.subscriber) managed.subscriber = details.subscriber;
    launched.child.stdin?.on('error', () => {});
    for (const action of early.splice(0)) action();
    if (launch.detach) launched.release();
    return managed.info;
  }

  /** Relays a chunk: to the subscriber with back-pressure, else into a bounded buffer. */
  private relay(managed: ManagedProcess, stream: StreamName, chunk: Buffer, readable: Readable): void {
    const subscriber = managed.subscriber;
    if (subscriber) {
      this.send(managed, subscriber, stream, chunk);
      if (subscriber.congested()) {
        readable.pause();
        void subscriber.drained().then(() => readable.resume());
      }
      return;
    }
    const buffer = managed.buffers[stream];
    buffer.chunks.push(chunk);
    buffer.bytes += chunk.length;
    if (buffer.bytes >= BUFFERED_OUTPUT_BYTES) {
      readable.pause();
      managed.paused[stream] = readable;
    }
  }

  private send(managed: ManagedProcess, subscriber: OutputSubscriber, stream: StreamName, chunk: Buffer): void {
    subscriber.notify(ProcessOutputNotification.type, { processId: managed.info.Id, stream, data: chunk.toString('base64') });
  }

  private resumePaused(managed: ManagedProcess): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = managed.paused[stream];
      if (readable && managed.buffers[stream].bytes < BUFFERED_OUTPUT_BYTES) {
        delete managed.paused[stream];
        readable.resume();
      }
    }
  }

  private async onExit(managed: ManagedProcess, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    managed.finish(code, signal);
    managed.subscriber?.notify(ProcessExitedNotification.type, { processId: managed.info.Id, exitCode: code, signal });
    await this.closePorts(managed.entry);
    this.saveRegistry();
    this.trimExited();
  }

  private async closePorts(entry: RegistryEntry): Promise<void> {
    for (const port of entry.exposes.map(parsePort)) {
      await this.platform.closePort(port, entry.portOwner).catch((error) => this.log(`closing ${port.protocol}/${port.port} of ${entry.pid} failed: ${(error as Error).message}`));
    }
  }

  /** Processes this caller may see: its own connection's, and detached ones of the same identity. */
  visible(owner: ProcessOwner): HostProcessInfo[] {
    return [...this.processes.values()].filter((p) => this.owns(owner, p)).map((p) => p.info);
  }

  private owns(owner: ProcessOwner, managed: ManagedProcess): boolean {
    if (managed.owner.connectionId !== undefined && managed.owner.connectionId === owner.connectionId) return true;
    return managed.info.Detached && managed.owner.uid === owner.uid && managed.owner.profile === owner.profile && managed.owner.listener === owner.listener;
  }

  /** A process the caller may act on; others are reported as not found, so ids of others leak nothing. */
  get(owner: ProcessOwner, pid: number): ManagedProcess {
    const managed = this.processes.get(pid);
    if (!managed || !this.owns(owner, managed)) throw new BrokerError('NotFound', `no process ${pid} of yours`, { reason: 'NotFound', processId: pid });
    return managed;
  }

  /** Streams what is buffered and everything after it to the subscriber until it unsubscribes. */
  subscribe(managed: ManagedProcess, subscriber: OutputSubscriber): () => void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const buffer = managed.buffers[stream];
      for (const chunk of buffer.chunks) this.send(managed, subscriber, stream, chunk);
      buffer.chunks = [];
      buffer.bytes = 0;
    }
    managed.subscriber = subscriber;
    this.resumePaused(managed);
    const timer = managed.entry.outputFiles ? setInterval(() => void this.pumpFiles(managed, subscriber), 100) : undefined;
    return () => {
      if (timer) clearInterval(timer);
      if (managed.subscriber === subscriber) managed.subscriber = undefined;
    };
  }

  /** Detached output lives in files; a subscriber gets what was appended since it last looked. */
  private async pumpFiles(managed: ManagedProcess, subscriber: OutputSubscriber): Promise<void> {
    for (const stream of ['stdout', 'stderr'] as const) {
      const chunk = await this.readFileOutput(managed, stream, BUFFERED_OUTPUT_BYTES);
      if (chunk.length) this.send(managed, subscriber, stream, chunk);
    }
  }

  private async readFileOutput(managed: ManagedProcess, stream: StreamName, maxBytes: number): Promise<Buffer> {
    const path = managed.entry.outputFiles?.[stream];
    if (!path) return Buffer.alloc(0);
    const handle = await openFile(path, 'r').catch(() => undefined);
    if (!handle) return Buffer.alloc(0);
    try {
      const buffer = Buffer.alloc(maxBytes);
      const { bytesRead } = await handle.read(buffer, 0, maxBytes, managed.fileOffsets[stream]);
      managed.fileOffsets[stream] += bytesRead;
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Takes buffered output (or detached output from its files), at most maxBytes per stream. */
  async receive(managed: ManagedProcess, maxBytes: number): Promise<{ stdout: Buffer; stderr: Buffer; complete: boolean }> {
    const take = async (stream: StreamName): Promise<Buffer> => {
      if (managed.entry.outputFiles) return this.readFileOutput(managed, stream, maxBytes);
      const buffer = managed.buffers[stream];
      const all = Buffer.concat(buffer.chunks);
      const taken = all.subarray(0, maxBytes);
      const rest = all.subarray(taken.length);
      buffer.chunks = rest.length ? [rest] : [];
      buffer.bytes = rest.length;
      return taken;
    };
    const stdout = await take('stdout');
    const stderr = await take('stderr');
    this.resumePaused(managed);
    const drained = managed.entry.outputFiles ? stdout.length < maxBytes && stderr.length < maxBytes : managed.buffers.stdout.bytes === 0 && managed.buffers.stderr.bytes === 0;
    return { stdout, stderr, complete: !managed.running && drained };
  }

  async stop(managed: ManagedProcess, graceMs: number): Promise<void> {
    if (!managed.running) return;
    if (managed.launched) await managed.launched.stopTree(graceMs);
    else await this.platform.stopOrphanTree(managed.entry.pid, managed.entry.instance, graceMs, managed.entry.cgroup);
    await managed.exited;
  }

  write(managed: ManagedProcess, data: Buffer, close: boolean): Promise<number> {
    const stdin = managed.launched?.child.stdin;
    if (!stdin) throw new BrokerError('InvalidParams', `process ${managed.info.Id} was started without stdin`, { reason: 'NoStdin', field: 'processId' });
    return new Promise((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(new BrokerError('HostOperationFailed', `writing to process ${managed.info.Id} failed: ${error.message}`, { reason: 'WriteFailed' })) : resolve(data.length));
      if (data.length) stdin.write(data, (error) => (close ? stdin.end(() => done(error)) : done(error)));
      else if (close) stdin.end(() => done());
      else done();
    });
  }

  /** A caller went away: what it started and did not detach ends with it. */
  async connectionClosed(connectionId: number): Promise<void> {
    if (this.startingByConnection.has(connectionId)) this.abandonedConnections.add(connectionId);
    const owned = [...this.processes.values()].filter((p) => p.owner.connectionId === connectionId);
    for (const managed of owned) {
      if (managed.subscriber?.connectionId === connectionId) managed.subscriber = undefined;
      managed.owner.connectionId = undefined;
      if (!managed.info.Detached) {
        await this.stop(managed, 2000).catch((error) => this.log(`stopping ${managed.info.Id} failed: ${(error as Error).message}`));
        this.processes.delete(managed.info.Id);
      }
    }
    this.saveRegistry();
  }

  /** Broker shutdown: children tied to callers end; detached ones stay and are adopted by the next run. */
  async shutdown(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const managed of this.processes.values()) {
      if (!managed.info.Detached && managed.running) await this.stop(managed, 2000).catch(() => {});
      if (managed.info.Detached) managed.launched?.release();
    }
    this.saveRegistry();
  }

  private trimExited(): void {
    const exited = [...this.processes.values()].filter((p) => !p.running && p.owner.connectionId === undefined);
    for (const managed of exited.slice(0, Math.max(0, exited.length - EXITED_KEPT))) this.processes.delete(managed.info.Id);
  }

  /** Adopted processes are not our children: nobody reports their exit, so they are looked at. */
  private ensurePolling(): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => void this.pollAdopted(), ADOPTED_POLL_MS);
    this.pollTimer.unref();
  }

  private async pollAdopted(): Promise<void> {
    for (const managed of this.processes.values()) {
      if (managed.launched || !managed.running) continue;
      if ((await this.platform.instanceOf(managed.entry.pid)) !== managed.entry.instance) {
        // What it left in its cgroup ends with it, as for a process of this run.
        if (managed.entry.cgroup) await this.platform.stopOrphanTree(managed.entry.pid, managed.entry.instance, 0, managed.entry.cgroup).catch(() => {});
        // Not our child: its exit status went to its parent, so it is unknown here.
        await this.onExit(managed, null, null);
      }
    }
  }

  private saveRegistry(): void {
    const entries = [...this.processes.values()].filter((p) => p.running).map((p) => p.entry);
    writeStateFile(this.registryPath, { version: 1, processes: entries });
  }
}

function parsePort(port: ExposedPort): PortGrant {
  const [protocol, number] = port.split('/');
  return { protocol: protocol as 'tcp' | 'udp', port: Number(number) };
}
