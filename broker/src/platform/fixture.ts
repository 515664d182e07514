import { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { z } from 'zod';
import type { ProxyPolicy } from '../../../typings/index.js';
import { HostOperationFailedError } from '../errors.js';
import { normalizeAbsolutePath, PathRuleError, type PathSyntax } from '../policy/paths.js';
import { subnetCidr } from './addresses.js';
import type {
  AdapterSnapshot,
  HostFacts,
  HostPlatform,
  HostPlatformProcesses,
  HostPlatformProxy,
  LaunchedProcess,
  ProcessEvents,
  ProcessLaunch,
  ProxyTargetRecord,
  ProxyTargetRef,
} from './types.js';

/*
 * A platform played back from a JSON fixture, for tests of container scripts without a real host
 * (`winshost-broker serve --fixture FILE`, and WinsHost.Testing's Start-WinsHostTestBroker):
 *
 * - host facts, adapters and routes are the fixture's (`record-fixture` writes them from a real host);
 * - processes are scripted: the program file is still opened and checked by the handler as always
 *   (canonical path, sha256 pin), but nothing is executed; its scripted output and exit code are played
 *   through the normal process manager;
 * - proxy policies and exposed ports are applied to memory only, and read back from there;
 * - files, credential specs and every other group (sessions) are the real OS platform's, so file roots
 *   and credential spec directories in the policy mean real directories (a test points them at a temp dir).
 */

const MAX_DELAY_MS = 3_600_000;

const ipv4 = z.string().refine((value) => isIPv4(value), 'must be an IPv4 address');
const ipv6 = z.string().refine((value) => isIPv6(value.split('%')[0]), 'must be an IPv6 address');
const cidr = z.string().refine((value) => {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return (isIPv4(address) && Number(prefix) <= 32) || (isIPv6(address) && Number(prefix) <= 128);
}, 'must be an address/prefix CIDR');

/** `AddressCIDR` and `SubnetCIDR` are derived from the address; a fixture that disagrees would mislead a test. */
function addressInfo<T extends z.ZodType<string>>(address: T, maxPrefix: number) {
  return {
    Address: address,
    PrefixLength: z.number().int().min(0).max(maxPrefix),
    AddressCIDR: cidr,
    SubnetCIDR: cidr,
  };
}

function checkDerivedCidrs(info: { Address: string; PrefixLength: number; AddressCIDR: string; SubnetCIDR: string }, ctx: z.RefinementCtx): void {
  const address = info.Address.split('%')[0];
  if (info.AddressCIDR !== `${address}/${info.PrefixLength}`) ctx.addIssue({ code: 'custom', path: ['AddressCIDR'], message: `must be '${address}/${info.PrefixLength}' (Address/PrefixLength)` });
  const subnet = subnetCidr(address, info.PrefixLength);
  if (info.SubnetCIDR !== subnet) ctx.addIssue({ code: 'custom', path: ['SubnetCIDR'], message: `must be '${subnet}', the network of ${info.AddressCIDR}` });
}

const IPv4AddressSchema = z.strictObject(addressInfo(ipv4, 32)).superRefine(checkDerivedCidrs);
const IPv6AddressSchema = z.strictObject({ ...addressInfo(ipv6, 128), Scope: z.string().min(1) }).superRefine(checkDerivedCidrs);

const interfaceIndex = z.number().int().min(0).max(0xffffffff);

export const FixtureAdapterSchema = z
  .strictObject({
    InterfaceIndex: interfaceIndex,
    GatewayAddress: ipv4.nullable(),
    SubnetCIDR: cidr.nullable(),
    HostName: z.string(),
    AddressCIDR: cidr.nullable(),
    Name: z.string().min(1),
    Description: z.string(),
    MacAddress: z.string().min(1).nullable(),
    Mtu: z.number().int().min(0),
    Status: z.enum(['Up', 'Down', 'Dormant', 'NotPresent', 'LowerLayerDown', 'Testing', 'Unknown']),
    Type: z.string().min(1),
    IsDefault: z.boolean(),
    IPv4Addresses: z.array(IPv4AddressSchema),
    IPv6Addresses: z.array(IPv6AddressSchema),
    IPv6GatewayAddress: ipv6.nullable(),
  })
  .superRefine((adapter, ctx) => {
    // The platforms report the first IPv4 address as the adapter's own; a fixture must say the same.
    const primary = adapter.IPv4Addresses[0];
    if (adapter.AddressCIDR !== (primary?.AddressCIDR ?? null)) {
      ctx.addIssue({ code: 'custom', path: ['AddressCIDR'], message: primary ? `must be '${primary.AddressCIDR}', the first of IPv4Addresses` : 'must be null: the adapter has no IPv4 address' });
    }
    if (adapter.SubnetCIDR !== (primary?.SubnetCIDR ?? null)) {
      ctx.addIssue({ code: 'custom', path: ['SubnetCIDR'], message: primary ? `must be '${primary.SubnetCIDR}', the subnet of the first of IPv4Addresses` : 'must be null: the adapter has no IPv4 address' });
    }
  });

export const FixtureRouteSchema = z.strictObject({
  AddressFamily: z.enum(['IPv4', 'IPv6']),
  DestinationPrefix: cidr,
  NextHop: z.string().refine((value) => isIPv4(value) || isIPv6(value.split('%')[0]), 'must be an IP address').nullable(),
  InterfaceIndex: interfaceIndex,
  InterfaceAlias: z.string(),
  RouteMetric: z.number().int().min(0),
  Protocol: z.string().min(1),
  Scope: z.string().min(1),
  IsDefault: z.boolean(),
});

const nullableText = z.string().nullable();
const nullableNumber = z.number().int().nullable();

export const FixtureHostSchema = z.strictObject({
  HostName: z.string().min(1),
  Platform: z.enum(['linux', 'windows']),
  OSName: z.string().min(1),
  OSVersion: z.string(),
  OSBuild: z.string().nullable(),
  KernelVersion: z.string(),
  Architecture: z.string().min(1),
  UptimeSeconds: z.number().min(0),
  BootTime: z.iso.datetime({ offset: true }),
  WindowsVersion: z
    .strictObject({
      CurrentMajorVersionNumber: nullableNumber,
      CurrentMinorVersionNumber: nullableNumber,
      CurrentBuildNumber: nullableText,
      UBR: nullableNumber,
      ReleaseId: nullableText,
      BuildLabEx: nullableText,
      CurrentBuild: nullableText,
      ProductName: nullableText,
      DisplayVersion: nullableText,
    })
    .optional(),
});

/** What a scripted program does instead of running: this output at once, then this exit after `delayMs`. */
export const ScriptedProgramSchema = z.strictObject({
  /** UTF-8 text written to stdout. */
  stdout: z.string().max(64 * 1024 * 1024).optional(),
  stderr: z.string().max(64 * 1024 * 1024).optional(),
  exitCode: z.number().int().min(-2_147_483_648).max(4_294_967_295).optional(),
  /** How long the program "runs" after writing its output: long enough to see it Running, or to stop it. */
  delayMs: z.number().int().min(0).max(MAX_DELAY_MS).optional(),
});

export const FixtureSchema = z
  .strictObject({
    version: z.literal(1).optional(),
    /** Free text, e.g. where and when it was recorded. */
    description: z.string().optional(),
    host: FixtureHostSchema,
    network: z.strictObject({
      adapters: z.array(FixtureAdapterSchema),
      /** InterfaceIndex of the adapter of the default route, or null when the host has none. */
      defaultInterfaceIndex: interfaceIndex.nullable(),
      routes: z.array(FixtureRouteSchema),
    }),
    /** Scripted programs by canonical absolute path, in the host's path syntax. */
    processes: z.record(z.string().min(1), ScriptedProgramSchema).optional(),
  })
  .superRefine((fixture, ctx) => {
    const { adapters, defaultInterfaceIndex } = fixture.network;
    const seen = new Set<number>();
    adapters.forEach((adapter, i) => {
      if (seen.has(adapter.InterfaceIndex)) ctx.addIssue({ code: 'custom', path: ['network', 'adapters', i, 'InterfaceIndex'], message: `InterfaceIndex ${adapter.InterfaceIndex} is used twice` });
      seen.add(adapter.InterfaceIndex);
      if (adapter.IsDefault !== (adapter.InterfaceIndex === defaultInterfaceIndex)) {
        ctx.addIssue({
          code: 'custom',
          path: ['network', 'adapters', i, 'IsDefault'],
          message: `must be ${!adapter.IsDefault}: network.defaultInterfaceIndex is ${defaultInterfaceIndex}`,
        });
      }
    });
    if (defaultInterfaceIndex !== null && !seen.has(defaultInterfaceIndex)) {
      ctx.addIssue({ code: 'custom', path: ['network', 'defaultInterfaceIndex'], message: `no adapter has InterfaceIndex ${defaultInterfaceIndex}` });
    }
  });

export type Fixture = z.infer<typeof FixtureSchema>;
export type ScriptedProgram = z.infer<typeof ScriptedProgramSchema>;

/** One problem of a fixture, named by its field: `network.adapters.1.Mtu`, `processes["/usr/bin/tool"].exitCode`. */
export interface FixtureProblem {
  field: string;
  message: string;
}

export class FixtureError extends Error {
  constructor(
    readonly source: string,
    readonly problems: FixtureProblem[],
  ) {
    super(problems.map((problem) => `${source}: ${problem.field}: ${problem.message}`).join('\n'));
    this.name = 'FixtureError';
  }
}

/** Dots for names and indexes, brackets for keys that are not names (program paths). */
export function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(document)';
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number' || /^[A-Za-z_$][\w$]*$/.test(String(segment))) text += `${text ? '.' : ''}${String(segment)}`;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

function problemOf(issue: z.core.$ZodIssue): FixtureProblem {
  if (issue.code === 'unrecognized_keys') {
    return { field: fieldPath(issue.path), message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}` };
  }
  return { field: fieldPath(issue.path), message: issue.message };
}

/**
 * Text → validated fixture. Program paths are checked with the path rules of the host the broker runs on,
 * since the handler compares them with what callers send.
 */
export function parseFixture(text: string, source: string, syntax: PathSyntax = process.platform === 'win32' ? 'win32' : 'posix'): Fixture {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new FixtureError(source, [{ field: '(document)', message: `not JSON: ${(error as Error).message}` }]);
  }
  const result = FixtureSchema.safeParse(data);
  const problems = result.success ? [] : result.error.issues.map(problemOf);
  if (result.success) {
    for (const path of Object.keys(result.data.processes ?? {})) {
      try {
        if (normalizeAbsolutePath(path, syntax) !== path) problems.push({ field: fieldPath(['processes', path]), message: `name the program by its canonical path '${normalizeAbsolutePath(path, syntax)}'` });
      } catch (error) {
        if (!(error instanceof PathRuleError)) throw error;
        problems.push({ field: fieldPath(['processes', path]), message: error.message });
      }
    }
  }
  if (problems.length) throw new FixtureError(source, problems);
  return result.data!;
}

export function loadFixtureFile(file: string, syntax?: PathSyntax): Fixture {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new FixtureError(file, [{ field: '(document)', message: `cannot read the fixture file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})` }]);
  }
  return parseFixture(text.replace(/^\uFEFF/, ''), file, syntax);
}

/** The current host as a fixture: what `record-fixture` writes. Processes are left for the test to script. */
export async function recordFixture(platform: HostPlatform): Promise<Fixture> {
  const [host, snapshot, routes] = await Promise.all([platform.host.info(), platform.network.adapters(), platform.network.routes()]);
  const fixture: Fixture = {
    version: 1,
    description: `recorded from ${host.HostName} at ${new Date().toISOString()} by winshost-broker record-fixture`,
    host,
    network: { adapters: snapshot.adapters, defaultInterfaceIndex: snapshot.defaultInterfaceIndex, routes },
    processes: {},
  };
  // Written only if it would load: a recording that a test then cannot use helps nobody.
  return parseFixture(JSON.stringify(fixture), '<recorded>', platform.files.syntax);
}

export function writeFixtureFile(file: string, fixture: Fixture): void {
  writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
}

/** What the fixture's in-memory host was asked to do, for a test to read back. */
export interface FixtureRecords {
  /** Proxy policies applied per target key, as the proxy manager last applied them. */
  readonly proxy: ReadonlyMap<string, readonly ProxyPolicy[]>;
  /** Ports opened for processes, as `protocol/port owner`. */
  readonly openPorts: ReadonlySet<string>;
  /** Every program launch played back, in order. */
  readonly launches: readonly ProcessLaunch[];
}

export interface FixturePlatform extends HostPlatform {
  readonly fixture: Fixture;
  readonly records: FixtureRecords;
}

/** A process id for a scripted program: high enough not to look like the broker's own children. */
const FIRST_SCRIPTED_PID = 900_001;

interface ScriptedRun {
  instance: string;
  stopped: boolean;
  exited: boolean;
  stop(): void;
}

function scriptedProcesses(fixture: Fixture, base: HostPlatform, source: string, launches: ProcessLaunch[], openPorts: Set<string>): HostPlatformProcesses {
  const syntax = base.files.syntax;
  const fold = (path: string) => (syntax === 'win32' ? path.toLowerCase() : path);
  const scripts = new Map(Object.entries(fixture.processes ?? {}).map(([path, script]) => [fold(path), script]));
  const running = new Map<number, ScriptedRun>();
  let nextPid = FIRST_SCRIPTED_PID;
  // What a stopped program reports: the OS's own words for a forced end (Windows: TerminateJobObject's code 1).
  const stoppedStatus: [number | null, NodeJS.Signals | null] = base.name === 'windows' ? [1, null] : [null, 'SIGTERM'];

  return {
    baseEnvironment: () => base.processes.baseEnvironment(),

    async launch(spec: ProcessLaunch, events: ProcessEvents): Promise<LaunchedProcess> {
      const script = scripts.get(fold(spec.path));
      if (!script) {
        throw new HostOperationFailedError(`${spec.path} is not scripted in the fixture ${source}: add it under "processes" (nothing runs for real)`, { reason: 'NotScripted' });
      }
      launches.push(spec);
      const pid = nextPid++;
      const child = new ChildProcess();
      // Input is taken and dropped, as by a program that does not read it.
      child.stdin = spec.stdin ? new Writable({ write: (_chunk, _encoding, done) => done() }) : null;
      const status: { code: number | null; signal: NodeJS.Signals | null } = { code: script.exitCode ?? 0, signal: null };
      let timer: NodeJS.Timeout | undefined;
      let waitingFor = 2;
      const run: ScriptedRun = {
        instance: `fixture-${pid}`,
        stopped: false,
        exited: false,
        stop() {
          if (run.exited) return;
          run.stopped = true;
          [status.code, status.signal] = stoppedStatus;
          if (timer) clearTimeout(timer);
          exit();
        },
      };
      const exit = () => {
        if (run.exited) return;
        run.exited = true;
        running.delete(pid);
        if (spec.stdin) child.stdin?.destroy();
        streamEnded();
      };
      // Like a real child, 'close' comes after the exit and after both outputs ended.
      const streamEnded = () => {
        waitingFor--;
        if (waitingFor === 0) events.close(status.code, status.signal);
      };
      running.set(pid, run);

      if (spec.outputFiles) {
        // Detached programs write to their files, as the OS platforms make them do.
        writeFileSync(spec.outputFiles.stdout, script.stdout ?? '', { flag: 'a', mode: 0o600 });
        writeFileSync(spec.outputFiles.stderr, script.stderr ?? '', { flag: 'a', mode: 0o600 });
        waitingFor = 1;
      } else {
        // Through real streams, so the manager's pausing and resuming works on them as on pipes.
        let pending = 2;
        const outputEnded = () => {
          if (--pending === 0) streamEnded();
        };
        for (const [name, text] of [
          ['stdout', script.stdout],
          ['stderr', script.stderr],
        ] as const) {
          const stream = new PassThrough();
          stream.on('data', (chunk: Buffer) => events.output(name, chunk, stream));
          stream.once('end', outputEnded);
          setImmediate(() => stream.end(text ? Buffer.from(text, 'utf8') : undefined));
        }
      }
      timer = setTimeout(() => {
        timer = undefined;
        exit();
      }, script.delayMs ?? 0);

      return {
        child,
        pid,
        instance: run.instance,
        stopTree: async () => run.stop(),
        release: () => timer?.unref(),
      };
    },

    async instanceOf(pid) {
      return running.get(pid)?.instance ?? null;
    },

    async stopOrphanTree(pid, instance) {
      const run = running.get(pid);
      if (run?.instance === instance) run.stop();
    },

    containment: () => `none needed: programs are scripted by the fixture ${source}, nothing runs`,

    async exposePort(port, owner) {
      openPorts.add(`${port.protocol}/${port.port} ${owner}`);
    },

    async closePort(port, owner) {
      openPorts.delete(`${port.protocol}/${port.port} ${owner}`);
    },
  };
}

function memoryProxy(base: HostPlatform, applied: Map<string, ProxyPolicy[]>): HostPlatformProxy {
  const same = (a: readonly ProxyPolicy[], b: readonly ProxyPolicy[]) => JSON.stringify(a) === JSON.stringify(b);
  return {
    supportsUdp: base.proxy.supportsUdp,
    async apply(target, policies) {
      if (policies.length) applied.set(target.key, structuredClone(policies));
      else applied.delete(target.key);
    },
    async check(target, policies) {
      return same(applied.get(target.key) ?? [], policies);
    },
    // Every target is still there: nothing in memory can go away behind the broker's back.
    async reopen(record: ProxyTargetRecord): Promise<ProxyTargetRef> {
      return { ...record };
    },
    // A Linux target carries the caller's pinned namespace descriptor; the connection owns and closes it.
    release() {},
  };
}

/**
 * The fixture platform on top of the real one of this OS: every group the fixture does not play (files,
 * credential specs, sessions, and any group added later) is the real platform's own.
 */
export function fixturePlatform(fixture: Fixture, base: HostPlatform, source = '<fixture>'): FixturePlatform {
  const proxy = new Map<string, ProxyPolicy[]>();
  const openPorts = new Set<string>();
  const launches: ProcessLaunch[] = [];
  const host: HostFacts = fixture.host;
  const snapshot: AdapterSnapshot = { adapters: fixture.network.adapters, defaultInterfaceIndex: fixture.network.defaultInterfaceIndex };
  return {
    ...base,
    host: { info: async () => structuredClone(host) },
    network: {
      adapters: async () => structuredClone(snapshot),
      routes: async () => structuredClone(fixture.network.routes),
    },
    processes: scriptedProcesses(fixture, base, source, launches, openPorts),
    proxy: memoryProxy(base, proxy),
    fixture,
    records: { proxy, openPorts, launches },
  };
}
