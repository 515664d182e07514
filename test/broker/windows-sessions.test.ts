import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditLog } from '../../broker/src/audit.js';
import { SessionManager } from '../../broker/src/handlers/session-manager.js';
import { parsePolicy } from '../../broker/src/policy/load.js';
import {
  extendedLimitInformation,
  JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  JobObjectExtendedLimitInformation,
  PROCESS_SET_QUOTA,
  PROCESS_TERMINATE,
  type ProcessCalls,
} from '../../broker/src/platform/windows/processes.js';
import { defaultWindowsExecutable, resolveWindowsContainer, SESSION_HOST_JOB_ACCESS, windowsSessions, windowsSessionSpawn } from '../../broker/src/platform/windows/sessions.js';
import { sessionHostArgs } from '../../broker/src/sessions/session-host.js';
import { FAKE_SESSION_HOST } from './support/fake-sessions.js';

const serviceEnv = {
  SystemRoot: 'C:\\Windows',
  ProgramFiles: 'C:\\Program Files',
  ProgramData: 'C:\\ProgramData',
  TEMP: 'C:\\Windows\\TEMP',
  USERPROFILE: 'C:\\Windows\\system32\\config\\systemprofile',
  // The broker's own configuration is not passed on.
  WINSHOST_SECRET: 'do-not-pass',
  NODE_OPTIONS: '--inspect',
};

const JOBS = [0x1a4n, 0x1a8n];
const PROCESS_HANDLE = 0x2b8n;

/** kernel32's job calls as a recording; handles are tracked so a leak or a double close fails the test. */
function recordedJobCalls(overrides: Partial<ProcessCalls> = {}) {
  const log: unknown[][] = [];
  const open = new Set<bigint>();
  let jobsMade = 0;
  const ok = { ok: true, lastError: 0 };
  const refused = () => assert.fail('a session host needs no other kernel32 call');
  const base: ProcessCalls = {
    createJobObject: () => {
      const handle = JOBS[jobsMade++];
      open.add(handle);
      return { handle, lastError: 0 };
    },
    setInformationJobObject: () => ok,
    assignProcessToJobObject: () => ok,
    openProcess: () => (open.add(PROCESS_HANDLE), { handle: PROCESS_HANDLE, lastError: 0 }),
    closeHandle: (handle) => {
      assert.ok(open.delete(handle), `CloseHandle(${handle}) of a handle that is not open`);
      return ok;
    },
    terminateJobObject: refused,
    getProcessTimes: refused,
    getExitCodeProcess: refused,
    terminateProcess: refused,
    waitForSingleObject: refused,
  };
  const merged = { ...base, ...overrides };
  const calls = {} as ProcessCalls;
  for (const name of Object.keys(merged) as (keyof ProcessCalls)[]) {
    (calls as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      log.push([name, ...args]);
      return (merged[name] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return { calls, log, open };
}

const fakeHost = () => spawn(process.execPath, [FAKE_SESSION_HOST], { stdio: ['pipe', 'pipe', 'pipe'] });
const spec = { executable: 'C:\\Program Files\\PowerShell\\7\\pwsh.exe', args: [], env: {}, cwd: 'C:\\ProgramData\\WinsHost\\state' };
const exitOf = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('Windows session hosts', () => {
  it('prefers PowerShell 7 where its installer puts it, else Windows PowerShell', () => {
    assert.equal(defaultWindowsExecutable(serviceEnv, (p) => p === 'C:\\Program Files\\PowerShell\\7\\pwsh.exe'), 'C:\\Program Files\\PowerShell\\7\\pwsh.exe');
    assert.equal(defaultWindowsExecutable(serviceEnv, () => false), 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    assert.equal(defaultWindowsExecutable({ systemroot: 'D:\\Win', programfiles: 'D:\\PF' }, (p) => p.startsWith('D:\\PF')), 'D:\\PF\\PowerShell\\7\\pwsh.exe');
  });

  it('spawns exactly this: the executable, the -File argv with the assembly, the system environment plus the policy’s, hidden', () => {
    const spawned = windowsSessionSpawn(
      {
        executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
        args: sessionHostArgs('C:\\Program Files\\WinsHost\\broker\\session-host.ps1', 'C:\\Program Files\\WinsHost\\broker\\WinsHost.SessionHost.dll'),
        env: { PSModulePath: 'C:\\Modules', HTTP_PROXY: 'http://proxy:3128' },
        cwd: 'C:\\ProgramData\\WinsHost\\state',
      },
      serviceEnv,
    );
    assert.deepEqual(spawned, {
      file: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      args: [
        ...['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', 'C:\\Program Files\\WinsHost\\broker\\session-host.ps1'],
        ...['-AssemblyPath', 'C:\\Program Files\\WinsHost\\broker\\WinsHost.SessionHost.dll'],
      ],
      options: {
        cwd: 'C:\\ProgramData\\WinsHost\\state',
        env: {
          SystemRoot: 'C:\\Windows',
          windir: 'C:\\Windows',
          PATH: 'C:\\Windows\\System32;C:\\Windows;C:\\Windows\\System32\\Wbem;C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
          PATHEXT: '.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC',
          ComSpec: 'C:\\Windows\\System32\\cmd.exe',
          TEMP: 'C:\\Windows\\TEMP',
          ProgramData: 'C:\\ProgramData',
          ProgramFiles: 'C:\\Program Files',
          USERPROFILE: 'C:\\Windows\\system32\\config\\systemprofile',
          PSModulePath: 'C:\\Modules',
          HTTP_PROXY: 'http://proxy:3128',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      },
    });
  });

  it('resolves a container to its id for PowerShell Direct, and refuses Linux container kinds', () => {
    const resolved = resolveWindowsContainer('web', { containerId: '3f9c2a1b-0000-4000-8000-00000000abcd' });
    assert.equal(resolved.name, 'web');
    assert.deepEqual(resolved.openConfig, { containerId: '3f9c2a1b-0000-4000-8000-00000000abcd' });
    assert.equal(resolved.namespaces, undefined);
    assert.throws(() => resolveWindowsContainer('ns', { netns: 'blue' }), (e: any) => e.data.reason === 'NotSupported' && e.data.platform === 'windows');
  });

  describe('through the session manager', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-winsessions-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('opens a container session on a host started on the host, with containerId in the open config', async () => {
      const calls: { file: string; args: string[]; options: SpawnOptions }[] = [];
      const kernel32 = recordedJobCalls();
      const platform = windowsSessions({
        env: serviceEnv,
        exists: () => true,
        calls: async () => kernel32.calls,
        // The recorded call is what Windows would run; the fake host plays the part here.
        spawn: (file, args, options): ChildProcess => {
          calls.push({ file, args, options });
          return spawn(process.execPath, [FAKE_SESSION_HOST], { stdio: ['pipe', 'pipe', 'pipe'] });
        },
      });
      const policy = parsePolicy(
        `listeners:\n  - name: main\n    profiles: [p]\nprofiles:\n  p:\n    sessions: { targets: [web], languageMode: ConstrainedLanguage }\ncontainers:\n  web: { containerId: 3f9c2a1b-0000-4000-8000-00000000abcd }\n`,
        'test.yaml',
      );
      const audit = AuditLog.open(join(dir, 'audit.log'));
      const manager = new SessionManager({ platform, audit, stateDir: join(dir, 'state'), policy: () => policy, maxMessageBytes: () => 4 * 1024 * 1024, log: () => {} });
      manager.start();
      const owner = { connectionId: 1, caller: { listener: 'main', profile: 'p' }, profileName: 'p', profile: policy.profiles.p };
      const info = await manager.open(owner, { target: 'web' });
      assert.equal(info.Target, 'web');
      assert.equal(calls.length, 1, 'no warm host: the profile grants no host sessions');
      assert.equal(calls[0].file, 'C:\\Program Files\\PowerShell\\7\\pwsh.exe');
      assert.deepEqual(calls[0].args.slice(0, 6), ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File']);
      assert.match(calls[0].args[6], /session-host\.ps1$/);
      assert.equal(calls[0].options.windowsHide, true);
      const outputs: string[] = [];
      await manager.invoke(owner, { sessionId: info.Id, script: 'config' }, { notify: (n) => outputs.push(n.clixml), congested: () => false, drained: async () => {}, token: { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) } as never });
      const config = JSON.parse(/<S>(.*)<\/S>/s.exec(outputs[0])![1]);
      assert.equal(config.containerId, '3f9c2a1b-0000-4000-8000-00000000abcd');
      assert.equal(config.languageMode, 'ConstrainedLanguage');
      await manager.shutdown();
      await audit.close();
      assert.deepEqual(kernel32.log.map(([name]) => name), ['createJobObject', 'setInformationJobObject', 'openProcess', 'assignProcessToJobObject', 'closeHandle', 'closeHandle']);
      assert.deepEqual(kernel32.open, new Set(), 'the job is closed once the host is gone');
    });
  });

  describe('held in a kill-on-close Job Object', () => {
    it('puts the first host in its job once the calls load, holding its output back until then, and closes the job when it exits', async () => {
      const kernel32 = recordedJobCalls();
      let loaded!: (calls: ProcessCalls) => void;
      const platform = windowsSessions({ env: serviceEnv, exists: () => true, spawn: fakeHost, calls: () => new Promise((resolve) => (loaded = resolve)) });
      const child = platform.spawnHost(spec);
      child.stdout!.on('data', () => {});
      assert.equal(child.stdout!.readableFlowing, false, 'no output reaches the broker before the host is in its job');
      assert.deepEqual(kernel32.log, []);
      loaded(kernel32.calls);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(kernel32.log, [
        ['createJobObject'],
        ['setInformationJobObject', JOBS[0], JobObjectExtendedLimitInformation, extendedLimitInformation(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)],
        ['openProcess', PROCESS_SET_QUOTA | PROCESS_TERMINATE, child.pid],
        ['assignProcessToJobObject', JOBS[0], PROCESS_HANDLE],
        ['closeHandle', PROCESS_HANDLE],
      ]);
      assert.equal(SESSION_HOST_JOB_ACCESS, 0x0101);
      assert.equal(child.stdout!.readableFlowing, true, 'its output flows once it is held');
      assert.deepEqual(kernel32.open, new Set([JOBS[0]]), 'the job stays open while the host runs');
      child.kill();
      await exitOf(child);
      assert.deepEqual(kernel32.log.at(-1), ['closeHandle', JOBS[0]]);
      assert.deepEqual(kernel32.open, new Set());
    });

    it('puts later hosts in their job in the same turn as the spawn', async () => {
      const kernel32 = recordedJobCalls();
      const platform = windowsSessions({ env: serviceEnv, exists: () => true, spawn: fakeHost, calls: async () => kernel32.calls });
      const first = platform.spawnHost(spec);
      await new Promise((resolve) => setImmediate(resolve));
      const before = kernel32.log.length;
      const second = platform.spawnHost(spec);
      assert.deepEqual(
        kernel32.log.slice(before).map(([name]) => name),
        ['createJobObject', 'setInformationJobObject', 'openProcess', 'assignProcessToJobObject', 'closeHandle'],
        'held before spawnHost returns',
      );
      assert.notEqual(second.stdout!.readableFlowing, false);
      first.kill();
      second.kill();
      await Promise.all([exitOf(first), exitOf(second)]);
      assert.deepEqual(kernel32.open, new Set(), 'both jobs closed');
    });

    it('ends a host it cannot put in a job, says why, and leaves no handle open', async () => {
      const kernel32 = recordedJobCalls({ assignProcessToJobObject: () => ({ ok: false, lastError: 5 }) });
      const platform = windowsSessions({ env: serviceEnv, exists: () => true, spawn: fakeHost, calls: async () => kernel32.calls });
      const first = platform.spawnHost(spec);
      const error = await new Promise<any>((resolve) => first.once('error', resolve));
      assert.equal(error.data.reason, 'SessionHostStartFailed');
      assert.match(error.message, /job object \(AssignProcessToJobObject failed with Win32 error 5\)/);
      await exitOf(first);
      assert.deepEqual(kernel32.open, new Set());

      // Once loaded, the same failure is thrown by spawnHost itself, the host already ended.
      let spawned: ChildProcess | undefined;
      const again = windowsSessions({ env: serviceEnv, exists: () => true, spawn: () => (spawned = fakeHost()), calls: async () => kernel32.calls });
      again.spawnHost(spec).on('error', () => {});
      await new Promise((resolve) => setImmediate(resolve));
      assert.throws(() => again.spawnHost(spec), (e: any) => e.data.reason === 'SessionHostStartFailed' && /AssignProcessToJobObject/.test(e.message));
      await exitOf(spawned!);
      assert.deepEqual(kernel32.open, new Set());
    });

    it('fails a session whose host cannot be held, through the session manager', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'winshost-winsessions-job-'));
      const kernel32 = recordedJobCalls({ createJobObject: () => ({ handle: 0n, lastError: 8 }) });
      const platform = windowsSessions({ env: serviceEnv, exists: () => true, spawn: fakeHost, calls: async () => kernel32.calls });
      const policy = parsePolicy(`listeners:\n  - name: main\n    profiles: [p]\nprofiles:\n  p:\n    sessions: { targets: [host] }\nsessionHost: { warm: 0 }\n`, 'test.yaml');
      const audit = AuditLog.open(join(dir, 'audit.log'));
      const manager = new SessionManager({ platform, audit, stateDir: join(dir, 'state'), policy: () => policy, maxMessageBytes: () => 4 * 1024 * 1024, log: () => {} });
      try {
        manager.start();
        const owner = { connectionId: 1, caller: { listener: 'main', profile: 'p' }, profileName: 'p', profile: policy.profiles.p };
        await assert.rejects(manager.open(owner, {}), (e: any) => e.data.reason === 'SessionHostStartFailed' && /CreateJobObjectW failed with Win32 error 8/.test(e.message));
        assert.deepEqual(kernel32.open, new Set());
      } finally {
        await manager.shutdown();
        await audit.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
