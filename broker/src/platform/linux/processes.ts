import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HostOperationFailedError } from '../../errors.js';
import type { HostPlatformProcesses, LaunchedProcess, ProcessEvents, ProcessLaunch } from '../types.js';

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
 * SIGTERM to the whole process group, then SIGKILL to whatever of the group is left after the grace
 * period. A child that started its own session left the group and is not reached: that is the limit of
 * process groups (a cgroup per process would close it).
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
    try {
      const stdio: ('pipe' | 'ignore' | number)[] = [
        spec.stdin ? 'pipe' : 'ignore',
        spec.outputFiles ? output(spec.outputFiles.stdout) : 'pipe',
        spec.outputFiles ? output(spec.outputFiles.stderr) : 'pipe',
      ];
      // Executing /proc/self/fd/N runs the very file that was opened and hashed, whatever the path names
      // by now; argv0 keeps the program's own name. The descriptor is close-on-exec, so the program does
      // not inherit it. setsid (detached) makes the child a process group leader for whole-tree stops.
      const child = spawn(spec.programFd !== undefined ? `/proc/self/fd/${spec.programFd}` : spec.path, spec.args, {
        argv0: spec.path,
        cwd: spec.cwd,
        env: spec.env,
        stdio,
        detached: true,
        shell: false,
      });
      let exited = false;
      child.once('exit', () => (exited = true));
      child.stdout?.on('data', (chunk: Buffer) => events.output('stdout', chunk, child.stdout!));
      child.stderr?.on('data', (chunk: Buffer) => events.output('stderr', chunk, child.stderr!));
      child.once('close', (code, signal) => events.close(code, signal));
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
        stopTree: async (graceMs) => {
          await stopGroup(pid, graceMs, () => exited);
          if (!exited) await new Promise((resolve) => child.once('exit', resolve));
        },
        release: () => child.unref(),
      };
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  },

  async instanceOf(pid) {
    return startTime(pid);
  },

  async stopOrphanTree(pid, instance, graceMs) {
    if ((await startTime(pid)) !== instance) return;
    await stopGroup(pid, graceMs, () => false);
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
