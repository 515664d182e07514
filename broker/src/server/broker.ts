import { createServer, type Server, type Socket } from 'node:net';
import type { AuditLog } from '../audit.js';
import { createHandlerRegistry, type Handler } from '../handlers/index.js';
import { ProcessManager } from '../handlers/process-manager.js';
import { ProxyManager } from '../handlers/proxy-manager.js';
import { SessionManager } from '../handlers/session-manager.js';
import type { BrokerServices } from '../handlers/types.js';
import { selectProfile } from '../policy/decide.js';
import type { LoadedPolicy } from '../policy/load.js';
import type { Listener } from '../policy/schema.js';
import type { HostPlatform } from '../platform/index.js';
import { BrokerError } from '../errors.js';
import { CallerConnection } from './connection.js';
import type { FramingLimits } from './framing.js';
import { defaultListenerPath, isWindows, openListener, releaseListenerPath } from './listener.js';
import { ListenerDefaults, TokenBucket } from './limits.js';
import { identifyLinuxPeer, type PeerIdentity } from './peer.js';
import { ErrorCodes, FramingDefaults } from '../../../typings/index.js';

export interface BrokerOptions {
  policy: LoadedPolicy;
  platform: HostPlatform;
  audit: AuditLog;
  stateDir: string;
  brokerVersion: string;
  /** Replaces the first listener's path (`serve --listen`). */
  listenPath?: string;
  /** Overrides the policy's `limits.maxMessageBytes`. */
  maxMessageBytes?: number;
  log?: (message: string) => void;
  /** How often proxy policies are checked against the host and re-applied where missing; 0 = only at start. */
  reconcileEveryMs?: number;
}

export interface OpenListener {
  name: string;
  path: string;
  profiles: string[];
}

interface RunningListener extends OpenListener {
  server: Server;
  listener: Listener;
}

/** Listeners, connections and their shared pieces (handlers, platform, audit) for one policy. */
export class Broker {
  private readonly handlers: Map<string, Handler> = createHandlerRegistry();
  private readonly listeners: RunningListener[] = [];
  private readonly connections = new Set<CallerConnection>();
  private limits: FramingLimits;
  private readonly log: (message: string) => void;
  private readonly services: BrokerServices;
  /** Replaced by `reload`; a connection keeps the policy (and rate buckets) it was accepted under. */
  private policy: LoadedPolicy;
  private buckets = new Map<string, TokenBucket>();

  constructor(private readonly options: BrokerOptions) {
    this.log = options.log ?? ((message) => console.error(`winshost-broker: ${message}`));
    this.services = {
      processes: new ProcessManager(options.platform.processes, options.stateDir, this.log),
      proxy: new ProxyManager(options.platform.proxy, options.stateDir, this.log),
      sessions: new SessionManager({
        platform: options.platform.sessions,
        audit: options.audit,
        stateDir: options.stateDir,
        policy: () => this.policy.policy,
        maxMessageBytes: () => this.limits.maxMessageBytes,
        log: this.log,
      }),
    };
    this.policy = options.policy;
    this.limits = this.framingLimits();
  }

  private framingLimits(): FramingLimits {
    return {
      maxHeaderBytes: FramingDefaults.maxHeaderBytes,
      maxMessageBytes: this.options.maxMessageBytes ?? this.policy.policy.limits?.maxMessageBytes ?? FramingDefaults.maxMessageBytes,
    };
  }

  get currentPolicy(): LoadedPolicy {
    return this.policy;
  }

  /**
   * Makes a new policy the one new connections get; open connections keep theirs. Listeners stay open, so a
   * listener's profiles and limits change but what needs a new socket (a new or removed listener, its path,
   * mode or owner) or a new audit path waits for a restart: the returned notes say which.
   */
  reload(next: LoadedPolicy): string[] {
    const notes: string[] = [];
    const listeners = new Map(next.policy.listeners.map((listener) => [listener.name, listener]));
    for (const running of this.listeners) {
      const updated = listeners.get(running.name);
      if (!updated) {
        notes.push(`listener ${running.name} is no longer in the policy; it keeps listening, with no profile, until a restart`);
        running.listener = { ...running.listener, profiles: [] };
        running.profiles = [];
        continue;
      }
      const socketOf = (l: Listener) => JSON.stringify([l.path, l.mode, l.owner, l.group, l.access]);
      if (socketOf(updated) !== socketOf(running.listener)) notes.push(`listener ${running.name}: path, mode, owner, group and access take effect at restart`);
      running.listener = updated;
      running.profiles = updated.profiles;
      listeners.delete(running.name);
    }
    for (const name of listeners.keys()) notes.push(`listener ${name} is new; it opens at restart`);
    if (next.policy.audit?.path !== this.policy.policy.audit?.path) notes.push('a new audit path takes effect at restart');
    this.policy = next;
    this.buckets = new Map();
    this.limits = this.framingLimits();
    this.services.sessions.policyChanged();
    return notes;
  }

  async start(): Promise<OpenListener[]> {
    const { policy } = this.policy;
    const { stopped, adopted } = await this.services.processes.restore();
    if (stopped || adopted) this.log(`previous run: stopped ${stopped} process tree(s) tied to callers, adopted ${adopted} detached process(es)`);
    await this.services.proxy.restore(this.options.reconcileEveryMs ?? 5000);
    this.services.sessions.start();
    try {
      for (const [index, listener] of policy.listeners.entries()) {
        const path = index === 0 && this.options.listenPath ? this.options.listenPath : (listener.path ?? defaultListenerPath(listener.name));
        const server = createServer((socket) => void this.accept(socket, running));
        const running: RunningListener = { name: listener.name, path, profiles: listener.profiles, server, listener };
        await openListener(server, listener, path, this.options.stateDir);
        this.listeners.push(running);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    return this.listeners.map(({ name, path, profiles }) => ({ name, path, profiles }));
  }

  private async accept(socket: Socket, running: RunningListener): Promise<void> {
    socket.on('error', () => socket.destroy());
    let peer: PeerIdentity;
    try {
      peer = isWindows ? {} : await identifyLinuxPeer(socket);
    } catch (error) {
      this.auditRefusedConnection(running, {}, null, 0, `PeerUnidentified: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    const { policy } = this.policy;
    const listener = running.listener;
    const maxConnections = listener.maxConnections ?? ListenerDefaults.maxConnections;
    let open = 0;
    for (const connection of this.connections) if (connection.caller.listener === running.name && !connection.refused) open++;
    const selection = open >= maxConnections ? undefined : selectProfile(policy, listener, peer);
    let refusal: BrokerError | undefined;
    if (open >= maxConnections) {
      const rule = `listeners.${running.name}.maxConnections`;
      refusal = new BrokerError('LimitExceeded', `listener '${running.name}' already has ${open} connections, its limit; close one or retry later`, { reason: 'TooManyConnections', limit: maxConnections, rule });
      this.auditRefusedConnection(running, peer, rule, ErrorCodes.LimitExceeded, 'TooManyConnections');
    } else if (!selection) {
      this.auditRefusedConnection(running, peer, `listeners.${running.name}.profiles`, 0, 'NoProfileMatched');
    }
    const requestsPerSecond = selection?.profile.limits?.requestsPerSecond;
    let bucket: TokenBucket | undefined;
    if (selection && requestsPerSecond !== undefined) {
      bucket = this.buckets.get(selection.name);
      if (!bucket) this.buckets.set(selection.name, (bucket = new TokenBucket(requestsPerSecond)));
    }
    const connection = new CallerConnection(socket, {
      listener: running.name,
      selection,
      peer,
      handlers: this.handlers,
      platform: this.options.platform,
      audit: this.options.audit,
      brokerVersion: this.options.brokerVersion,
      limits: this.limits,
      log: this.log,
      services: this.services,
      refusal,
      rate: bucket && selection ? { bucket, rule: `profiles.${selection.name}.limits.requestsPerSecond` } : undefined,
      idleTimeoutMs: (listener.idleTimeoutSeconds ?? ListenerDefaults.idleTimeoutSeconds) * 1000,
      auditFailOpen: policy.audit?.failOpen ?? false,
    });
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
  }

  /** The `<connect>` line of a connection refused before any request: who it was and why. */
  private auditRefusedConnection(running: RunningListener, peer: PeerIdentity, rule: string | null, resultCode: number, reason: string): void {
    this.options.audit.record({
      time: new Date().toISOString(),
      listener: running.name,
      profile: null,
      peer: { pid: peer.pid, uid: peer.uid, gid: peer.gid, netns: peer.netns, netnsName: peer.netnsName },
      method: '<connect>',
      paramsDigest: null,
      decision: 'deny',
      rule,
      durationMs: 0,
      resultCode,
      reason,
    });
  }

  /** Stops accepting, ends every connection and removes the sockets this run created. */
  async stop(): Promise<void> {
    const closing = this.listeners.splice(0).map(
      (running) =>
        new Promise<void>((resolve) => {
          running.server.close(() => resolve());
          releaseListenerPath(running.path, this.options.stateDir);
        }),
    );
    for (const connection of this.connections) connection.dispose();
    this.connections.clear();
    await Promise.all(closing);
    await Promise.all([this.services.processes.shutdown(), this.services.sessions.shutdown()]);
    this.services.proxy.stop();
  }
}
