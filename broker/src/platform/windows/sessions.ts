/**
 * Session hosts on Windows. The host always runs on the host: a container session is opened by the session
 * host itself through PowerShell Direct (`containerId` in the open config), so no process has to be started
 * inside the container and the container needs no listener.
 *
 * Each host is held in a Job Object of its own with KILL_ON_JOB_CLOSE, as started processes are (see
 * processes.ts for why libuv's own job is not enough: it lets descendants break away). The broker closes the
 * job's handle when the host exits, however it exits, so whatever the session started ends with it, and the
 * handle also closes if the broker dies. The job has no breakaway, so nothing the host starts can leave it.
 */
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { HostOperationFailedError, NotSupportedOnPlatformError } from '../../errors.js';
import type { ContainerRef } from '../../policy/schema.js';
import type { HostPlatformSessions, ResolvedContainer, SessionHostSpawn } from '../types.js';
import {
  extendedLimitInformation,
  JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  JobObjectExtendedLimitInformation,
  PROCESS_SET_QUOTA,
  PROCESS_TERMINATE,
  windowsBaseEnvironment,
  type ProcessCalls,
} from './processes.js';
import { win32Failure } from './win32.js';

export interface WindowsSessionDeps {
  env: NodeJS.ProcessEnv;
  exists(path: string): boolean;
  spawn(file: string, args: string[], options: SpawnOptions): ChildProcess;
  /** kernel32's job calls; by default native.ts, imported on the first host so koffi loads only when needed. */
  calls(): Promise<ProcessCalls>;
}

/** What AssignProcessToJobObject needs on the process handle, and no more. */
export const SESSION_HOST_JOB_ACCESS = PROCESS_SET_QUOTA | PROCESS_TERMINATE;

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const upper = name.toUpperCase();
  for (const [key, value] of Object.entries(env)) if (key.toUpperCase() === upper && value) return value;
  return undefined;
}

/** PowerShell 7 where its installer puts it, else the Windows PowerShell every Windows has. */
export function defaultWindowsExecutable(env: NodeJS.ProcessEnv, exists: (path: string) => boolean): string {
  const programFiles = variable(env, 'ProgramFiles') ?? 'C:\\Program Files';
  const pwsh = path.win32.join(programFiles, 'PowerShell', '7', 'pwsh.exe');
  if (exists(pwsh)) return pwsh;
  const systemRoot = variable(env, 'SystemRoot') ?? 'C:\\Windows';
  return path.win32.join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

/** The system's locations (as for processes) and the policy's variables; nothing of the broker's own. */
export function windowsSessionEnvironment(env: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  return { ...windowsBaseEnvironment(env), ...extra };
}

export function resolveWindowsContainer(name: string, ref: ContainerRef): ResolvedContainer {
  if (ref.containerId === undefined) {
    throw new NotSupportedOnPlatformError(`container '${name}' is given by a Linux namespace, pid file or cgroup; Windows containers are named by containerId`, 'windows');
  }
  // Whether it exists and runs is for PowerShell Direct to say (openFailed ContainerUnreachable).
  return { name, openConfig: { containerId: ref.containerId }, release: () => {} };
}

/** What `spawnHost` passes to spawn: kept apart so a test can compare it whole. */
export function windowsSessionSpawn(spec: SessionHostSpawn, env: NodeJS.ProcessEnv): { file: string; args: string[]; options: SpawnOptions } {
  return {
    file: spec.executable,
    args: spec.args,
    options: {
      cwd: spec.cwd,
      env: windowsSessionEnvironment(env, spec.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      // The broker runs as a service without a desktop; a console window would flash on an interactive one.
      windowsHide: true,
    },
  };
}

/**
 * Puts a running host into a new kill-on-close job and closes the job when the host exits. All or nothing:
 * on failure no handle is left open and the caller must end the host. The pid is our child's: libuv holds
 * its process handle until the exit is reported, so it cannot name another process while `child` runs.
 */
export function holdHostInJob(calls: ProcessCalls, child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const created = calls.createJobObject();
  if (created.handle === 0n) throw win32Failure('CreateJobObjectW', created.lastError);
  const job = created.handle;
  let target = 0n;
  try {
    const set = calls.setInformationJobObject(job, JobObjectExtendedLimitInformation, extendedLimitInformation(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE));
    if (!set.ok) throw win32Failure('SetInformationJobObject', set.lastError);
    const opened = calls.openProcess(SESSION_HOST_JOB_ACCESS, pid);
    if (opened.handle === 0n) throw win32Failure(`OpenProcess(${pid})`, opened.lastError);
    target = opened.handle;
    const assigned = calls.assignProcessToJobObject(job, target);
    if (!assigned.ok) throw win32Failure('AssignProcessToJobObject', assigned.lastError);
  } catch (error) {
    calls.closeHandle(job);
    throw error;
  } finally {
    if (target !== 0n) calls.closeHandle(target);
  }
  // Closing the last handle of a kill-on-close job ends every process still in it: the host's leftovers.
  child.once('exit', () => calls.closeHandle(job));
}

function notContained(error: unknown): HostOperationFailedError {
  return new HostOperationFailedError(`the session host cannot be held in a job object (${(error as Error).message})`, { reason: 'SessionHostStartFailed', cause: error });
}

export function windowsSessions(deps: Partial<WindowsSessionDeps> = {}): HostPlatformSessions {
  const env = deps.env ?? process.env;
  const exists = deps.exists ?? existsSync;
  const spawn = deps.spawn ?? nodeSpawn;
  const loadCalls = deps.calls ?? (async () => (await import('./native.js')).processCalls());
  let calls: ProcessCalls | undefined;
  return {
    async defaultExecutable() {
      return defaultWindowsExecutable(env, exists);
    },
    async resolveContainer(name, ref) {
      return resolveWindowsContainer(name, ref);
    },
    spawnHost(spec) {
      const { file, args, options } = windowsSessionSpawn(spec, env);
      const child = spawn(file, args, options);
      if (child.pid === undefined) return child; // its 'error' says why
      if (calls) {
        // Same turn as the spawn, as for started processes: the host is in its job before anything it runs.
        try {
          holdHostInJob(calls, child);
        } catch (error) {
          // Nobody will listen to this child again: a failing kill must not become an unhandled 'error'.
          child.on('error', () => {});
          child.kill();
          throw notContained(error);
        }
        return child;
      }
      // The first host waits for the native calls to load. Its output is held back meanwhile: the broker
      // acts on a host only after its `ready`, so no caller's script reaches it before it is in its job. (A
      // stream paused explicitly stays paused when SessionHost adds its 'data' listener.)
      child.stdout?.pause();
      loadCalls()
        .then((loaded) => {
          calls = loaded;
          holdHostInJob(loaded, child);
        })
        .catch((error: unknown) => {
          // A host that is not held is not one a session may use; 'error' tells SessionHost why it ended.
          const listened = child.listenerCount('error') > 0;
          child.on('error', () => {});
          if (listened) child.emit('error', notContained(error));
          child.kill();
        })
        .finally(() => child.stdout?.resume());
      return child;
    },
  };
}
