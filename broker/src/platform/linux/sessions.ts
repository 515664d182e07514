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
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, statfsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { BrokerError, HostOperationFailedError, NotSupportedOnPlatformError } from '../../errors.js';
import type { ContainerRef } from '../../policy/schema.js';
import { NETNS_DIR } from '../../server/peer.js';
import { writeStateFile } from '../../state-file.js';
import type { HostPlatformSessions, ResolvedContainer, SessionHostSpawn } from '../types.js';
import { cgroupEmpty, isOwnCgroup, killCgroup, newCgroup, removeCgroup, SESSION_CGROUP_PARENT, spawnInCgroup, stopCgroup } from './cgroups.js';
import { ENOSYS, openPidfd, pidfdStillNames } from './pidfd.js';

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

const firstPidLine = (text: string) => text.split('\n').find((line) => line.trim()) ?? '';

function cgroupLists(procs: string, pid: number): boolean {
  try {
    return readFileSync(procs, 'utf8').split('\n').some((line) => line.trim() === String(pid));
  } catch {
    return false;
  }
}

function release(namespaces: { net: number; uts?: number; ipc?: number }): void {
  for (const fd of [namespaces.net, namespaces.uts, namespaces.ipc]) if (fd !== undefined) closeSync(fd);
}

const ESRCH = 3;
const EINVAL = 22;
let unpinnedNoted = false;

/** Said once on stderr: without pidfd_open (ENOSYS) a reused pid goes unnoticed. */
function noteUnpinned(): void {
  if (unpinnedNoted) return;
  unpinnedNoted = true;
  process.stderr.write(
    'winshost-broker: pidfd_open is not available (Linux before 5.3, or a seccomp filter); the namespaces of containers found by pid file or cgroup are opened ' +
      'without checking that their pid was not reused meanwhile\n',
  );
}

/** Where tests step in between the steps of a pinned open, to play the pid reuse the pinning is there to catch. */
export interface ContainerResolveHooks {
  /** After the pid is read (pid file, cgroup.procs), before a pidfd is taken for it. */
  afterPidRead?(pid: number): void | Promise<void>;
  /** After the pidfd is taken, before the namespaces are opened through /proc/<pid>. */
  afterPin?(pid: number): void | Promise<void>;
}

/**
 * The namespaces of the process a pid names, opened so that a pid reused meanwhile is noticed. The pid is
 * pinned with a pidfd first; the namespaces are opened through /proc/<pid>; then the pidfd must still name
 * a live process with that pid: if the process was reaped in between, its pid may have gone to another
 * process whose namespaces these are. `stillTheTarget` is checked between the open and that last check, when
 * the pid is known to be the pinned process's: for a cgroup target it says whether the pinned process is
 * still in that cgroup, which also catches a pid reused between the read and the pin (a process of the
 * container is in its cgroup; an impostor with a reused pid is not).
 */
async function pinnedNamespacesOfPid(
  name: string,
  pid: number,
  stillTheTarget: { check: () => boolean; otherwise: string } | undefined,
  hooks: ContainerResolveHooks,
): Promise<{ net: number; uts: number; ipc: number }> {
  await hooks.afterPidRead?.(pid);
  const pin = await openPidfd(pid);
  if ('errno' in pin) {
    // EINVAL: a thread id that is not a process's (pidfd_open pins thread-group leaders only).
    if (pin.errno === ESRCH || pin.errno === EINVAL) throw notFound(name, `process ${pid} is not running`);
    if (pin.errno !== ENOSYS) throw new HostOperationFailedError(`cannot pin process ${pid} of container '${name}': pidfd_open failed with errno ${pin.errno}`);
    noteUnpinned();
  }
  const pidfd = 'fd' in pin ? pin.fd : undefined;
  try {
    await hooks.afterPin?.(pid);
    const namespaces = namespacesOfPid(name, pid);
    let refusal: string | undefined;
    if (stillTheTarget && !stillTheTarget.check()) refusal = stillTheTarget.otherwise;
    // Last: only while the pinned process lives is every /proc/<pid> read above known to have been its.
    if (pidfd !== undefined && !pidfdStillNames(pidfd, pid)) refusal = `process ${pid} exited while its namespaces were being opened`;
    if (refusal !== undefined) {
      release(namespaces);
      throw notFound(name, refusal);
    }
    return namespaces;
  } finally {
    if (pidfd !== undefined) closeSync(pidfd);
  }
}

/**
 * Finds a container target now and opens the namespaces a session in it joins. `hooks` exist for tests only.
 */
export async function resolveLinuxContainer(name: string, ref: ContainerRef, hooks: ContainerResolveHooks = {}): Promise<ResolvedContainer> {
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
    // A pid file says nothing more about its process than the number: the pin covers the open only.
    namespaces = await pinnedNamespacesOfPid(name, readPid(name, ref.pidFile, 'pid file', (text) => text), undefined, hooks);
  } else if (ref.cgroup !== undefined) {
    // Membership is read back from the same cgroup.procs the pid came from, so it means the same thing on
    // cgroup v1 and v2 and needs no translation between /proc/<pid>/cgroup paths and the mount.
    const procs = join(ref.cgroup, 'cgroup.procs');
    const pid = readPid(name, procs, 'cgroup', firstPidLine);
    namespaces = await pinnedNamespacesOfPid(name, pid, { check: () => cgroupLists(procs, pid), otherwise: `process ${pid} left ${ref.cgroup} while its namespaces were being opened` }, hooks);
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

/** The file in the state directory that lists the cgroup of every session host alive (Linux). */
export const SESSION_REGISTRY_FILE = 'sessions.json';
const SESSION_CGROUP_PREFIX = 's';

/**
 * The cgroups of this run's session hosts, kept in `<state dir>/sessions.json` so that a broker that was
 * killed (SIGKILL, the OOM killer, a crash) is followed by one that ends what they left: a
 * session host of the dead broker sees its stdin close and exits, but what it started (a setsid daemon, a
 * Start-Process child) lives on in its cgroup. A cgroup is listed before its host starts and unlisted once
 * it is removed, so no crash between the two leaves one unlisted. Until `restore` names the state directory
 * (a platform used without a broker, in tests) the list is kept in memory only.
 */
export class SessionCgroupRegistry {
  private readonly listed = new Set<string>();
  private file: string | undefined;

  /**
   * Ends what an earlier run listed in `stateDir` and records this run's hosts there from now on. Every
   * listed cgroup that still exists and has the shape of a session cgroup under this broker's own is
   * killed before this returns (cgroup.kill, or frozen and killed); it is removed and unlisted once empty,
   * and stays listed meanwhile, so a crash during the sweep leaves it for the next start. Anything else in
   * the file is never acted on: only listed paths, never a sweep of the directory, which another broker
   * sharing this cgroup may be using. Returns how many cgroups were stopped.
   */
  restore(stateDir: string, log: (message: string) => void): number {
    const file = join(stateDir, SESSION_REGISTRY_FILE);
    let entries: unknown[] = [];
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { cgroups?: unknown };
      if (Array.isArray(parsed?.cgroups)) entries = parsed.cgroups;
      else log(`${file} lists no cgroups; ignored`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log(`${file} is unreadable (${(error as Error).message}); what the previous run's sessions left is not ended`);
    }
    let stopped = 0;
    for (const cgroup of entries) {
      if (typeof cgroup !== 'string' || !isOwnCgroup(cgroup, SESSION_CGROUP_PARENT, SESSION_CGROUP_PREFIX)) {
        log(`${file} names ${JSON.stringify(cgroup)}, which is not a session cgroup under this broker's cgroup; left alone`);
        continue;
      }
      if (!existsSync(join(cgroup, 'cgroup.procs'))) continue;
      this.listed.add(cgroup);
      if (!cgroupEmpty(cgroup)) killCgroup(cgroup);
      stopped++;
      void stopCgroup(cgroup, 0).then(() => {
        if (existsSync(cgroup)) log(`${cgroup}, left by a session of the previous run, did not empty; the next start tries again`);
        else this.unlist(cgroup, log);
      });
    }
    this.file = file;
    this.save();
    return stopped;
  }

  /** Before the host starts in it; throws when the list cannot be written, and then the host must not start. */
  list(cgroup: string): void {
    this.listed.add(cgroup);
    try {
      this.save();
    } catch (error) {
      this.listed.delete(cgroup);
      throw error;
    }
  }

  unlist(cgroup: string, log: (message: string) => void = (message) => process.stderr.write(`winshost-broker: ${message}\n`)): void {
    if (!this.listed.delete(cgroup)) return;
    try {
      this.save();
    } catch (error) {
      // Listed a while longer: the next start finds the cgroup gone and drops it.
      log(`cannot update ${this.file}: ${(error as Error).message}`);
    }
  }

  /** What is listed now, for tests. */
  cgroups(): string[] {
    return [...this.listed];
  }

  private save(): void {
    if (this.file !== undefined) writeStateFile(this.file, { version: 1, cgroups: [...this.listed] });
  }
}

/**
 * Starts the host so that everything it starts can be found again, and ends all of that when the host
 * exits, however it exits (closed, idle, its caller gone, killed after a stuck stop, crashed): a session
 * owns nothing that outlives it. With cgroup v2 the host is born in a cgroup of its own (through nsenter
 * too: nsenter execs pwsh, and both are in the cgroup from the start), and a setsid descendant is still in
 * it. Without, the host leads its own process group (detached: setsid, which changes nothing about the
 * pipes, so the host still ends when the broker closes its stdin), and the group is killed: a descendant
 * that calls setsid leaves the group and survives, the limit giveUpCgroups warns about. The cgroup is in
 * `registry` from before the host starts until it is removed, for the broker after a crash.
 */
export function spawnContainedHost(spec: SessionHostSpawn, useCgroups: boolean, registry: SessionCgroupRegistry = new SessionCgroupRegistry()): ChildProcess {
  const { file, args, fds } = sessionHostCommand(spec);
  const start = (detached: boolean) =>
    spawn(file, args, {
      cwd: spec.cwd,
      env: sessionHostEnvironment(process.env, spec.env),
      stdio: ['pipe', 'pipe', 'pipe', ...fds],
      detached,
    });
  let cgroup = useCgroups ? newCgroup(SESSION_CGROUP_PARENT, SESSION_CGROUP_PREFIX) : undefined;
  let child: ChildProcess | undefined;
  try {
    if (cgroup) registry.list(cgroup);
    child = cgroup ? spawnInCgroup(cgroup, () => start(false)) : undefined;
  } catch (error) {
    if (cgroup) {
      removeCgroup(cgroup);
      registry.unlist(cgroup);
    }
    throw error;
  }
  if (!child) {
    // spawnInCgroup gave up on cgroups and removed this one.
    if (cgroup) registry.unlist(cgroup);
    cgroup = undefined;
    child = start(true);
  }
  const tree = cgroup;
  const host = child;
  // 'exit', not 'close': a leftover that holds the host's pipes would hold 'close' back, and is what must go.
  host.once('exit', () => {
    if (tree) {
      void stopCgroup(tree, 0).then(() => {
        // A cgroup that did not empty stays listed: the next start after a crash ends it.
        if (!existsSync(tree)) registry.unlist(tree);
      });
    } else if (host.pid !== undefined) killGroup(host.pid);
  });
  // A host that never started has no exit; its cgroup is empty and only the directory is left to remove.
  host.once('error', () => {
    if (tree && host.pid === undefined) {
      removeCgroup(tree);
      if (!existsSync(tree)) registry.unlist(tree);
    }
  });
  return host;
}

export interface LinuxSessionOptions {
  /** false: process groups only, as on a host without a usable cgroup v2 (for tests of that path). */
  cgroups?: boolean;
}

export interface LinuxSessionHosts extends HostPlatformSessions {
  restore(stateDir: string, log: (message: string) => void): number;
  /** Where the cgroups of live hosts are listed. */
  readonly registry: SessionCgroupRegistry;
}

export function linuxSessionHosts(options: LinuxSessionOptions = {}): LinuxSessionHosts {
  const useCgroups = options.cgroups ?? true;
  const registry = new SessionCgroupRegistry();
  return {
    registry,

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
      return spawnContainedHost(spec, useCgroups, registry);
    },

    restore(stateDir, log) {
      return registry.restore(stateDir, log);
    },
  };
}

/** For tests that share one; linuxPlatform() makes a fresh one per platform, so each broker lists its own hosts. */
export const linuxSessions: LinuxSessionHosts = linuxSessionHosts();
