import assert from 'node:assert/strict';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { BrokerError, HostOperationFailedError } from '../../broker/src/errors.js';
import { windowsPlatform, type WindowsNative } from '../../broker/src/platform/windows/index.js';
import { PROTOTYPES, processCallsWith, type Kernel32ProcessFns } from '../../broker/src/platform/windows/native.js';
import {
  CONSOLE_PROTOTYPES,
  FORCED_EXIT_WAIT_MS,
  HELPER_EXIT,
  INTERRUPT_HELPER_SCRIPT,
  JOB_X64,
  STILL_ACTIVE,
  WAIT_OBJECT_0,
  WAIT_TIMEOUT,
  extendedLimitInformation,
  fileTimeToken,
  interruptConsoleWith,
  windowsBaseEnvironment,
  windowsProcesses,
  type CallResult,
  type HandleResult,
  type ProcessCalls,
  type WindowsProcessDeps,
} from '../../broker/src/platform/windows/processes.js';
import { Win32Error } from '../../broker/src/platform/windows/win32.js';
import type { ProcessEvents, ProcessLaunch } from '../../broker/src/platform/types.js';
import * as job from './fixtures/windows/job-structs.js';
import { nativeWith } from './fixtures/windows/native-fake.js';

const here = dirname(fileURLToPath(import.meta.url));
const onLinux = process.platform === 'linux';

// ---------------------------------------------------------------------------------------------------------------
// Recorded values. FILETIME ticks are 100 ns since 1601-01-01; the Unix epoch is the well-known 116444736000000000
// (0x019DB1DED53E8000), and a process started 2025-03-01T11:58:20.1234567Z reads as the bytes below.
const UNIX_EPOCH_FILETIME = Buffer.from('00803ed5deb19d01', 'hex');
const CREATION_FILETIME = Buffer.from('876cc639a18adb01', 'hex');
const CREATION_TOKEN = '133853039001234567';

// ---------------------------------------------------------------------------------------------------------------
// Stand-ins.

const JOB = 0x1a4n;
const PROCESS = 0x2b8n;
const PID = 4242;

type Log = unknown[][];

/** kernel32 as a recording: every call logged, handles tracked so a leak or a double close fails the test. */
function fakeCalls(overrides: Partial<ProcessCalls> = {}) {
  const log: Log = [];
  const open = new Set<bigint>();
  const ok: CallResult = { ok: true, lastError: 0 };
  const base: ProcessCalls = {
    createJobObject: (): HandleResult => (open.add(JOB), { handle: JOB, lastError: 0 }),
    setInformationJobObject: () => ok,
    assignProcessToJobObject: () => ok,
    terminateJobObject: () => ok,
    openProcess: (): HandleResult => (open.add(PROCESS), { handle: PROCESS, lastError: 0 }),
    getProcessTimes: (_process, creation) => (CREATION_FILETIME.copy(creation), ok),
    getExitCodeProcess: (_process, code) => ((code[0] = STILL_ACTIVE), ok),
    terminateProcess: () => ok,
    closeHandle: (handle) => {
      assert.ok(open.delete(handle), `CloseHandle(${handle}) of a handle that is not open`);
      return ok;
    },
    waitForSingleObject: async () => WAIT_OBJECT_0,
  };
  const merged = { ...base, ...overrides };
  const calls = {} as ProcessCalls;
  for (const name of Object.keys(merged) as (keyof ProcessCalls)[]) {
    (calls as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      log.push([name, ...args.map((arg) => (Buffer.isBuffer(arg) ? arg.toString('hex') : Array.isArray(arg) ? '[out]' : arg))]);
      const result = (merged[name] as (...a: unknown[]) => unknown)(...args);
      // Handles opened by an override are tracked too.
      if ((name === 'createJobObject' || name === 'openProcess') && (result as HandleResult).handle !== 0n) open.add((result as HandleResult).handle);
      return result;
    };
  }
  return { calls, log, open, names: () => log.map((entry) => entry[0]) };
}

class FakeChild extends EventEmitter {
  pid: number | undefined = PID;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  stdin = null;
  stdout = new PassThrough();
  stderr = new PassThrough();
  kills: string[] = [];
  unrefs = 0;
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.kills.push(signal);
    return true;
  }
  unref(): void {
    this.unrefs++;
  }
  finish(code: number): void {
    this.exitCode = code;
    this.emit('exit', code, null);
    this.emit('close', code, null);
  }
}

function fakeSpawn(child = new FakeChild()) {
  const spawned: { file: string; args: readonly string[]; options: SpawnOptions }[] = [];
  const spawn = (file: string, args: readonly string[], options: SpawnOptions) => {
    spawned.push({ file, args, options });
    return child as unknown as ChildProcess;
  };
  return { spawn, spawned, child };
}

/** A sleep the test ends by hand (or that ends when its signal aborts). */
function manualSleep() {
  const pending: { ms: number; signal: AbortSignal; end: () => void }[] = [];
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      pending.push({ ms, signal, end: resolve });
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  return { sleep, pending };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function recordingEvents() {
  const outputs: [string, string][] = [];
  const closes: [number | null, string | null][] = [];
  const events: ProcessEvents = {
    output: (stream, chunk) => outputs.push([stream, chunk.toString()]),
    close: (code, signal) => closes.push([code, signal]),
  };
  return { events, outputs, closes };
}

const SPEC: ProcessLaunch = {
  path: 'C:\\srv\\nginx\\nginx.exe',
  args: ['-p', 'C:\\srv\\nginx', '-g', 'daemon off;'],
  env: { SystemRoot: 'C:\\Windows', PATH: 'C:\\Windows\\System32' },
  cwd: 'C:\\srv\\nginx',
  stdin: false,
  detach: false,
};

function processes(overrides: Partial<ProcessCalls> = {}, deps: Partial<WindowsProcessDeps> = {}) {
  const fake = fakeCalls(overrides);
  const spawn = fakeSpawn();
  const interrupts: number[] = [];
  const platform = windowsProcesses({
    calls: async () => fake.calls,
    interrupt: async (pid) => (interrupts.push(pid), false),
    spawn: spawn.spawn,
    ...deps,
  });
  return { ...fake, ...spawn, interrupts, platform };
}

function isWin32Failure(api: string, code: number) {
  return (error: unknown) => {
    assert.ok(error instanceof HostOperationFailedError, String(error));
    assert.equal(error.codeName, 'HostOperationFailed');
    assert.ok(error.cause instanceof Win32Error);
    assert.equal(error.cause.api, api);
    assert.equal(error.cause.code, code);
    return true;
  };
}

// ---------------------------------------------------------------------------------------------------------------

describe('job structures on x64', () => {
  const TABLES = {
    JOBOBJECT_BASIC_LIMIT_INFORMATION: job.JOBOBJECT_BASIC_LIMIT_INFORMATION,
    IO_COUNTERS: job.IO_COUNTERS,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION: job.JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    FILETIME: job.FILETIME,
  } as const;

  for (const [name, type] of Object.entries(TABLES)) {
    it(`${name} offsets and size match the winnt.h transcription`, () => {
      const table = JOB_X64[name as keyof typeof TABLES] as Record<string, number>;
      const members = Object.keys(table).filter((k) => k !== 'size');
      assert.deepEqual(members, Object.keys(koffi.introspect(type).members as object));
      for (const member of members) assert.equal(table[member], koffi.offsetof(type, member), `${name}.${member}`);
      assert.equal(table.size, koffi.sizeof(type), `sizeof(${name})`);
    });
  }

  it('has the sizes 64-bit Windows uses', () => {
    assert.equal(koffi.sizeof(job.JOBOBJECT_BASIC_LIMIT_INFORMATION), 64);
    assert.equal(koffi.sizeof(job.IO_COUNTERS), 48);
    assert.equal(koffi.sizeof(job.JOBOBJECT_EXTENDED_LIMIT_INFORMATION), 144);
    assert.equal(koffi.offsetof(job.JOBOBJECT_BASIC_LIMIT_INFORMATION, 'LimitFlags'), 16);
    assert.equal(koffi.offsetof(job.JOBOBJECT_EXTENDED_LIMIT_INFORMATION, 'IoInfo'), 64);
    assert.equal(koffi.sizeof(job.LARGE_INTEGER), 8);
  });

  it('writes KILL_ON_JOB_CLOSE as exactly these 144 bytes', () => {
    const golden = '00'.repeat(16) + '00200000' + '00'.repeat(124);
    assert.equal(extendedLimitInformation(0x2000).toString('hex'), golden);
    // The same bytes koffi lays out for the struct with only that member set.
    const encoded = Buffer.alloc(144, 0xff);
    koffi.encode(encoded, 0, job.JOBOBJECT_EXTENDED_LIMIT_INFORMATION, { BasicLimitInformation: { LimitFlags: 0x2000 } });
    assert.equal(encoded.toString('hex'), golden);
  });

  it('decodes FILETIME as a little-endian 64-bit tick count', () => {
    assert.equal(fileTimeToken(UNIX_EPOCH_FILETIME), '116444736000000000');
    assert.equal(fileTimeToken(CREATION_FILETIME), CREATION_TOKEN);
    // The token is the FILETIME of 2025-03-01T11:58:20.1234567Z.
    const ms = Date.parse('2025-03-01T11:58:20.123Z');
    assert.equal(BigInt(CREATION_TOKEN), (BigInt(ms) + 11_644_473_600_000n) * 10_000n + 4_567n);
    // dwLowDateTime, then dwHighDateTime, as koffi reads the struct.
    assert.deepEqual(koffi.decode(CREATION_FILETIME, job.FILETIME), { dwLowDateTime: 0x39c6_6c87, dwHighDateTime: 0x01db_8aa1 });
    assert.throws(() => fileTimeToken(Buffer.alloc(4)), RangeError);
  });
});

type Direction = 'Input' | 'Output' | 'Input/Output';

function signature(definition: string) {
  const type = koffi.proto(definition);
  assert.equal(type.primitive, 'Prototype');
  const proto = type.proto!;
  return {
    name: proto.name,
    result: proto.result.name,
    args: proto.arguments.map((a) => {
      const arg = a as unknown as { type: { name: string; size: number }; direction: Direction };
      return [arg.type.name, arg.type.size, arg.direction];
    }),
  };
}

describe('kernel32 prototypes', () => {
  const ptr = ['void *', 8, 'Input'];
  const u32 = ['uint32_t', 4, 'Input'];
  const i32 = ['int32_t', 4, 'Input'];
  const cases: Record<string, [string, string, unknown[][]]> = {
    CreateJobObjectW: [PROTOTYPES.CreateJobObjectW, 'void *', [ptr, ['char16_t *', 8, 'Input']]],
    SetInformationJobObject: [PROTOTYPES.SetInformationJobObject, 'int32_t', [ptr, i32, ptr, u32]],
    AssignProcessToJobObject: [PROTOTYPES.AssignProcessToJobObject, 'int32_t', [ptr, ptr]],
    TerminateJobObject: [PROTOTYPES.TerminateJobObject, 'int32_t', [ptr, u32]],
    OpenProcess: [PROTOTYPES.OpenProcess, 'void *', [u32, i32, u32]],
    GetProcessTimes: [PROTOTYPES.GetProcessTimes, 'int32_t', [ptr, ptr, ptr, ptr, ptr]],
    GetExitCodeProcess: [PROTOTYPES.GetExitCodeProcess, 'int32_t', [ptr, ['uint32_t *', 8, 'Output']]],
    TerminateProcess: [PROTOTYPES.TerminateProcess, 'int32_t', [ptr, u32]],
    CloseHandle: [PROTOTYPES.CloseHandle, 'int32_t', [ptr]],
    WaitForSingleObject: [PROTOTYPES.WaitForSingleObject, 'uint32_t', [ptr, u32]],
    FreeConsole: [CONSOLE_PROTOTYPES.FreeConsole, 'int32_t', []],
    AttachConsole: [CONSOLE_PROTOTYPES.AttachConsole, 'int32_t', [u32]],
    GetConsoleProcessList: [CONSOLE_PROTOTYPES.GetConsoleProcessList, 'uint32_t', [ptr, u32]],
    SetConsoleCtrlHandler: [CONSOLE_PROTOTYPES.SetConsoleCtrlHandler, 'int32_t', [ptr, i32]],
    GenerateConsoleCtrlEvent: [CONSOLE_PROTOTYPES.GenerateConsoleCtrlEvent, 'int32_t', [u32, u32]],
  };
  for (const [name, [definition, result, args]] of Object.entries(cases)) {
    it(name, () => assert.deepEqual(signature(definition), { name, result, args }));
  }

  it('lists the console prototypes among PROTOTYPES', () => {
    for (const [name, definition] of Object.entries(CONSOLE_PROTOTYPES)) assert.equal(PROTOTYPES[name as keyof typeof PROTOTYPES], definition);
  });
});

describe('processCallsWith', () => {
  function stand(overrides: Partial<Kernel32ProcessFns> = {}) {
    const log: unknown[][] = [];
    let lastError = 0;
    const record =
      (name: string, result: unknown, error = 0) =>
      (...args: unknown[]) => {
        log.push([name, ...args]);
        lastError = error;
        return result;
      };
    const fns: Kernel32ProcessFns = {
      CreateJobObjectW: record('CreateJobObjectW', 0x1a4n),
      SetInformationJobObject: record('SetInformationJobObject', 1),
      AssignProcessToJobObject: record('AssignProcessToJobObject', 0, 5),
      TerminateJobObject: record('TerminateJobObject', 1),
      OpenProcess: record('OpenProcess', null, 87),
      GetProcessTimes: record('GetProcessTimes', 1),
      GetExitCodeProcess: record('GetExitCodeProcess', 1),
      TerminateProcess: record('TerminateProcess', 1),
      CloseHandle: record('CloseHandle', 1),
      WaitForSingleObject: async (...args) => (log.push(['WaitForSingleObject', ...args]), -1),
      GetLastError: () => (log.push(['GetLastError']), lastError),
      ...overrides,
    };
    return { calls: processCallsWith(fns), log };
  }

  it('passes NULLs, the length and bInheritHandle FALSE, and reads GetLastError only after a failure', async () => {
    const { calls, log } = stand();
    assert.deepEqual(calls.createJobObject(), { handle: 0x1a4n, lastError: 0 });
    const info = extendedLimitInformation(0x2000);
    assert.deepEqual(calls.setInformationJobObject(0x1a4n, 9, info), { ok: true, lastError: 0 });
    assert.deepEqual(calls.assignProcessToJobObject(0x1a4n, 0x2b8n), { ok: false, lastError: 5 });
    assert.deepEqual(calls.openProcess(0x1000, 8), { handle: 0n, lastError: 87 });
    assert.equal(await calls.waitForSingleObject(0x2b8n, 10), 0xffff_ffff);
    assert.deepEqual(log, [
      ['CreateJobObjectW', null, null],
      ['SetInformationJobObject', 0x1a4n, 9, info, 144],
      ['AssignProcessToJobObject', 0x1a4n, 0x2b8n],
      ['GetLastError'],
      ['OpenProcess', 0x1000, 0, 8],
      ['GetLastError'],
      ['WaitForSingleObject', 0x2b8n, 10],
    ]);
  });

  it('hands the FILETIME and exit-code buffers through untouched', () => {
    const { calls, log } = stand({
      GetProcessTimes: (_p, creation) => (CREATION_FILETIME.copy(creation), 1),
      GetExitCodeProcess: (_p, code) => ((code[0] = STILL_ACTIVE), 1),
    });
    const creation = Buffer.alloc(8);
    assert.ok(calls.getProcessTimes(0x2b8n, creation, Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8)).ok);
    assert.equal(fileTimeToken(creation), CREATION_TOKEN);
    const code: [number] = [0];
    assert.ok(calls.getExitCodeProcess(0x2b8n, code).ok);
    assert.equal(code[0], STILL_ACTIVE);
    assert.deepEqual(log, []);
  });
});

describe('windowsProcesses.launch', () => {
  it('creates a kill-on-close job, spawns, opens, assigns and identifies, in that order', async () => {
    const { platform, log, open, spawned, child } = processes();
    const { events } = recordingEvents();
    const launched = await platform.launch(SPEC, events);
    assert.deepEqual(log, [
      ['createJobObject'],
      ['setInformationJobObject', JOB, 9, '00'.repeat(16) + '00200000' + '00'.repeat(124)],
      // PROCESS_SET_QUOTA | PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION
      ['openProcess', 0x1101, PID],
      ['assignProcessToJobObject', JOB, PROCESS],
      ['getProcessTimes', PROCESS, '00'.repeat(8), '00'.repeat(8), '00'.repeat(8), '00'.repeat(8)],
      ['closeHandle', PROCESS],
    ]);
    assert.deepEqual([...open], [JOB], 'the job stays open for the life of the tree');
    assert.equal(launched.pid, PID);
    assert.equal(launched.instance, CREATION_TOKEN);
    assert.equal(launched.child, child);
    assert.deepEqual(spawned, [
      {
        file: SPEC.path,
        args: SPEC.args,
        options: {
          cwd: SPEC.cwd,
          env: SPEC.env,
          windowsHide: true,
          shell: false,
          windowsVerbatimArguments: false,
          detached: false,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      },
    ]);
  });

  it('relays output and close to the events, and closes the job when the root exits', async () => {
    const { platform, log, open, child } = processes();
    const { events, outputs, closes } = recordingEvents();
    await platform.launch({ ...SPEC, stdin: true }, events);
    child.stdout.write('listening on :80\n');
    child.stderr.write('warn\n');
    await flush();
    assert.deepEqual(outputs, [
      ['stdout', 'listening on :80\n'],
      ['stderr', 'warn\n'],
    ]);
    child.finish(0);
    assert.deepEqual(closes, [[0, null]]);
    assert.deepEqual(log.at(-1), ['closeHandle', JOB]);
    assert.equal(open.size, 0);
  });

  it('gives a detached process no job, its output files, and only a query handle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-proc-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const outputFiles = { stdout: join(dir, 'x.out'), stderr: join(dir, 'x.err') };
    const { platform, log, open, spawned, child } = processes();
    const launched = await platform.launch({ ...SPEC, detach: true, stdin: true, outputFiles }, recordingEvents().events);
    assert.deepEqual(log, [
      ['openProcess', 0x1000, PID],
      ['getProcessTimes', PROCESS, '00'.repeat(8), '00'.repeat(8), '00'.repeat(8), '00'.repeat(8)],
      ['closeHandle', PROCESS],
    ]);
    assert.equal(open.size, 0);
    const { stdio, detached } = spawned[0].options as { stdio: unknown[]; detached: boolean };
    assert.equal(detached, true);
    assert.equal(stdio[0], 'pipe');
    assert.equal(typeof stdio[1], 'number');
    assert.equal(typeof stdio[2], 'number');
    // The parent's descriptors were closed once the child had its own.
    for (const fd of stdio.slice(1) as number[]) assert.throws(() => fstatSync(fd), { code: 'EBADF' });
    launched.release();
    assert.equal(child.unrefs, 1);
    assert.equal(log.length, 3, 'release of a detached process touches no handle');
  });

  it('fails before spawning when the job cannot be made, closing what it made', async () => {
    const created = processes({ createJobObject: () => ({ handle: 0n, lastError: 8 }) });
    await assert.rejects(created.platform.launch(SPEC, recordingEvents().events), isWin32Failure('CreateJobObjectW', 8));
    assert.equal(created.spawned.length, 0);

    const limited = processes({ setInformationJobObject: () => ({ ok: false, lastError: 87 }) });
    await assert.rejects(limited.platform.launch(SPEC, recordingEvents().events), isWin32Failure('SetInformationJobObject', 87));
    assert.equal(limited.spawned.length, 0);
    assert.deepEqual(limited.names(), ['createJobObject', 'setInformationJobObject', 'closeHandle']);
    assert.equal(limited.open.size, 0);
  });

  it('closes the job when spawn throws or reports an error', async () => {
    const thrown = processes({}, {
      spawn: () => {
        throw Object.assign(new Error('spawn EINVAL'), { code: 'EINVAL' });
      },
    });
    await assert.rejects(thrown.platform.launch(SPEC, recordingEvents().events), (error: unknown) => {
      assert.ok(error instanceof HostOperationFailedError);
      assert.equal(error.data.reason, 'SpawnFailed');
      assert.match(error.message, /EINVAL/);
      return true;
    });
    assert.equal(thrown.open.size, 0);

    const child = new FakeChild();
    child.pid = undefined;
    const missing = processes({}, { spawn: fakeSpawn(child).spawn });
    const launching = missing.platform.launch(SPEC, recordingEvents().events);
    await flush();
    child.emit('error', Object.assign(new Error('spawn C:\\srv\\nginx\\nginx.exe ENOENT'), { code: 'ENOENT' }));
    await assert.rejects(launching, /ENOENT/);
    assert.deepEqual(missing.names(), ['createJobObject', 'setInformationJobObject', 'closeHandle']);
    assert.equal(missing.open.size, 0);
  });

  it('kills the child and closes every handle when OpenProcess fails', async () => {
    const { platform, open, child, names } = processes({ openProcess: () => ({ handle: 0n, lastError: 5 }) });
    await assert.rejects(platform.launch(SPEC, recordingEvents().events), isWin32Failure(`OpenProcess(${PID})`, 5));
    assert.deepEqual(child.kills, ['SIGTERM']);
    assert.deepEqual(names(), ['createJobObject', 'setInformationJobObject', 'openProcess', 'closeHandle']);
    assert.equal(open.size, 0);
  });

  it('kills the child and throws HostOperationFailed when AssignProcessToJobObject fails', async () => {
    const { platform, open, child, names } = processes({ assignProcessToJobObject: () => ({ ok: false, lastError: 5 }) });
    await assert.rejects(platform.launch(SPEC, recordingEvents().events), isWin32Failure('AssignProcessToJobObject', 5));
    assert.deepEqual(child.kills, ['SIGTERM']);
    assert.ok(!names().includes('terminateJobObject'), 'the job holds nothing to terminate');
    assert.equal(open.size, 0);
    // Unobserved from here on: a kill failing later must not surface as an unhandled 'error'.
    assert.ok(child.listenerCount('error') > 0);
  });

  it('ends the whole job when the child cannot be identified after the assignment', async () => {
    const { platform, open, child, log } = processes({ getProcessTimes: () => ({ ok: false, lastError: 6 }) });
    await assert.rejects(platform.launch(SPEC, recordingEvents().events), isWin32Failure('GetProcessTimes', 6));
    assert.deepEqual(child.kills, []);
    assert.deepEqual(
      log.filter((entry) => entry[0] === 'terminateJobObject' || entry[0] === 'closeHandle'),
      [
        ['terminateJobObject', JOB, 1],
        ['closeHandle', JOB],
        ['closeHandle', PROCESS],
      ],
    );
    assert.equal(open.size, 0);
  });

  it('starts a real program with pipes and events, and a detached one appending to its files', { skip: !onLinux && 'runs node on Linux' }, async () => {
    const platform = windowsProcesses({ calls: async () => fakeCalls().calls, interrupt: async () => false });
    const { events, outputs, closes } = recordingEvents();
    const script = "process.stdout.write('out'); process.stderr.write('err')";
    const attached = await platform.launch({ ...SPEC, path: process.execPath, args: ['-e', script], cwd: here, env: { PATH: process.env.PATH ?? '' } }, events);
    await new Promise((resolve) => attached.child.once('close', resolve));
    assert.deepEqual(outputs.sort(), [
      ['stderr', 'err'],
      ['stdout', 'out'],
    ]);
    assert.deepEqual(closes, [[0, null]]);

    const dir = mkdtempSync(join(tmpdir(), 'winshost-proc-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const outputFiles = { stdout: join(dir, 'p.out'), stderr: join(dir, 'p.err') };
    writeFileSync(outputFiles.stdout, 'earlier\n');
    const detached = await platform.launch({ ...SPEC, path: process.execPath, args: ['-e', script], cwd: here, env: {}, detach: true, outputFiles }, recordingEvents().events);
    await new Promise((resolve) => detached.child.once('exit', resolve));
    assert.equal(readFileSync(outputFiles.stdout, 'utf8'), 'earlier\nout');
    assert.equal(readFileSync(outputFiles.stderr, 'utf8'), 'err');
  });
});

describe('LaunchedProcess.stopTree', () => {
  async function started(deps: { interrupt?: (pid: number) => Promise<boolean>; terminate?: (child: FakeChild) => CallResult; detach?: boolean } = {}) {
    const manual = manualSleep();
    const spawn = fakeSpawn();
    const interrupts: number[] = [];
    const fake = fakeCalls({ terminateJobObject: () => deps.terminate?.(spawn.child) ?? { ok: true, lastError: 0 } });
    const platform = windowsProcesses({
      calls: async () => fake.calls,
      interrupt: async (pid) => (interrupts.push(pid), (await deps.interrupt?.(pid)) ?? true),
      spawn: spawn.spawn,
      sleep: manual.sleep,
    });
    const launched = await platform.launch({ ...SPEC, detach: deps.detach ?? false }, recordingEvents().events);
    fake.log.length = 0;
    return { ...fake, ...manual, child: spawn.child, launched, interrupts };
  }

  const exitOnTerminate = (child: FakeChild) => (queueMicrotask(() => child.finish(1)), { ok: true, lastError: 0 });

  it('asks first, waits the grace, then terminates the job and resolves on exit', async () => {
    const t = await started({ terminate: exitOnTerminate });
    const stopping = t.launched.stopTree(5_000);
    await flush();
    assert.deepEqual(t.interrupts, [PID]);
    assert.deepEqual(t.pending.map((p) => p.ms), [5_000]);
    assert.deepEqual(t.log, [], 'nothing forced during the grace');
    t.pending[0].end();
    await stopping;
    assert.deepEqual(t.log, [
      ['terminateJobObject', JOB, 1],
      ['closeHandle', JOB],
    ]);
    assert.deepEqual(t.pending.map((p) => p.ms), [5_000, FORCED_EXIT_WAIT_MS]);
    assert.ok(t.pending[1].signal.aborted, 'the wait for the exit was cancelled by the exit');
    assert.equal(t.open.size, 0);
  });

  it('stops waiting when the root exits within the grace, and its job ends the rest', async () => {
    const t = await started();
    const stopping = t.launched.stopTree(5_000);
    await flush();
    t.child.finish(0);
    await stopping;
    assert.ok(t.pending[0].signal.aborted, 'the grace timer is cancelled');
    assert.deepEqual(t.log, [['closeHandle', JOB]], 'closing the kill-on-close job ends what the root left');
    assert.deepEqual(t.child.kills, []);
  });

  it('forces at once when the request could not be delivered, or with no grace', async () => {
    const refused = await started({ interrupt: async () => false, terminate: exitOnTerminate });
    await refused.launched.stopTree(5_000);
    assert.deepEqual(refused.pending.map((p) => p.ms), [FORCED_EXIT_WAIT_MS]);
    assert.deepEqual(refused.log[0], ['terminateJobObject', JOB, 1]);

    const failing = await started({ interrupt: async () => Promise.reject(new Error('helper crashed')), terminate: exitOnTerminate });
    await failing.launched.stopTree(5_000);
    assert.deepEqual(failing.log[0], ['terminateJobObject', JOB, 1]);

    const graceless = await started({ terminate: exitOnTerminate });
    await graceless.launched.stopTree(0);
    assert.deepEqual(graceless.interrupts, []);
    assert.deepEqual(graceless.log[0], ['terminateJobObject', JOB, 1]);
  });

  it('really waits out a short grace with the default timers', async () => {
    const spawn = fakeSpawn();
    const fake = fakeCalls({ terminateJobObject: () => exitOnTerminate(spawn.child) });
    let terminatedAt = 0;
    const platform = windowsProcesses({ calls: async () => fake.calls, interrupt: async () => true, spawn: spawn.spawn });
    const launched = await platform.launch(SPEC, recordingEvents().events);
    spawn.child.once('exit', () => (terminatedAt = performance.now()));
    const begun = performance.now();
    await launched.stopTree(60);
    assert.ok(terminatedAt - begun >= 55, `terminated after ${terminatedAt - begun} ms`);
    assert.ok(fake.names().includes('terminateJobObject'));
  });

  it('kills the root and throws when TerminateJobObject fails, and may be retried', async () => {
    let attempts = 0;
    const t = await started({
      interrupt: async () => false,
      terminate: (child) => (++attempts === 1 ? { ok: false, lastError: 5 } : exitOnTerminate(child)),
    });
    await assert.rejects(t.launched.stopTree(100), isWin32Failure('TerminateJobObject', 5));
    assert.deepEqual(t.child.kills, ['SIGTERM']);
    await t.launched.stopTree(100);
    assert.equal(attempts, 2);
  });

  it('throws when the root does not exit after being terminated', async () => {
    const t = await started({ interrupt: async () => false });
    const stopping = t.launched.stopTree(100);
    await flush();
    assert.deepEqual(t.pending.map((p) => p.ms), [FORCED_EXIT_WAIT_MS]);
    t.pending[0].end();
    await assert.rejects(stopping, (error: unknown) => error instanceof HostOperationFailedError && error.data.reason === 'StopTimedOut');
  });

  it('runs one stop at a time', async () => {
    const t = await started({ interrupt: async () => false, terminate: exitOnTerminate });
    const first = t.launched.stopTree(100);
    assert.equal(t.launched.stopTree(100), first);
    await first;
    assert.equal(t.names().filter((n) => n === 'terminateJobObject').length, 1);
  });

  it('ends a detached root through its own process handle, having no job', async () => {
    const t = await started({ detach: true, interrupt: async () => false });
    t.child.kill = (signal: NodeJS.Signals = 'SIGTERM') => (t.child.kills.push(signal), queueMicrotask(() => t.child.finish(1)), true);
    await t.launched.stopTree(100);
    assert.deepEqual(t.child.kills, ['SIGTERM']);
    assert.deepEqual(t.log, []);
  });

  it('release() closes an attached job once, ending the tree, and lets the child go', async () => {
    const t = await started({ interrupt: async () => false });
    t.launched.release();
    t.launched.release();
    assert.deepEqual(t.log, [['closeHandle', JOB]]);
    assert.equal(t.child.unrefs, 2);
    // With the job gone only the root is left to end.
    t.child.kill = (signal: NodeJS.Signals = 'SIGTERM') => (t.child.kills.push(signal), queueMicrotask(() => t.child.finish(1)), true);
    await t.launched.stopTree(100);
    assert.deepEqual(t.child.kills, ['SIGTERM']);
    assert.equal(t.names().filter((n) => n === 'closeHandle').length, 1);
  });
});

describe('windowsProcesses.instanceOf', () => {
  it('is the creation FILETIME of a running process, its handle closed', async () => {
    const { platform, log, open } = processes();
    assert.equal(await platform.instanceOf(8124), CREATION_TOKEN);
    assert.deepEqual(log.map((entry) => entry.slice(0, 3)), [
      ['openProcess', 0x1000, 8124],
      ['getProcessTimes', PROCESS, '00'.repeat(8)],
      ['getExitCodeProcess', PROCESS, '[out]'],
      ['closeHandle', PROCESS],
    ]);
    assert.equal(open.size, 0);
  });

  it('is null for a pid with no process, one we may not open, or one that has exited', async () => {
    const missing = processes({ openProcess: () => ({ handle: 0n, lastError: 87 }) });
    assert.equal(await missing.platform.instanceOf(8124), null);
    const protectedProcess = processes({ openProcess: () => ({ handle: 0n, lastError: 5 }) });
    assert.equal(await protectedProcess.platform.instanceOf(88), null);
    const exited = processes({ getExitCodeProcess: (_p, code) => ((code[0] = 0), { ok: true, lastError: 0 }) });
    assert.equal(await exited.platform.instanceOf(8124), null);
    assert.equal(exited.open.size, 0);
    const none = processes();
    for (const pid of [0, -4, 1.5, 2 ** 32, Number.NaN]) assert.equal(await none.platform.instanceOf(pid), null);
    assert.deepEqual(none.log, []);
  });

  it('reports other failures, still closing the handle', async () => {
    const exhausted = processes({ openProcess: () => ({ handle: 0n, lastError: 1450 }) });
    await assert.rejects(exhausted.platform.instanceOf(4), isWin32Failure('OpenProcess(4)', 1450));
    const unreadable = processes({ getProcessTimes: () => ({ ok: false, lastError: 6 }) });
    await assert.rejects(unreadable.platform.instanceOf(8124), isWin32Failure('GetProcessTimes', 6));
    assert.equal(unreadable.open.size, 0);
  });
});

describe('windowsProcesses.stopOrphanTree', () => {
  it('refuses a pid whose instance is not the one asked for', async () => {
    const { platform, names, open, interrupts } = processes();
    await platform.stopOrphanTree(8124, '133853039000000000', 1_000);
    assert.deepEqual(names(), ['openProcess', 'getProcessTimes', 'closeHandle']);
    assert.deepEqual(interrupts, []);
    assert.equal(open.size, 0);
  });

  it('does nothing for a pid that is gone', async () => {
    const { platform, names } = processes({ openProcess: () => ({ handle: 0n, lastError: 87 }) });
    await platform.stopOrphanTree(8124, CREATION_TOKEN, 1_000);
    assert.deepEqual(names(), ['openProcess']);
  });

  it('asks, waits the grace on the handle, and stops there when the orphan exits', async () => {
    const { platform, log, open } = processes({}, { interrupt: async () => true });
    await platform.stopOrphanTree(8124, CREATION_TOKEN, 1_500);
    assert.deepEqual(log.map((entry) => entry.slice(0, 3)), [
      // PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_TERMINATE | SYNCHRONIZE
      ['openProcess', 0x10_1001, 8124],
      ['getProcessTimes', PROCESS, '00'.repeat(8)],
      ['getExitCodeProcess', PROCESS, '[out]'],
      ['waitForSingleObject', PROCESS, 1_500],
      ['closeHandle', PROCESS],
    ]);
    assert.equal(open.size, 0);
  });

  it('terminates the verified instance when the request is refused or ignored', async () => {
    const waits: number[] = [];
    const { platform, log, open } = processes(
      { waitForSingleObject: async (_h, ms) => (waits.push(ms), ms === 1_500 ? WAIT_TIMEOUT : WAIT_OBJECT_0) },
      { interrupt: async () => true },
    );
    await platform.stopOrphanTree(8124, CREATION_TOKEN, 1_500);
    assert.deepEqual(waits, [1_500, FORCED_EXIT_WAIT_MS]);
    assert.deepEqual(log.find((entry) => entry[0] === 'terminateProcess'), ['terminateProcess', PROCESS, 1]);
    assert.equal(open.size, 0);
  });

  it('accepts an orphan that exited just before TerminateProcess, and reports other failures', async () => {
    let running = true;
    const raced = processes({
      terminateProcess: () => ((running = false), { ok: false, lastError: 5 }),
      getExitCodeProcess: (_p, code) => ((code[0] = running ? STILL_ACTIVE : 0), { ok: true, lastError: 0 }),
    });
    await raced.platform.stopOrphanTree(8124, CREATION_TOKEN, 0);
    assert.equal(raced.open.size, 0);

    const denied = processes({ terminateProcess: () => ({ ok: false, lastError: 5 }) });
    await assert.rejects(denied.platform.stopOrphanTree(8124, CREATION_TOKEN, 0), isWin32Failure('TerminateProcess', 5));
    assert.equal(denied.open.size, 0);

    const stuck = processes({ waitForSingleObject: async () => WAIT_TIMEOUT });
    await assert.rejects(stuck.platform.stopOrphanTree(8124, CREATION_TOKEN, 0), (error: unknown) => error instanceof HostOperationFailedError && error.data.reason === 'StopTimedOut');
    assert.equal(stuck.open.size, 0);
  });
});

describe('the interrupt helper', () => {
  const helper = { node: 'C:\\node\\node.exe', koffi: 'C:\\broker\\node_modules\\koffi\\index.js', kernel32: 'C:\\Windows\\System32\\kernel32.dll', systemRoot: 'C:\\Windows', brokerPid: 99 };

  it('passes every value as argv to the constant script, with only SystemRoot in its environment', async () => {
    const runs: unknown[][] = [];
    const delivered = await interruptConsoleWith(async (...args) => (runs.push(args), 0), helper, 4242);
    assert.equal(delivered, true);
    assert.deepEqual(runs, [[helper.node, ['-e', INTERRUPT_HELPER_SCRIPT, helper.koffi, helper.kernel32, '4242', '99'], { SystemRoot: 'C:\\Windows' }]]);
    assert.doesNotMatch(INTERRUPT_HELPER_SCRIPT, /4242|C:\\/);
  });

  it('counts only a delivered CTRL+C, and never runs for an impossible pid', async () => {
    for (const code of [HELPER_EXIT.noConsole, HELPER_EXIT.notSent, HELPER_EXIT.sharedConsole, HELPER_EXIT.cannotIgnore, 1, null]) {
      assert.equal(await interruptConsoleWith(async () => code, helper, 4242), false);
    }
    let ran = false;
    assert.equal(await interruptConsoleWith(async () => ((ran = true), 0), helper, 0), false);
    assert.equal(ran, false);
  });

  describe('the script, run by node against a stand-in koffi', { skip: !onLinux && 'Linux paths' }, () => {
    const fakeKoffi = resolve(here, 'fixtures/windows/fake-koffi.cjs');

    function run(scenario: object) {
      const result = spawnSync(process.execPath, ['-e', INTERRUPT_HELPER_SCRIPT, fakeKoffi, 'C:\\Windows\\System32\\kernel32.dll', '4242', '99'], {
        env: { FAKE_KERNEL32: JSON.stringify(scenario) },
        encoding: 'utf8',
      });
      assert.equal(result.stderr, '');
      const calls = result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown[])
        .filter((entry) => entry[0] !== 'func');
      return { status: result.status, calls };
    }

    it('attaches, checks the broker is not on the console, ignores CTRL+C itself, then sends it to the console', () => {
      const { status, calls } = run({ consolePids: [4242, 4250, process.pid] });
      assert.equal(status, HELPER_EXIT.delivered);
      assert.deepEqual(calls, [
        ['load', 'C:\\Windows\\System32\\kernel32.dll'],
        ['FreeConsole'],
        ['AttachConsole', 4242],
        ['GetConsoleProcessList', '<buffer 4096>', 1024],
        ['SetConsoleCtrlHandler', null, 1],
        ['GenerateConsoleCtrlEvent', 0, 0],
      ]);
    });

    it('sends nothing to a process without a console', () => {
      const { status, calls } = run({ attach: 0 });
      assert.equal(status, HELPER_EXIT.noConsole);
      assert.deepEqual(calls.at(-1), ['AttachConsole', 4242]);
    });

    it('sends nothing when the broker shares the console, or the list cannot be read whole', () => {
      for (const consolePids of [[4242, 99], [], Array.from({ length: 1025 }, (_, i) => i + 1000)]) {
        const { status, calls } = run({ consolePids });
        assert.equal(status, HELPER_EXIT.sharedConsole, JSON.stringify(consolePids.slice(0, 3)));
        assert.ok(!calls.some((entry) => entry[0] === 'GenerateConsoleCtrlEvent' || entry[0] === 'SetConsoleCtrlHandler'));
      }
    });

    it('sends nothing when it could not protect itself, and reports a failed send', () => {
      assert.equal(run({ consolePids: [4242], ignore: 0 }).status, HELPER_EXIT.cannotIgnore);
      assert.equal(run({ consolePids: [4242], generate: 0 }).status, HELPER_EXIT.notSent);
    });
  });
});

describe('windowsBaseEnvironment', () => {
  it('fixes PATH to the system directories and keeps only the system locations, whatever their case', () => {
    const base = windowsBaseEnvironment({
      systemroot: 'D:\\WINDOWS',
      Path: 'C:\\broker\\bin;C:\\Windows\\System32',
      TEMP: 'D:\\WINDOWS\\TEMP',
      ProgramData: 'C:\\ProgramData',
      'ProgramFiles(x86)': 'C:\\Program Files (x86)',
      USERPROFILE: 'D:\\WINDOWS\\system32\\config\\systemprofile',
      NODE_OPTIONS: '--require C:\\evil.js',
      WINSHOST_TOKEN: 'secret',
    });
    assert.deepEqual(base, {
      SystemRoot: 'D:\\WINDOWS',
      windir: 'D:\\WINDOWS',
      PATH: 'D:\\WINDOWS\\System32;D:\\WINDOWS;D:\\WINDOWS\\System32\\Wbem;D:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0',
      PATHEXT: '.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC',
      ComSpec: 'D:\\WINDOWS\\System32\\cmd.exe',
      TEMP: 'D:\\WINDOWS\\TEMP',
      ProgramData: 'C:\\ProgramData',
      'ProgramFiles(x86)': 'C:\\Program Files (x86)',
      USERPROFILE: 'D:\\WINDOWS\\system32\\config\\systemprofile',
    });
    assert.equal(windowsBaseEnvironment({}).SystemRoot, 'C:\\Windows');
  });
});

describe('windowsPlatform processes', () => {
  const native = (overrides: Partial<WindowsNative>) => nativeWith(overrides, 'the processes tests');

  it('reaches kernel32 through native.processCalls and the helper through native.interruptConsole', async () => {
    const fake = fakeCalls();
    const spawn = fakeSpawn();
    const interrupted: number[] = [];
    const platform = windowsPlatform({
      native: native({ processCalls: () => fake.calls, interruptConsole: async (pid) => (interrupted.push(pid), false) }),
      processes: { spawn: spawn.spawn },
    });
    assert.equal(await platform.processes.instanceOf(8124), CREATION_TOKEN);
    const launched = await platform.processes.launch(SPEC, recordingEvents().events);
    const stopping = launched.stopTree(1_000);
    await flush();
    spawn.child.finish(1);
    await stopping;
    assert.deepEqual(interrupted, [PID]);
    assert.equal(fake.open.size, 0);
  });

  it('maps failures that are not BrokerErrors (koffi, DLL loading) to HostOperationFailed', async () => {
    const platform = windowsPlatform({ native: native({ processCalls: () => { throw new TypeError('koffi: cannot load kernel32.dll'); } }) });
    await assert.rejects(platform.processes.instanceOf(8124), (error: unknown) => {
      assert.ok(error instanceof BrokerError);
      assert.equal(error.codeName, 'HostOperationFailed');
      assert.ok(error.cause instanceof TypeError);
      assert.doesNotMatch(error.message, /koffi/);
      return true;
    });
  });
});
