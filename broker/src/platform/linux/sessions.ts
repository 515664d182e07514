/**
 * Session hosts on Linux. A `host` session runs pwsh directly. A container session runs the host's own pwsh
 * inside the container's network, UTS and IPC namespaces: `nsenter` joins them through descriptors opened
 * here and passed as the child's fds 3-5, exactly as proxy.ts runs nft in a pinned network namespace. The
 * mount and pid namespaces stay the host's, so the host's pwsh and session host script are what runs (the
 * container need not have PowerShell) and the session sees the host's files and processes, but the
 * container's interfaces, addresses, routes, hostname and IPC objects.
 *
 * Every host runs in a cgroup of its own (`<broker's cgroup>/winshost-sessions/s-…`, see cgroups.ts), and
 * what is left in it when the host exits is killed: a session leaves no processes behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, statfsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { BrokerError, HostOperationFailedError, NotSupportedOnPlatformError } from '../../errors.js';
import type { ContainerRef } from '../../policy/schema.js';
import { NETNS_DIR } from '../../server/peer.js';
import type { HostPlatformSessions, ResolvedContainer, SessionHostSpawn } from '../types.js';
import { newCgroup, removeCgroup, SESSION_CGROUP_PARENT, spawnInCgroup, stopCgroup } from './cgroups.js';

/** statfs(2) f_type of nsfs: what a namespace file is, as opposed to a plain file where one used to be mounted. */
const NSFS_MAGIC = 0x6e736673;

/** Where the Microsoft packages install PowerShell 7 when it is not on PATH. */
export const PWSH_FALLBACK = '/opt/microsoft/powershell/7/pwsh';

/** The broker's variables a session host gets: what PowerShell and .NET need to start, nothing else of the broker's. */
export function sessionHostEnvironment(brokerEnv: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: brokerEnv.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: brokerEnv.HOME || '/root',
    LANG: brokerEnv.LANG || 'C.UTF-8',
    // No terminal is attached: PowerShell should not try to colour or query one.
    TERM: 'dumb',
  };
  for (const [name, value] of Object.entries(brokerEnv)) {
    if (value !== undefined && (name === 'DOTNET_ROOT' || name.startsWith('DOTNET_'))) env[name] = value;
  }
  return { ...env, ...extra };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** pwsh on the broker's PATH, then where the packages put it. */
export function findPwsh(pathVariable: string | undefined, executable: (path: string) => boolean = isExecutable): string | undefined {
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'pwsh');
    if (executable(candidate)) return candidate;
  }
  return executable(PWSH_FALLBACK) ? PWSH_FALLBACK : undefined;
}

function notFound(name: string, detail: string): BrokerError {
  return new BrokerError('NotFound', `container '${name}' was not found: ${detail}`, { reason: 'ContainerNotFound', container: name });
}

function openNamespace(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

/** The net, uts and ipc namespaces of a process; all or none, so a process that exits halfway leaks nothing. */
function namespacesOfPid(name: string, pid: number): { net: number; uts: number; ipc: number } {
  const opened: number[] = [];
  for (const kind of ['net', 'uts', 'ipc']) {
    const fd = openNamespace(`/proc/${pid}/ns/${kind}`);
    if (fd === undefined) {
      for (const open of opened) closeSync(open);
      throw notFound(name, `process ${pid} is not running`);
    }
    opened.push(fd);
  }
  return { net: opened[0], uts: opened[1], ipc: opened[2] };
}

function readPid(name: string, path: string, what: string, firstLine: (text: string) => string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw notFound(name, `cannot read ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const value = firstLine(text).trim();
  if (!/^[1-9]\d{0,9}$/.test(value)) throw notFound(name, `${what} ${path} holds no process id`);
  return Number(value);
}

function release(namespaces: { net: number; uts?: number; ipc?: number }): void {
  for (const fd of [namespaces.net, namespaces.uts, namespaces.ipc]) if (fd !== undefined) closeSync(fd);
}

export async function resolveLinuxContainer(name: string, ref: ContainerRef): Promise<ResolvedContainer> {
  let namespaces: { net: number; uts?: number; ipc?: number };
  if (ref.netns !== undefined) {
    // An `ip netns` name pins only a network namespace; hostname and IPC stay the host's.
    const path = join(NETNS_DIR, ref.netns);
    const fd = openNamespace(path);
    if (fd === undefined) throw notFound(name, `${path} does not exist`);
    // A file left behind by a failed `ip netns delete` is no longer a namespace mount.
    if (statfsSync(`/proc/self/fd/${fd}`).type !== NSFS_MAGIC) {
      closeSync(fd);
      throw notFound(name, `${path} is not a network namespace`);
    }
    namespaces = { net: fd };
  } else if (ref.pidFile !== undefined) {
    namespaces = namespacesOfPid(name, readPid(name, ref.pidFile, 'pid file', (text) => text));
  } else if (ref.cgroup !== undefined) {
    const procs = join(ref.cgroup, 'cgroup.procs');
    namespaces = namespacesOfPid(name, readPid(name, procs, 'cgroup', (text) => text.split('\n').find((line) => line.trim()) ?? ''));
  } else {
    throw new NotSupportedOnPlatformError(`container '${name}' is a Windows container id; Linux finds containers by netns, pidFile or cgroup`, 'linux');
  }
  return { name, namespaces, openConfig: {}, release: () => release(namespaces) };
}

/** The argv that starts the host, inside the container's namespaces when there is one; the fds follow stdio. */
export function sessionHostCommand(spec: SessionHostSpawn): { file: string; args: string[]; fds: number[] } {
  const ns = spec.container?.namespaces;
  if (!ns) return { file: spec.executable, args: spec.args, fds: [] };
  const fds = [ns.net, ...(ns.uts !== undefined ? [ns.uts] : []), ...(ns.ipc !== undefined ? [ns.ipc] : [])];
  const joins = ['--net=/proc/self/fd/3', ...(ns.uts !== undefined ? [`--uts=/proc/self/fd/${3 + fds.indexOf(ns.uts)}`] : []), ...(ns.ipc !== undefined ? [`--ipc=/proc/self/fd/${3 + fds.indexOf(ns.ipc)}`] : [])];
  return { file: 'nsenter', args: [...joins, '--', spec.executable, ...spec.args], fds };
}

/** SIGKILL to a process group; false when no process of it is left. */
function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the host so that everything it starts can be found again, and ends all of that when the host
 * exits, however it exits (closed, idle, its caller gone, killed after a stuck stop, crashed): a session
 * owns nothing that outlives it. With cgroup v2 the host is born in a cgroup of its own (through nsenter
 * too: nsenter execs pwsh, and both are in the cgroup from the start), and a setsid descendant is still in
 * it. Without, the host leads its own process group (detached: setsid, which changes nothing about the
 * pipes, so the host still ends when the broker closes its stdin), and the group is killed: a descendant
 * that calls setsid leaves the group and survives, the limit giveUpCgroups warns about.
 */
export function spawnContainedHost(spec: SessionHostSpawn, useCgroups: boolean): ChildProcess {
  const { file, args, fds } = sessionHostCommand(spec);
  const start = (detached: boolean) =>
    spawn(file, args, {
      cwd: spec.cwd,
      env: sessionHostEnvironment(process.env, spec.env),
      stdio: ['pipe', 'pipe', 'pipe', ...fds],
      detached,
    });
  let cgroup = useCgroups ? newCgroup(SESSION_CGROUP_PARENT, 's') : undefined;
  let child: ChildProcess | undefined;
  try {
    child = cgroup ? spawnInCgroup(cgroup, () => start(false)) : undefined;
  } catch (error) {
    if (cgroup) removeCgroup(cgroup);
    throw error;
  }
  if (!child) {
    cgroup = undefined;
    child = start(true);
  }
  const tree = cgroup;
  const host = child;
  // 'exit', not 'close': a leftover that holds the host's pipes would hold 'close' back, and is what must go.
  host.once('exit', () => {
    if (tree) void stopCgroup(tree, 0);
    else if (host.pid !== undefined) killGroup(host.pid);
  });
  // A host that never started has no exit; its cgroup is empty and only the directory is left to remove.
  host.once('error', () => {
    if (tree && host.pid === undefined) removeCgroup(tree);
  });
  return host;
}

export interface LinuxSessionOptions {
  /** false: process groups only, as on a host without a usable cgroup v2 (for tests of that path). */
  cgroups?: boolean;
}

export function linuxSessionHosts(options: LinuxSessionOptions = {}): HostPlatformSessions {
  const useCgroups = options.cgroups ?? true;
  return {
    async defaultExecutable() {
      const found = findPwsh(process.env.PATH);
      if (!found) {
        throw new HostOperationFailedError(`PowerShell 7 (pwsh) is not on the broker's PATH nor at ${PWSH_FALLBACK}; install it or set sessionHost.executable in the policy`, {
          reason: 'PowerShellNotFound',
        });
      }
      return found;
    },

    resolveContainer: resolveLinuxContainer,

    spawnHost(spec): ChildProcess {
      return spawnContainedHost(spec, useCgroups);
    },
  };
}

export const linuxSessions: HostPlatformSessions = linuxSessionHosts();
