import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HostOperationFailedError } from '../../errors.js';
import type { HostPlatformProcesses, LaunchedProcess, ProcessEvents, ProcessLaunch } from '../types.js';
import { cgroupsUnavailableReason, newCgroup, PROCESS_CGROUP_PARENT, removeCgroup, spawnInCgroup, stopCgroup } from './cgroups.js';

export { ownCgroupDirectory } from './cgroups.js';

/** Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot; with the pid it names one process. */
export function startTimeFromStat(stat: string): string | null {
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

async function startTime(pid: number): Promise<string | null> {
  try {
    return startTimeFromStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The fallback without cgroups: SIGTERM to the whole process group, then SIGKILL to whatever of the group
 * is left after the grace period. A descendant that started its own session left the group and is not
 * reached: that is the limit of process groups.
 */
async function stopGroup(pgid: number, graceMs: number, leaderGone: () => boolean): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (leaderGone() && !signalGroup(pgid, 0)) return;
    await sleep(20);
  }
  signalGroup(pgid, 'SIGKILL');
}

// ---- cgroup v2: one cgroup per started process, so no descendant can leave the tree (see cgroups.ts) ----

/** The directory, under the broker's own cgroup, that holds one cgroup per started process. */
export const CGROUP_PARENT = PROCESS_CGROUP_PARENT;
const CGROUP_NAME = /^p-[0-9a-z]+$/;

/** Makes a fresh, empty cgroup for one process, or says why there is none (then process groups are used). */
const createProcessCgroup = () => newCgroup(CGROUP_PARENT, 'p');

/** A cgroup named in the registry is used only if it has the shape of one this platform made. */
function isProcessCgroup(path: string): boolean {
  return path.startsWith('/') && CGROUP_NAME.test(basename(path)) && basename(dirname(path)) === CGROUP_PARENT && !path.includes('/../') && existsSync(join(path, 'cgroup.procs'));
}

// ---- `#!` scripts: run the checked descriptor, not the name ----

/** The kernel reads this much of a file for the `#!` line (BINPRM_BUF_SIZE). */
const INTERPRETER_LINE_BYTES = 256;

/**
 * The interpreter and its optional single argument from a `#!` line, split as the kernel does
 * (fs/binfmt_script.c: the rest of the line after the interpreter is one argument). Null when the file is
 * not a script.
 */
export function parseInterpreterLine(head: Buffer, path: string): { interpreter: string; argument?: string } | null {
  if (head.length < 2 || head[0] !== 0x23 || head[1] !== 0x21) return null;
  let end = head.indexOf(0x0a);
  if (end < 0) {
    if (head.length >= INTERPRETER_LINE_BYTES) throw new HostOperationFailedError(`the #! line of ${path} is longer than the ${INTERPRETER_LINE_BYTES} bytes the kernel reads`, { reason: 'BadInterpreterLine' });
    end = head.length;
  }
  const line = head.subarray(2, end).toString('latin1').replace(/^[ \t]+|[ \t]+$/g, '');
  const split = /[ \t]/.exec(line);
  const interpreter = split ? line.slice(0, split.index) : line;
  const argument = split ? line.slice(split.index).replace(/^[ \t]+/, '') : '';
  if (!interpreter.startsWith('/')) {
    throw new HostOperationFailedError(`the #! line of ${path} must name its interpreter by an absolute path, not ${JSON.stringify(interpreter)}`, { reason: 'BadInterpreterLine' });
  }
  return argument ? { interpreter, argument } : { interpreter };
}

function interpreterOf(fd: number, path: string): { interpreter: string; argument?: string } | null {
  const head = Buffer.alloc(INTERPRETER_LINE_BYTES);
  const bytesRead = readSync(fd, head, 0, head.length, 0);
  return parseInterpreterLine(head.subarray(0, bytesRead), path);
}

/** The descriptor a script reaches its interpreter through: the child's fd 3, inherited (not close-on-exec). */
const SCRIPT_FD = 3;

function nft(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new HostOperationFailedError(missing ? "'nft' (nftables) is not installed on the host; exposing ports needs it" : `nft failed: ${String(stderr).trim() || error.message}`, {
          cause: error,
          reason: missing ? 'ToolMissing' : 'OperationFailed',
        }),
      );
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(script);
  });
}

const TABLE = 'inet winshost';

/** The comment that names a port rule, so exactly that rule can be found and removed. */
function portComment(port: { protocol: string; port: number }, owner: string): string {
  return `winshost ${owner} ${port.protocol}/${port.port}`.replace(/[^A-Za-z0-9 ./:_-]/g, '_');
}

export const linuxProcesses: HostPlatformProcesses = {
  baseEnvironment() {
    return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
  },

  async launch(spec: ProcessLaunch, events: ProcessEvents): Promise<LaunchedProcess> {
    const fds: number[] = [];
    const output = (path: string) => {
      const fd = openSync(path, 'a', 0o600);
      fds.push(fd);
      return fd;
    };
    let cgroup: string | undefined;
    try {
      const stdio: ('pipe' | 'ignore' | number)[] = [
        spec.stdin ? 'pipe' : 'ignore',
        spec.outputFiles ? output(spec.outputFiles.stdout) : 'pipe',
        spec.outputFiles ? output(spec.outputFiles.stderr) : 'pipe',
      ];
      // Executing /proc/self/fd/N runs the very file that was opened and hashed, whatever the path names
      // by now; argv0 keeps the program's own name. The descriptor is close-on-exec, so the program does
      // not inherit it. A `#!` script cannot go that way (its interpreter would open the name again, or
      // find the descriptor closed), so the interpreter of its first line is started with the script's
      // descriptor as its fd 3 and /proc/self/fd/3 as the script: what runs is still what was checked.
      // The interpreter itself is run by the path in that line, as the kernel would.
      let file = spec.path;
      let args = spec.args;
      let argv0 = spec.path;
      if (spec.programFd !== undefined) {
        const script = interpreterOf(spec.programFd, spec.path);
        if (script) {
          file = argv0 = script.interpreter;
          args = [...(script.argument !== undefined ? [script.argument] : []), `/proc/self/fd/${SCRIPT_FD}`, ...spec.args];
          stdio[SCRIPT_FD] = spec.programFd;
        } else {
          file = `/proc/self/fd/${spec.programFd}`;
        }
      }
      // setsid (detached) makes the child a process group leader: the fallback for whole-tree stops.
      const start = () => spawn(file, args, { argv0, cwd: spec.cwd, env: spec.env, stdio, detached: true, shell: false });
      cgroup = createProcessCgroup();
      let child = cgroup ? spawnInCgroup(cgroup, start) : undefined;
      if (!child) {
        cgroup = undefined;
        child = start();
      }
      const tree = cgroup;
      let exited = false;
      child.once('exit', () => (exited = true));
      child.stdout?.on('data', (chunk: Buffer) => events.output('stdout', chunk, child.stdout!));
      child.stderr?.on('data', (chunk: Buffer) => events.output('stderr', chunk, child.stderr!));
      // The tree lives as long as the process that was started: what it leaves behind in its cgroup (a
      // daemon it forked, a setsid descendant) is killed when it ends, as nobody could stop it later.
      child.once('close', (code, signal) => {
        if (!tree) return events.close(code, signal);
        void stopCgroup(tree, 0).finally(() => events.close(code, signal));
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', (error) => reject(new HostOperationFailedError(`cannot start ${spec.path}: ${error.message}`, { cause: error })));
      });
      const pid = child.pid!;
      const instance = (await startTime(pid)) ?? '';
      return {
        child,
        pid,
        instance,
        cgroup: tree,
        stopTree: async (graceMs) => {
          if (tree) await stopCgroup(tree, graceMs);
          else await stopGroup(pid, graceMs, () => exited);
          if (!exited) await new Promise((resolve) => child.once('exit', resolve));
        },
        release: () => child.unref(),
      };
    } catch (error) {
      if (cgroup) removeCgroup(cgroup);
      throw error;
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  },

  async instanceOf(pid) {
    return startTime(pid);
  },

  async stopOrphanTree(pid, instance, graceMs, cgroup) {
    // The cgroup names the tree by itself, whether or not its first process still runs: a pid can be
    // reused, a cgroup directory of ours cannot.
    if (cgroup !== undefined && isProcessCgroup(cgroup)) return stopCgroup(cgroup, graceMs);
    if ((await startTime(pid)) !== instance) return;
    await stopGroup(pid, graceMs, () => false);
  },

  containment() {
    // Probing now puts the answer in the start-up log; the first start still falls back if moving fails.
    const probe = createProcessCgroup();
    if (probe) removeCgroup(probe);
    return probe ? `one cgroup per process under ${dirname(probe)}` : `process groups only (cgroup v2 is not usable: ${cgroupsUnavailableReason()})`;
  },

  async exposePort(port, owner) {
    // Creating the table and chain is idempotent in one transaction with the rule.
    await nft(
      `add table ${TABLE}\nadd chain ${TABLE} input { type filter hook input priority 0; policy accept; }\n` +
        `add rule ${TABLE} input meta l4proto ${port.protocol} th dport ${port.port} accept comment "${portComment(port, owner)}"\n`,
    );
  },

  async closePort(port, owner) {
    const listing = await new Promise<string>((resolve) => {
      execFile('nft', ['-j', '-a', 'list', 'chain', 'inet', 'winshost', 'input'], { timeout: 10_000 }, (error, stdout) => resolve(error ? '' : stdout));
    });
    if (!listing) return;
    const comment = portComment(port, owner);
    const handles = (JSON.parse(listing).nftables as { rule?: { comment?: string; handle: number } }[])
      .filter((item) => item.rule?.comment === comment)
      .map((item) => item.rule!.handle);
    if (handles.length) await nft(handles.map((handle) => `delete rule ${TABLE} input handle ${handle}`).join('\n') + '\n');
  },
};
