import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditEntry } from '../../broker/src/audit.js';
import { loadBuiltInPolicy } from '../../broker/src/policy/default.js';
import { parsePolicy } from '../../broker/src/policy/load.js';
import type { HostPlatform } from '../../broker/src/platform/index.js';
import { linuxFiles } from '../../broker/src/platform/linux/files.js';
import { linuxProcesses } from '../../broker/src/platform/linux/processes.js';
import { linuxProxy } from '../../broker/src/platform/linux/proxy.js';
import { Broker } from '../../broker/src/server/broker.js';
import type { NetworkAdapter, NetworkRoute } from '../../typings/index.js';
import { fakeSessions } from './support/fake-sessions.js';

export const fakeAdapters: NetworkAdapter[] = [
  {
    InterfaceIndex: 1,
    GatewayAddress: null,
    SubnetCIDR: '127.0.0.0/8',
    HostName: 'fakehost',
    AddressCIDR: '127.0.0.1/8',
    Name: 'lo',
    Description: 'loopback',
    MacAddress: null,
    Mtu: 65536,
    Status: 'Up',
    Type: 'loopback',
    IsDefault: false,
    IPv4Addresses: [{ Address: '127.0.0.1', PrefixLength: 8, AddressCIDR: '127.0.0.1/8', SubnetCIDR: '127.0.0.0/8' }],
    IPv6Addresses: [{ Address: '::1', PrefixLength: 128, AddressCIDR: '::1/128', SubnetCIDR: '::1/128', Scope: 'host' }],
    IPv6GatewayAddress: null,
  },
  {
    InterfaceIndex: 7,
    GatewayAddress: '10.170.0.1',
    SubnetCIDR: '10.170.0.0/20',
    HostName: 'fakehost',
    AddressCIDR: '10.170.15.229/20',
    Name: 'eth0',
    Description: 'ether',
    MacAddress: '00:15:5d:01:02:03',
    Mtu: 1500,
    Status: 'Up',
    Type: 'ethernet',
    IsDefault: true,
    IPv4Addresses: [{ Address: '10.170.15.229', PrefixLength: 20, AddressCIDR: '10.170.15.229/20', SubnetCIDR: '10.170.0.0/20' }],
    IPv6Addresses: [],
    IPv6GatewayAddress: null,
  },
];

export const fakeRoutes: NetworkRoute[] = [
  { AddressFamily: 'IPv4', DestinationPrefix: '0.0.0.0/0', NextHop: '10.170.0.1', InterfaceIndex: 7, InterfaceAlias: 'eth0', RouteMetric: 0, Protocol: 'boot', Scope: 'universe', IsDefault: true },
  { AddressFamily: 'IPv6', DestinationPrefix: '::1/128', NextHop: null, InterfaceIndex: 1, InterfaceAlias: 'lo', RouteMetric: 256, Protocol: 'kernel', Scope: 'universe', IsDefault: false },
];

/** Registry credential specs of the fake platform, by value name. */
export const fakeRegistrySpecs = new Map<string, string>();

export function fakePlatform(overrides: Partial<HostPlatform['network']> = {}): HostPlatform {
  return {
    name: 'linux',
    files: linuxFiles,
    processes: linuxProcesses,
    proxy: linuxProxy,
    sessions: fakeSessions(),
    credentialSpecs: {
      defaultDirectory: null,
      async readRegistrySpec(name) {
        return fakeRegistrySpecs.get(name) ?? null;
      },
      async listRegistrySpecs() {
        return [...fakeRegistrySpecs.keys()];
      },
      async checkServiceAccount(name) {
        return name.toLowerCase().startsWith('missing') ? { resolved: false, detail: 'does not exist in the domain' } : { resolved: true, detail: 'can be installed' };
      },
    },
    host: {
      async info() {
        return {
          HostName: 'fakehost',
          Platform: 'linux',
          OSName: 'Fake OS',
          OSVersion: '1',
          OSBuild: '1',
          KernelVersion: '6.0.0-fake',
          Architecture: 'x64',
          UptimeSeconds: 100,
          BootTime: '2026-01-01T00:00:00.000Z',
        };
      },
    },
    network: {
      async adapters() {
        return { adapters: structuredClone(fakeAdapters), defaultInterfaceIndex: 7 };
      },
      async routes() {
        return structuredClone(fakeRoutes);
      },
      ...overrides,
    },
  };
}

export interface TestBroker {
  path: string;
  dir: string;
  broker: Broker;
  auditEntries(): Promise<AuditEntry[]>;
  stop(): Promise<void>;
}

/** An in-process broker on a temporary socket, with a fake platform unless one is given. */
export async function startTestBroker(
  options: { policyYaml?: string; platform?: HostPlatform; maxMessageBytes?: number; log?: (m: string) => void; dir?: string; reconcileEveryMs?: number } = {},
): Promise<TestBroker> {
  // A given directory is reused: a broker started on it finds the state of the one before.
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'winshost-test-'));
  const path = join(dir, 'broker.sock');
  const auditPath = join(dir, 'audit.log');
  const audit = AuditLog.open(auditPath);
  const policy = options.policyYaml ? { policy: parsePolicy(options.policyYaml, 'test.yaml'), source: 'test.yaml' } : loadBuiltInPolicy();
  const broker = new Broker({
    policy,
    platform: options.platform ?? fakePlatform(),
    audit,
    stateDir: join(dir, 'state'),
    brokerVersion: '0.0.0-test',
    listenPath: path,
    maxMessageBytes: options.maxMessageBytes,
    log: options.log ?? (() => {}),
    reconcileEveryMs: options.reconcileEveryMs ?? 0,
  });
  await broker.start();
  return {
    path,
    dir,
    broker,
    async auditEntries() {
      await audit.flushed();
      return readFileSync(auditPath, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEntry);
    },
    async stop() {
      await broker.stop();
      await audit.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function frame(body: string | Buffer | object): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'ascii'), bytes]);
}

/** A raw socket that collects framed responses and notices when the broker closes it. */
export class RawPeer {
  private buffer = Buffer.alloc(0);
  private readonly messages: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) break;
        const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())?.[1]);
        if (this.buffer.length < end + 4 + length) break;
        this.messages.push(JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString('utf8')));
        this.buffer = this.buffer.subarray(end + 4 + length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(path: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  send(message: object): void {
    this.write(frame(message));
  }

  async request(method: string, params: unknown, id: number | string): Promise<Record<string, any>> {
    this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
    return this.response(id);
  }

  async initialize(): Promise<Record<string, any>> {
    return this.request('initialize', { clientInfo: { name: 'raw-test' }, protocolVersion: 1 }, 'init');
  }

  /** The next response with this id (null for errors that could not name one). */
  async response(id: number | string | null, timeoutMs?: number): Promise<Record<string, any>> {
    await this.until(() => this.messages.some((m) => m.id === id), `a response with id ${JSON.stringify(id)}`, timeoutMs);
    const index = this.messages.findIndex((m) => m.id === id);
    return this.messages.splice(index, 1)[0] as Record<string, any>;
  }

  received(): number {
    return this.messages.length;
  }

  async notificationArrived(method: string): Promise<void> {
    await this.until(() => this.messages.some((m) => m.method === method && m.id === undefined), `a ${method} notification`);
  }

  /** Removes and returns the params of every notification of a method received so far, in order. */
  takeNotifications(method: string): Record<string, unknown>[] {
    const taken = this.messages.filter((m) => m.method === method && m.id === undefined);
    for (const message of taken) this.messages.splice(this.messages.indexOf(message), 1);
    return taken.map((m) => m.params as Record<string, unknown>);
  }

  async closedByBroker(): Promise<void> {
    await this.until(() => this.closed, 'the broker to close the connection');
  }

  close(): void {
    this.socket.destroy();
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True while the process exists and is not a zombie. */
/** A peer that has sent `initialize`, with `call` giving each request its own id and awaiting its response. */
export async function connectPeer(path: string) {
  const peer = await RawPeer.open(path);
  await peer.initialize();
  let id = 0;
  const call = (method: string, params: unknown, timeoutMs = 10_000) => {
    const requestId = `${method}-${++id}`;
    peer.send({ jsonrpc: '2.0', id: requestId, method, params });
    return peer.response(requestId, timeoutMs);
  };
  return { peer, call };
}

export function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** Polls until the condition holds; fails naming what it waited for. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
