import { createServer, type Server, type Socket } from 'node:net';
import type { AuditLog } from '../audit.js';
import { createHandlerRegistry, type Handler } from '../handlers/index.js';
import { ProcessManager } from '../handlers/process-manager.js';
import { ProxyManager } from '../handlers/proxy-manager.js';
import type { BrokerServices } from '../handlers/types.js';
import { selectProfile } from '../policy/decide.js';
import type { LoadedPolicy } from '../policy/load.js';
import type { Listener } from '../policy/schema.js';
import type { HostPlatform } from '../platform/index.js';
import { CallerConnection } from './connection.js';
import type { FramingLimits } from './framing.js';
import { defaultListenerPath, isWindows, openListener, releaseListenerPath } from './listener.js';
import { identifyLinuxPeer, type PeerIdentity } from './peer.js';
import { FramingDefaults } from '../../../typings/index.js';

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
  private readonly limits: FramingLimits;
  private readonly log: (message: string) => void;
  private readonly services: BrokerServices;

  constructor(private readonly options: BrokerOptions) {
    this.log = options.log ?? ((message) => console.error(`winshost-broker: ${message}`));
    this.services = {
      processes: new ProcessManager(options.platform.processes, options.stateDir, this.log),
      proxy: new ProxyManager(options.platform.proxy, options.stateDir, this.log),
    };
    this.limits = {
      maxHeaderBytes: FramingDefaults.maxHeaderBytes,
      maxMessageBytes: options.maxMessageBytes ?? options.policy.policy.limits?.maxMessageBytes ?? FramingDefaults.maxMessageBytes,
    };
  }

  async start(): Promise<OpenListener[]> {
    const { policy } = this.options.policy;
    const { stopped, adopted } = await this.services.processes.restore();
    if (stopped || adopted) this.log(`previous run: stopped ${stopped} process tree(s) tied to callers, adopted ${adopted} detached process(es)`);
    await this.services.proxy.restore(this.options.reconcileEveryMs ?? 5000);
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
      this.options.audit.record({
        time: new Date().toISOString(),
        listener: running.name,
        profile: null,
        peer: {},
        method: '<connect>',
        paramsDigest: null,
        decision: 'deny',
        rule: null,
        durationMs: 0,
        resultCode: 0,
        reason: `PeerUnidentified: ${(error as Error).message}`,
      });
      socket.destroy();
      return;
    }
    const selection = selectProfile(this.options.policy.policy, running.listener, peer);
    if (!selection) {
      this.options.audit.record({
        time: new Date().toISOString(),
        listener: running.name,
        profile: null,
        peer: { pid: peer.pid, uid: peer.uid, gid: peer.gid, netns: peer.netns, netnsName: peer.netnsName },
        method: '<connect>',
        paramsDigest: null,
        decision: 'deny',
        rule: `listeners.${running.name}.profiles`,
        durationMs: 0,
        resultCode: 0,
        reason: 'NoProfileMatched',
      });
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
    });
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
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
    await this.services.processes.shutdown();
    this.services.proxy.stop();
  }
}
