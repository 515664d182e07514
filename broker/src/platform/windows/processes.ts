import { execFile, spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { HostOperationFailedError } from '../../errors.js';
import type { HostPlatformProcesses, LaunchedProcess, ProcessEvents, ProcessLaunch } from '../types.js';
import { ERROR_INVALID_PARAMETER, win32Failure } from './win32.js';

/**
 * Process trees on Windows: Job Objects instead of process groups.
 *
 * How a tree is tied to the broker. libuv already puts every non-detached child into one process-wide job of
 * its own (`uv__init_global_job_handle`: KILL_ON_JOB_CLOSE, but also SILENT_BREAKAWAY_OK), so the root dies
 * with the broker, but whatever the root starts silently leaves that job and survives. That is the
 * `taskkill /T /F` gap wins had. Each child therefore also gets a job of ours, without any breakaway: the
 * nested-jobs rules keep a process in its immediate job when that job does not allow breakaway, whatever its
 * ancestors allow, so everything the child starts later stays in our job. With KILL_ON_JOB_CLOSE the OS ends
 * the whole tree when our handle closes, including when the broker dies without cleaning up. Detached
 * processes get no job: they must outlive the broker, so only their root can be ended (see `launched`).
 *
 * The window. Node cannot start a process suspended (libuv suspends only detached children, and resumes them
 * inside uv_spawn). So the child runs from CreateProcessW until AssignProcessToJobObject below. Everything
 * between spawn() returning and the assignment is synchronous JavaScript in one turn of the event loop, so the
 * window is the few microseconds of two system calls, while the new process is normally still in its loader.
 * But nothing guarantees that: a process the child starts inside the window belongs to neither job (libuv's
 * lets it break away) and outlives both stopTree and the broker. If the broker dies inside the window, the root
 * still dies with libuv's job.
 */

/** winnt.h process access rights. */
export const PROCESS_TERMINATE = 0x0001;
export const PROCESS_SET_QUOTA = 0x0100;
export const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
export const SYNCHRONIZE = 0x0010_0000;

/** AssignProcessToJobObject needs SET_QUOTA and TERMINATE; GetProcessTimes needs QUERY_LIMITED_INFORMATION. */
export const LAUNCH_ACCESS = PROCESS_SET_QUOTA | PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION;
/** Identify (GetProcessTimes, GetExitCodeProcess) and nothing more. */
export const QUERY_ACCESS = PROCESS_QUERY_LIMITED_INFORMATION;
/** Identify, end, and wait for the end of an orphan, all through one handle. */
export const ORPHAN_ACCESS = PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE | SYNCHRONIZE;

/** winnt.h: JOBOBJECTINFOCLASS and LimitFlags. */
export const JobObjectExtendedLimitInformation = 9;
export const JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000;

/** minwinbase.h / winbase.h */
export const STILL_ACTIVE = 259;
export const WAIT_OBJECT_0 = 0;
export const WAIT_TIMEOUT = 0x102;
export const WAIT_FAILED = 0xffff_ffff;
export const ERROR_ACCESS_DENIED = 5;

/** The exit code a forced end leaves, as TerminateProcess in libuv's kill does. */
export const FORCED_EXIT_CODE = 1;
/** TerminateJobObject / TerminateProcess only start the end; how long it may take before we call it failed. */
export const FORCED_EXIT_WAIT_MS = 10_000;
/** setTimeout's largest delay; a longer grace would fire at once. */
const MAX_TIMER_MS = 0x7fff_ffff;

/**
 * Byte offsets of the job structures on 64-bit Windows (x64 and ARM64: LLP64, natural alignment), transcribed
 * from winnt.h and checked in test/broker/windows-processes.test.ts against koffi's C layout of the same
 * declarations.
 *
 * `JOBOBJECT_BASIC_LIMIT_INFORMATION { LARGE_INTEGER PerProcessUserTimeLimit; LARGE_INTEGER PerJobUserTimeLimit;
 * DWORD LimitFlags; SIZE_T MinimumWorkingSetSize; SIZE_T MaximumWorkingSetSize; DWORD ActiveProcessLimit;
 * ULONG_PTR Affinity; DWORD PriorityClass; DWORD SchedulingClass; }`: 4 bytes of padding after LimitFlags and
 * after ActiveProcessLimit. `IO_COUNTERS` is six ULONGLONGs. `JOBOBJECT_EXTENDED_LIMIT_INFORMATION
 * { JOBOBJECT_BASIC_LIMIT_INFORMATION BasicLimitInformation; IO_COUNTERS IoInfo; SIZE_T ProcessMemoryLimit;
 * SIZE_T JobMemoryLimit; SIZE_T PeakProcessMemoryUsed; SIZE_T PeakJobMemoryUsed; }`.
 */
export const JOB_X64 = {
  JOBOBJECT_BASIC_LIMIT_INFORMATION: {
    PerProcessUserTimeLimit: 0,
    PerJobUserTimeLimit: 8,
    LimitFlags: 16,
    MinimumWorkingSetSize: 24,
    MaximumWorkingSetSize: 32,
    ActiveProcessLimit: 40,
    Affinity: 48,
    PriorityClass: 56,
    SchedulingClass: 60,
    size: 64,
  },
  IO_COUNTERS: {
    ReadOperationCount: 0,
    WriteOperationCount: 8,
    OtherOperationCount: 16,
    ReadTransferCount: 24,
    WriteTransferCount: 32,
    OtherTransferCount: 40,
    size: 48,
  },
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION: {
    BasicLimitInformation: 0,
    IoInfo: 64,
    ProcessMemoryLimit: 112,
    JobMemoryLimit: 120,
    PeakProcessMemoryUsed: 128,
    PeakJobMemoryUsed: 136,
    size: 144,
  },
  /** minwinbase.h `FILETIME { DWORD dwLowDateTime; DWORD dwHighDateTime; }`: 100 ns ticks since 1601, little-endian. */
  FILETIME: { dwLowDateTime: 0, dwHighDateTime: 4, size: 8 },
} as const;

/** A zeroed JOBOBJECT_EXTENDED_LIMIT_INFORMATION with only LimitFlags set: every other limit stays off. */
export function extendedLimitInformation(limitFlags: number): Buffer {
  const info = Buffer.alloc(JOB_X64.JOBOBJECT_EXTENDED_LIMIT_INFORMATION.size);
  info.writeUInt32LE(
    limitFlags >>> 0,
    JOB_X64.JOBOBJECT_EXTENDED_LIMIT_INFORMATION.BasicLimitInformation + JOB_X64.JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags,
  );
  return info;
}

/** A FILETIME as the decimal string of its 64-bit tick count: the instance token of a process. */
export function fileTimeToken(filetime: Uint8Array): string {
  if (filetime.byteLength < JOB_X64.FILETIME.size) throw new RangeError(`a FILETIME is 8 bytes, not ${filetime.byteLength}`);
  return Buffer.from(filetime.buffer, filetime.byteOffset, JOB_X64.FILETIME.size).readBigUInt64LE(0).toString();
}

/** A returned HANDLE (NULL on failure) with GetLastError read right after a failure. */
export interface HandleResult {
  handle: bigint;
  lastError: number;
}

/** A BOOL-returning call, GetLastError read right after a failure. */
export interface CallResult {
  ok: boolean;
  lastError: number;
}

/** The kernel32 calls behind processes, reduced so tests can stand in for them. Handles are bigints, NULL is 0n. */
export interface ProcessCalls {
  /** CreateJobObjectW(NULL, NULL): an unnamed job, default security, its handle not inheritable. */
  createJobObject(): HandleResult;
  setInformationJobObject(job: bigint, infoClass: number, info: Buffer): CallResult;
  assignProcessToJobObject(job: bigint, process: bigint): CallResult;
  terminateJobObject(job: bigint, exitCode: number): CallResult;
  /** OpenProcess(access, FALSE, pid). */
  openProcess(access: number, pid: number): HandleResult;
  /** GetProcessTimes; each Buffer receives one FILETIME. */
  getProcessTimes(process: bigint, creation: Buffer, exit: Buffer, kernel: Buffer, user: Buffer): CallResult;
  getExitCodeProcess(process: bigint, code: [number]): CallResult;
  terminateProcess(process: bigint, exitCode: number): CallResult;
  closeHandle(handle: bigint): CallResult;
  /** WaitForSingleObject, off the event loop: it blocks for up to `ms`. */
  waitForSingleObject(handle: bigint, ms: number): Promise<number>;
}

/** What the process backend needs from outside; tests pass stand-ins for every member. */
export interface WindowsProcessDeps {
  /** The native calls, loaded on first use. */
  calls(): Promise<ProcessCalls>;
  /** The polite request to stop (see `interruptConsoleWith`): true only if it was delivered. */
  interrupt(pid: number): Promise<boolean>;
  spawn?: (file: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  /** Resolves after `ms`, or at once when `signal` aborts; never rejects. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Variables a Windows program expects to find, taken from the broker's own environment when it has them. */
const INHERITED_VARIABLES = [
  'SystemDrive',
  'TEMP',
  'TMP',
  'ProgramData',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'CommonProgramFiles',
  'CommonProgramFiles(x86)',
  'CommonProgramW6432',
  'ALLUSERSPROFILE',
  'PUBLIC',
  'COMPUTERNAME',
  'NUMBER_OF_PROCESSORS',
  'PROCESSOR_ARCHITECTURE',
  'OS',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
  'USERNAME',
  'USERDOMAIN',
];

/**
 * What every child starts from before the caller's allowed variables: the system's locations, not the broker's
 * configuration. PATH is fixed to the system directories, as on Linux, rather than whatever the broker's
 * service environment holds. (libuv would otherwise copy PATH, SYSTEMROOT, TEMP, USERPROFILE and a few more
 * from the broker into any environment that lacks them; giving them here makes what the child gets explicit.)
 * SystemRoot matters beyond convenience: Winsock and CryptoAPI fail in a process without it.
 */
export function windowsBaseEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  // Windows variable names are case-insensitive; a plain object from elsewhere may spell them any way.
  const byName = new Map(Object.entries(env).map(([name, value]) => [name.toUpperCase(), value]));
  const systemRoot = byName.get('SYSTEMROOT') || 'C:\\Windows';
  const system32 = path.win32.join(systemRoot, 'System32');
  const base: Record<string, string> = {
    SystemRoot: systemRoot,
    windir: systemRoot,
    PATH: [system32, systemRoot, path.win32.join(system32, 'Wbem'), path.win32.join(system32, 'WindowsPowerShell', 'v1.0')].join(';'),
    PATHEXT: '.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC',
    ComSpec: path.win32.join(system32, 'cmd.exe'),
  };
  for (const name of INHERITED_VARIABLES) {
    const value = byName.get(name.toUpperCase());
    if (value) base[name] = value;
  }
  return base;
}

/** Windows pids are DWORDs; 0 is the idle process, never one of ours. */
function isPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && pid <= 0xffff_ffff;
}

function graceOf(graceMs: number): number {
  return Number.isFinite(graceMs) && graceMs > 0 ? Math.min(graceMs, MAX_TIMER_MS) : 0;
}

function creationToken(calls: ProcessCalls, process: bigint): string {
  const creation = Buffer.alloc(JOB_X64.FILETIME.size);
  const { ok, lastError } = calls.getProcessTimes(
    process,
    creation,
    Buffer.alloc(JOB_X64.FILETIME.size),
    Buffer.alloc(JOB_X64.FILETIME.size),
    Buffer.alloc(JOB_X64.FILETIME.size),
  );
  if (!ok) throw win32Failure('GetProcessTimes', lastError);
  return fileTimeToken(creation);
}

/**
 * Whether the process behind the handle still runs. A handle keeps an exited process's object (and so its pid)
 * alive; such a process is not "running now". An exit code that happens to be 259 reads as running, which
 * only costs a TerminateProcess that then fails harmlessly.
 */
function isRunning(calls: ProcessCalls, process: bigint): boolean {
  const code: [number] = [0];
  const { ok, lastError } = calls.getExitCodeProcess(process, code);
  if (!ok) throw win32Failure('GetExitCodeProcess', lastError);
  return code[0] === STILL_ACTIVE;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Opens the detached process's output files for appending; the child gets copies of the handles. */
async function openOutputs(spec: ProcessLaunch): Promise<FileHandle[]> {
  if (!spec.outputFiles) return [];
  const stdout = await open(spec.outputFiles.stdout, 'a');
  try {
    return [stdout, await open(spec.outputFiles.stderr, 'a')];
  } catch (error) {
    await stdout.close();
    throw error;
  }
}

/** What spawn() gets. `detached` gives DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP and keeps it out of libuv's job. */
export function spawnOptions(spec: ProcessLaunch, outputs: readonly FileHandle[]): SpawnOptions {
  const [out, err] = outputs.length === 2 ? [outputs[0].fd, outputs[1].fd] : (['pipe', 'pipe'] as const);
  return {
    cwd: spec.cwd,
    env: spec.env,
    // No window for console programs (CREATE_NO_WINDOW when no descriptor is inherited) nor GUI ones (SW_HIDE).
    windowsHide: true,
    // No cmd.exe: arguments are quoted for the C runtime's parser, never interpreted. Node refuses .bat/.cmd
    // without a shell (CVE-2024-27980), so batch files cannot be started this way at all.
    shell: false,
    windowsVerbatimArguments: false,
    detached: spec.detach,
    stdio: [spec.stdin ? 'pipe' : 'ignore', out, err],
  };
}

/** Why a child got no pid: thrown by spawn() (EINVAL for a batch file) or its 'error' event (ENOENT, EACCES). */
function spawnFailure(spec: ProcessLaunch, error: unknown): HostOperationFailedError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new HostOperationFailedError(`starting ${spec.path} failed${code ? `: ${code}` : ''}`, { cause: error, reason: 'SpawnFailed' });
}

/** Closes a handle on a path that is already failing; the first error is the one worth reporting. */
function closeQuietly(calls: ProcessCalls, handle: bigint): void {
  if (handle !== 0n) calls.closeHandle(handle);
}

/**
 * Waits for the child's 'exit' or `ms`, whichever is first; true if it exited. The timer is cancelled when the
 * exit wins, so a long grace leaves nothing pending.
 */
async function exitWithin(exited: Promise<void>, ms: number, pause: NonNullable<WindowsProcessDeps['sleep']>): Promise<boolean> {
  const controller = new AbortController();
  let done = false;
  const finished = exited.then(() => {
    done = true;
  });
  try {
    await Promise.race([finished, pause(ms, controller.signal)]);
  } finally {
    controller.abort();
  }
  return done;
}

export function windowsProcesses(
  deps: WindowsProcessDeps,
): Pick<HostPlatformProcesses, 'baseEnvironment' | 'launch' | 'instanceOf' | 'stopOrphanTree'> {
  const spawn = deps.spawn ?? nodeSpawn;
  const pause = deps.sleep ?? sleep;

  /** CTRL+C first, if the tree has a console we may signal; false (straight to force) otherwise. */
  async function askToStop(pid: number, graceMs: number): Promise<boolean> {
    if (graceMs <= 0) return false;
    try {
      return await deps.interrupt(pid);
    } catch {
      // The polite step is best effort; the forced one after it is what guarantees the end.
      return false;
    }
  }

  async function launch(spec: ProcessLaunch, events: ProcessEvents): Promise<LaunchedProcess> {
    // spec.programFd is not used: CreateProcessW starts a path, never an open handle. libuv opens files
    // with FILE_SHARE_DELETE, so holding the descriptor does not stop the file being replaced after the caller
    // hashed it either; that gap stays open on Windows.
    const calls = await deps.calls();
    const outputs = await openOutputs(spec);
    try {
      return await start(calls, spec, outputs, events);
    } finally {
      // The child holds its own duplicates of the output handles; ours only kept the files open until spawn.
      await Promise.allSettled(outputs.map((file) => file.close()));
    }
  }

  async function start(calls: ProcessCalls, spec: ProcessLaunch, outputs: FileHandle[], events: ProcessEvents): Promise<LaunchedProcess> {
    // A detached tree must outlive the broker, so it gets no kill-on-close job, and no job at all: the broker
    // releases a detached process as soon as it has started it, which would close any job handle again.
    let job = 0n;
    if (!spec.detach) {
      const created = calls.createJobObject();
      if (created.handle === 0n) throw win32Failure('CreateJobObjectW', created.lastError);
      job = created.handle;
      const set = calls.setInformationJobObject(job, JobObjectExtendedLimitInformation, extendedLimitInformation(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE));
      if (!set.ok) {
        closeQuietly(calls, job);
        throw win32Failure('SetInformationJobObject', set.lastError);
      }
    }

    let child: ChildProcess;
    try {
      child = spawn(spec.path, spec.args, spawnOptions(spec, outputs));
    } catch (error) {
      closeQuietly(calls, job);
      throw spawnFailure(spec, error);
    }
    const pid = child.pid;
    if (pid === undefined) {
      closeQuietly(calls, job);
      const error = await new Promise<unknown>((resolve) => child.once('error', resolve));
      throw spawnFailure(spec, error);
    }

    // From spawn() to here and on to AssignProcessToJobObject there is no await: nothing else in the broker
    // runs in between, which keeps the window described at the top as short as JavaScript can make it. The pid
    // is our child's: libuv holds the process handle until it reports the exit, so the pid cannot be reused.
    let target = 0n;
    let assigned = false;
    try {
      const opened = calls.openProcess(spec.detach ? QUERY_ACCESS : LAUNCH_ACCESS, pid);
      if (opened.handle === 0n) throw win32Failure(`OpenProcess(${pid})`, opened.lastError);
      target = opened.handle;
      if (job !== 0n) {
        const assign = calls.assignProcessToJobObject(job, target);
        if (!assign.ok) throw win32Failure('AssignProcessToJobObject', assign.lastError);
        assigned = true;
      }
      const instance = creationToken(calls, target);
      // Still the same turn: no output or exit can have been emitted, and none is lost (see ProcessEvents).
      child.stdout?.on('data', (chunk: Buffer) => events.output('stdout', chunk, child.stdout!));
      child.stderr?.on('data', (chunk: Buffer) => events.output('stderr', chunk, child.stderr!));
      child.once('close', (code, signal) => events.close(code, signal));
      return launched(calls, child, pid, instance, job);
    } catch (error) {
      // A child we cannot tie to a job or identify is not one we may keep running. Once in the job, the job
      // is ended, which takes anything the child started since; before that only the child itself is known,
      // and libuv's handle of it (TerminateProcess) ends it.
      const ended = assigned && calls.terminateJobObject(job, FORCED_EXIT_CODE).ok;
      // Nobody else will ever listen to this child: a failing kill must not become an unhandled 'error'.
      child.on('error', () => {});
      if (!ended) child.kill();
      closeQuietly(calls, job);
      throw error;
    } finally {
      closeQuietly(calls, target);
    }
  }

  /**
   * An attached tree lives as long as its root. When the root exits, its job is closed, which ends whatever it
   * left running; that also closes the output pipes those descendants inherited, so 'close' is not held up by
   * them. A program that means to leave something running must be started detached.
   *
   * `stopTree(graceMs)`: CTRL+C where it can be delivered (see `interruptConsoleWith`), up to `graceMs` for the
   * root to exit, then TerminateJobObject for the whole tree (a detached root, which has no job, is ended with
   * TerminateProcess through libuv's own handle of it, and its descendants keep running). Resolves once the
   * root has exited.
   *
   * `release()` lets the broker stop caring: the child no longer keeps the event loop alive. For an attached
   * tree it also closes the job, and the job is kill-on-close, so that ends every process still in it, at once
   * and without the polite step: the job *is* the tie between the tree and its caller. The broker releases only
   * detached processes, for which there is no job and nothing ends.
   */
  function launched(calls: ProcessCalls, child: ChildProcess, pid: number, instance: string, job: bigint): LaunchedProcess {
    let jobHandle = job;
    let stopping: Promise<void> | undefined;
    const closeJob = () => {
      const handle = jobHandle;
      jobHandle = 0n;
      closeQuietly(calls, handle);
    };
    const exited = new Promise<void>((resolve) => {
      if (hasExited(child)) return resolve();
      child.once('exit', () => {
        closeJob();
        resolve();
      });
    });

    async function stopTree(graceMs: number): Promise<void> {
      const grace = graceOf(graceMs);
      if (!hasExited(child) && (await askToStop(pid, grace))) await exitWithin(exited, grace, pause);
      if (jobHandle !== 0n) {
        const ended = calls.terminateJobObject(jobHandle, FORCED_EXIT_CODE);
        if (!ended.ok) {
          if (!hasExited(child)) child.kill();
          throw win32Failure('TerminateJobObject', ended.lastError);
        }
      } else if (!hasExited(child)) {
        child.kill();
      }
      if (!(await exitWithin(exited, FORCED_EXIT_WAIT_MS, pause))) {
        throw new HostOperationFailedError(`process ${pid} did not exit within ${FORCED_EXIT_WAIT_MS} ms of being terminated`, { reason: 'StopTimedOut' });
      }
      closeJob();
    }

    return {
      child,
      pid,
      instance,
      stopTree(graceMs) {
        // One stop at a time; a failed one may be retried.
        stopping ??= stopTree(graceMs).catch((error: unknown) => {
          stopping = undefined;
          throw error;
        });
        return stopping;
      },
      release() {
        closeJob();
        child.unref();
      },
    };
  }

  async function instanceOf(pid: number): Promise<string | null> {
    if (!isPid(pid)) return null;
    const calls = await deps.calls();
    const opened = calls.openProcess(QUERY_ACCESS, pid);
    if (opened.handle === 0n) {
      // OpenProcess reports a pid with no process behind it as an invalid parameter. A process the broker may
      // not even query is not one it started (children inherit its token and default DACL): the pid has been
      // reused by a system process such as "Registry" or "Secure System". Like /proc being unreadable on Linux,
      // that is "not ours", not an error that would stop a restart's reconciliation.
      if (opened.lastError === ERROR_INVALID_PARAMETER || opened.lastError === ERROR_ACCESS_DENIED) return null;
      throw win32Failure(`OpenProcess(${pid})`, opened.lastError);
    }
    try {
      const instance = creationToken(calls, opened.handle);
      return isRunning(calls, opened.handle) ? instance : null;
    } finally {
      calls.closeHandle(opened.handle);
    }
  }

  /**
   * A process from an earlier broker run. Only its root can be reached: a job handle is not inherited by a new
   * broker, and the jobs were unnamed, so there is nothing to open. That leaves only detached trees to find:
   * an attached tree's job was kill-on-close and ended with the broker that held it. The descendants of a
   * detached root are not found here; they keep running.
   *
   * The instance is checked and the process ended through the same handle, which keeps the pid from being
   * reused in between. A pid that now belongs to another process is left alone without an error: the process
   * asked about is gone either way.
   */
  async function stopOrphanTree(pid: number, instance: string, graceMs: number): Promise<void> {
    if (!isPid(pid)) return;
    const calls = await deps.calls();
    const opened = calls.openProcess(ORPHAN_ACCESS, pid);
    if (opened.handle === 0n) {
      if (opened.lastError === ERROR_INVALID_PARAMETER) return;
      throw win32Failure(`OpenProcess(${pid})`, opened.lastError);
    }
    const target = opened.handle;
    try {
      if (creationToken(calls, target) !== instance || !isRunning(calls, target)) return;
      const grace = graceOf(graceMs);
      if ((await askToStop(pid, grace)) && (await calls.waitForSingleObject(target, grace)) === WAIT_OBJECT_0) return;
      const ended = calls.terminateProcess(target, FORCED_EXIT_CODE);
      // TerminateProcess on a process that has just exited fails with ACCESS_DENIED.
      if (!ended.ok && !(ended.lastError === ERROR_ACCESS_DENIED && !isRunning(calls, target))) {
        throw win32Failure('TerminateProcess', ended.lastError);
      }
      const waited = await calls.waitForSingleObject(target, FORCED_EXIT_WAIT_MS);
      if (waited !== WAIT_OBJECT_0) {
        throw new HostOperationFailedError(`process ${pid} did not exit within ${FORCED_EXIT_WAIT_MS} ms of being terminated`, { reason: 'StopTimedOut' });
      }
    } finally {
      calls.closeHandle(target);
    }
  }

  return { baseEnvironment: () => windowsBaseEnvironment(process.env), launch, instanceOf, stopOrphanTree };
}

/**
 * The polite step. GenerateConsoleCtrlEvent only reaches processes attached to the caller's own console, and
 * the broker, a service, has none; its children have one each (CREATE_NO_WINDOW gives a console program a new,
 * windowless console) or none at all (detached: DETACHED_PROCESS; GUI programs). Attaching the broker itself
 * to a child's console would put the broker on the receiving end of the CTRL+C it sends, and the event is
 * delivered on a thread of its own after the call returns, so no handler juggling makes that safe in a server.
 *
 * A short-lived helper does it instead: node.exe runs this constant script, which attaches to the target's
 * console, makes sure the broker is not on that console, ignores CTRL+C itself, and sends CTRL+C to every
 * process on the console: the child's tree, which inherited it. CTRL+C, not CTRL+BREAK: CTRL+C cannot be sent
 * to a process group, only to a whole console (dwProcessGroupId 0), and it is what programs treat as SIGINT;
 * CTRL+BREAK would also end the helper itself before it reports. A program that turned CTRL+C off, has no
 * console (GUI, detached), or shares the broker's console is not asked; it is ended by force after no grace.
 *
 * Every value travels as argv: the module and DLL paths, the target pid, the broker pid.
 */
export const CONSOLE_PROTOTYPES = {
  /** consoleapi.h: BOOL WINAPI FreeConsole(void) */
  FreeConsole: 'int32_t __stdcall FreeConsole()',
  /** consoleapi.h: BOOL WINAPI AttachConsole(DWORD dwProcessId) */
  AttachConsole: 'int32_t __stdcall AttachConsole(uint32_t dwProcessId)',
  /** consoleapi.h: DWORD WINAPI GetConsoleProcessList(LPDWORD lpdwProcessList, DWORD dwProcessCount) */
  GetConsoleProcessList: 'uint32_t __stdcall GetConsoleProcessList(void *lpdwProcessList, uint32_t dwProcessCount)',
  /** consoleapi.h: BOOL WINAPI SetConsoleCtrlHandler(PHANDLER_ROUTINE HandlerRoutine, BOOL Add) */
  SetConsoleCtrlHandler: 'int32_t __stdcall SetConsoleCtrlHandler(void *HandlerRoutine, int32_t Add)',
  /** consoleapi2.h: BOOL WINAPI GenerateConsoleCtrlEvent(DWORD dwCtrlEvent, DWORD dwProcessGroupId) */
  GenerateConsoleCtrlEvent: 'int32_t __stdcall GenerateConsoleCtrlEvent(uint32_t dwCtrlEvent, uint32_t dwProcessGroupId)',
} as const;

/** The helper's exit codes. */
export const HELPER_EXIT = {
  delivered: 0,
  /** AttachConsole failed: no console (GUI, detached) or no such process. */
  noConsole: 10,
  /** GenerateConsoleCtrlEvent failed. */
  notSent: 11,
  /** The broker is on that console (or the list could not be read): sending would reach the broker. */
  sharedConsole: 12,
  /** SetConsoleCtrlHandler(NULL, TRUE) failed: the helper would end itself. */
  cannotIgnore: 13,
} as const;

const CTRL_C_EVENT = 0;
const CONSOLE_LIST_LENGTH = 1024;

export const INTERRUPT_HELPER_SCRIPT = [
  "'use strict';",
  'const [koffiPath, kernel32Path, targetText, brokerText] = process.argv.slice(1);',
  'const target = Number(targetText);',
  'const broker = Number(brokerText);',
  'const kernel32 = require(koffiPath).load(kernel32Path);',
  ...Object.entries(CONSOLE_PROTOTYPES).map(([name, proto]) => `const ${name} = kernel32.func(${JSON.stringify(proto)});`),
  // Started with its own windowless console, which must go before another can be attached.
  'FreeConsole();',
  `if (!AttachConsole(target)) process.exit(${HELPER_EXIT.noConsole});`,
  `const list = Buffer.alloc(4 * ${CONSOLE_LIST_LENGTH});`,
  `const count = GetConsoleProcessList(list, ${CONSOLE_LIST_LENGTH});`,
  `if (count === 0 || count > ${CONSOLE_LIST_LENGTH}) process.exit(${HELPER_EXIT.sharedConsole});`,
  `for (let i = 0; i < count; i++) if (list.readUInt32LE(4 * i) === broker) process.exit(${HELPER_EXIT.sharedConsole});`,
  `if (!SetConsoleCtrlHandler(null, 1)) process.exit(${HELPER_EXIT.cannotIgnore});`,
  `process.exit(GenerateConsoleCtrlEvent(${CTRL_C_EVENT}, 0) ? ${HELPER_EXIT.delivered} : ${HELPER_EXIT.notSent});`,
].join('\n');

export interface InterruptHelper {
  /** node.exe: process.execPath. */
  node: string;
  /** The koffi entry point, resolved from the broker's own installation. */
  koffi: string;
  /** kernel32.dll by its full System32 path. */
  kernel32: string;
  /** SystemRoot, the only variable the helper is given (NODE_OPTIONS and the like are not passed on). */
  systemRoot: string;
  brokerPid: number;
}

/** Runs a program and gives its exit code (null when it was killed or did not start). */
export type HelperRunner = (file: string, args: string[], env: Record<string, string>) => Promise<number | null>;

export const HELPER_TIMEOUT_MS = 10_000;

export const runHelper: HelperRunner = (file, args, env) =>
  new Promise((resolve) => {
    execFile(file, args, { env, windowsHide: true, timeout: HELPER_TIMEOUT_MS, maxBuffer: 64 * 1024 }, (error) => {
      if (!error) return resolve(0);
      resolve(typeof error.code === 'number' ? error.code : null);
    });
  });

/** True if CTRL+C reached the console of `pid`; false when it could not or must not be sent. */
export async function interruptConsoleWith(run: HelperRunner, helper: InterruptHelper, pid: number): Promise<boolean> {
  if (!isPid(pid) || !isPid(helper.brokerPid)) return false;
  const code = await run(
    helper.node,
    ['-e', INTERRUPT_HELPER_SCRIPT, helper.koffi, helper.kernel32, String(pid), String(helper.brokerPid)],
    { SystemRoot: helper.systemRoot },
  );
  return code === HELPER_EXIT.delivered;
}
