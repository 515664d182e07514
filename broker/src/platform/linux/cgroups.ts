/**
 * cgroup v2 trees for what the broker starts: started processes (processes.ts) and session hosts
 * (sessions.ts). Each gets a fresh cgroup under the broker's own, is born in it (spawnInCgroup), and
 * whatever it leaves behind is found there, setsid or not. Where cgroup v2 is not usable the callers fall
 * back to process groups, and the broker says so once (giveUpCgroups).
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';

/** The directory, under the broker's own cgroup, that holds one cgroup per started process. */
export const PROCESS_CGROUP_PARENT = 'winshost';
/**
 * The one that holds one cgroup per session host. Apart from the processes' directory so that nothing that
 * trusts the shape `winshost/p-*` (a cgroup named in the process registry and stopped after a restart) can
 * ever be pointed at a session host's tree, and so either kind can be listed or cleaned up on its own.
 */
export const SESSION_CGROUP_PARENT = 'winshost-sessions';
/** How long a killed cgroup may take to empty before its directory is left for the next stop to remove. */
export const CGROUP_EMPTY_WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `\040` and friends: mountinfo escapes spaces, tabs, newlines and backslashes in octal. */
const unescapeMountField = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/**
 * Where the broker's own cgroup v2 directory is: the cgroup2 mount (`/sys/fs/cgroup` on a unified host,
 * `/sys/fs/cgroup/unified` on a hybrid one) joined with the `0::` line of /proc/self/cgroup, relative to
 * the mount's root (a cgroup namespace or a bind mount of a subtree shows only part of the hierarchy).
 */
export function ownCgroupDirectory(mountinfo: string, selfCgroup: string): string | { unavailable: string } {
  const own = selfCgroup.split('\n').find((line) => line.startsWith('0::'))?.slice(3);
  if (own === undefined) return { unavailable: 'this process has no cgroup v2 membership (cgroup v1 only)' };
  for (const line of mountinfo.split('\n')) {
    const [mountFields, fsFields] = line.split(' - ');
    if (!fsFields || fsFields.split(' ')[0] !== 'cgroup2') continue;
    const fields = mountFields.split(' ');
    const root = unescapeMountField(fields[3]);
    const mountPoint = unescapeMountField(fields[4]);
    if (own !== root && !own.startsWith(root === '/' ? '/' : `${root}/`)) continue;
    return join(mountPoint, own.slice(root === '/' ? 0 : root.length)).replace(/(.)\/+$/, '$1');
  }
  return { unavailable: `no cgroup2 mount shows this process's cgroup ${own}` };
}

function cgroupHome(): string | { unavailable: string } {
  try {
    return ownCgroupDirectory(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
  } catch (error) {
    return { unavailable: `cannot read /proc/self: ${(error as Error).message}` };
  }
}

let cgroupsUnavailable: string | undefined;

/** Why cgroup v2 is not used, once that has been found out; undefined while it still is. */
export function cgroupsUnavailableReason(): string | undefined {
  return cgroupsUnavailable;
}

/** Said once on stderr: the broker's log, like the other start-up notes. */
export function giveUpCgroups(reason: string): void {
  if (cgroupsUnavailable !== undefined) return;
  cgroupsUnavailable = reason;
  process.stderr.write(
    `winshost-broker: cgroup v2 is not usable (${reason}); started processes and session hosts are tracked by process group only, ` +
      'so a descendant that calls setsid escapes Stop-HostProcess, the end of its caller and the end of its session\n',
  );
}

/**
 * Makes a fresh, empty cgroup `<broker cgroup>/<parent>/<prefix>-<unique>`, or undefined when cgroup v2 is
 * not usable (then process groups are used, and the reason was said once).
 */
export function newCgroup(parent: string, prefix: string): string | undefined {
  if (cgroupsUnavailable !== undefined) return undefined;
  const home = cgroupHome();
  if (typeof home !== 'string') {
    giveUpCgroups(home.unavailable);
    return undefined;
  }
  const dir = join(home, parent, `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    giveUpCgroups(`cannot create ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return undefined;
  }
  return dir;
}

/**
 * Whether `path` has the shape of a cgroup newCgroup(parent, prefix) makes in this broker's cgroup, today:
 * the only paths read back from a state file that may be killed and removed. Another broker's cgroups, a
 * path that climbs out with `..`, or this broker's own cgroup never pass.
 */
export function isOwnCgroup(path: string, parent: string, prefix: string): boolean {
  if (!isAbsolute(path) || normalize(path) !== path) return false;
  const home = cgroupHome();
  if (typeof home !== 'string') return false;
  const name = basename(path);
  return dirname(path) === join(home, parent) && name.startsWith(`${prefix}-`) && /^[0-9a-z]+$/.test(name.slice(prefix.length + 1));
}

/**
 * Runs `spawn` with the broker itself inside `cgroup`, so the child is born there: a program cannot fork
 * (and setsid) before being moved, because it never was anywhere else. Node has no pre-exec hook and
 * clone3(CLONE_INTO_CGROUP) is out of reach, so the whole broker process (all its threads) moves in for
 * the synchronous spawn and back out right after; nothing else runs in between, as this is one turn of the
 * event loop. Returns undefined when the kernel refuses the move (then the cgroup is removed). `cgroup`
 * must be one newCgroup made: the broker's own cgroup is two levels up.
 */
export function spawnInCgroup<T>(cgroup: string, spawnChild: () => T): T | undefined {
  const home = dirname(dirname(cgroup));
  try {
    writeFileSync(join(cgroup, 'cgroup.procs'), String(process.pid));
  } catch (error) {
    removeCgroup(cgroup);
    giveUpCgroups(`cannot move a process into ${cgroup}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return undefined;
  }
  try {
    return spawnChild();
  } finally {
    // Moving back cannot fail where moving in worked (same owner, same common ancestor); if it did, a stop
    // of this cgroup would kill the broker, so it must not go on.
    try {
      writeFileSync(join(home, 'cgroup.procs'), String(process.pid));
    } catch (error) {
      process.stderr.write(`winshost-broker: cannot leave ${cgroup} after starting a process: ${(error as Error).message}; exiting\n`);
      process.exit(70);
    }
  }
}

export function cgroupPids(cgroup: string): number[] {
  try {
    return readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `populated 0` in cgroup.events: no live process in the cgroup or below (zombies do not count). */
export function cgroupEmpty(cgroup: string): boolean {
  try {
    return /^populated 0$/m.test(readFileSync(join(cgroup, 'cgroup.events'), 'utf8'));
  } catch {
    return true; // gone
  }
}

export function removeCgroup(cgroup: string): void {
  try {
    rmdirSync(cgroup);
  } catch {
    // still populated (a process stuck in the kernel) or already gone: the next stop tries again
  }
}

/** SIGKILL to every process of the cgroup at once (cgroup.kill, Linux 5.14), else frozen and killed one by one. */
export function killCgroup(cgroup: string): void {
  try {
    writeFileSync(join(cgroup, 'cgroup.kill'), '1');
    return;
  } catch {
    // older kernel: no cgroup.kill
  }
  // Frozen processes cannot fork, so the list read while frozen is complete; SIGKILL works on frozen tasks.
  const frozen = existsSync(join(cgroup, 'cgroup.freeze'));
  if (frozen) writeFileSync(join(cgroup, 'cgroup.freeze'), '1');
  for (const pid of cgroupPids(cgroup)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (frozen) writeFileSync(join(cgroup, 'cgroup.freeze'), '0');
}

export async function untilEmpty(cgroup: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cgroupEmpty(cgroup)) {
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}

/** SIGTERM to every process of the cgroup, SIGKILL to all that are left after the grace period, then rmdir. */
export async function stopCgroup(cgroup: string, graceMs: number): Promise<void> {
  if (graceMs > 0) {
    for (const pid of cgroupPids(cgroup)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await untilEmpty(cgroup, graceMs);
  }
  // Also when it looks empty: a process forked between the list and the signals would otherwise be missed.
  if (!cgroupEmpty(cgroup)) killCgroup(cgroup);
  if (await untilEmpty(cgroup, CGROUP_EMPTY_WAIT_MS)) removeCgroup(cgroup);
}
