import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { CALLBACK_PROTOTYPES, PROTOTYPES, serviceControlCallsWith, type ServiceFns } from '../../broker/src/platform/windows/native.js';
import {
  decodeServiceStatus,
  encodeServiceTable,
  ERROR_CALL_NOT_IMPLEMENTED,
  ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
  ERROR_SERVICE_SPECIFIC_ERROR,
  runAsWindowsService,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
  SERVICE_LAYOUT,
  wideString,
  type HandlerExFn,
  type ServiceControlCalls,
  type ServiceLifecycle,
} from '../../broker/src/service/windows-dispatcher.js';
import { signature } from './fixtures/windows/prototypes.js';

const onLinux = process.platform === 'linux';
const NAME_ADDRESS = 0x1000n;
const MAIN_ADDRESS = 0x2000n;
const HANDLER_ADDRESS = 0x3000n;
const STATUS_HANDLE = 0x4000n;

/** winsvc.h transcribed for koffi, so SERVICE_LAYOUT is checked against a C compiler's rules, not by hand. */
const SERVICE_TABLE_ENTRYW = koffi.struct('SERVICE_TABLE_ENTRYW_test', { lpServiceName: 'char16_t *', lpServiceProc: 'void *' });
const SERVICE_STATUS = koffi.struct('SERVICE_STATUS_test', {
  dwServiceType: 'uint32_t',
  dwCurrentState: 'uint32_t',
  dwControlsAccepted: 'uint32_t',
  dwWin32ExitCode: 'uint32_t',
  dwServiceSpecificExitCode: 'uint32_t',
  dwCheckPoint: 'uint32_t',
  dwWaitHint: 'uint32_t',
});

/**
 * The SCM, played by the test: the dispatcher promise is settled by the test, ServiceMain and HandlerEx are
 * called as Windows would, every SetServiceStatus is recorded as [state, controls, win32 exit, specific exit,
 * checkpoint, wait hint].
 */
function fakeScm(options: { dispatcherFails?: number; handlerFails?: number } = {}) {
  const log: unknown[][] = [];
  const statuses: number[][] = [];
  let serviceMain: ((argc: number) => void) | undefined;
  let handler: HandlerExFn | undefined;
  let returnDispatcher!: (result: { ok: boolean; lastError: number }) => void;
  const ticks: (() => void)[] = [];
  const calls: ServiceControlCalls = {
    startDispatcher(table) {
      log.push(['StartServiceCtrlDispatcherW', table.readBigUInt64LE(0), table.readBigUInt64LE(8), table.readBigUInt64LE(16), table.readBigUInt64LE(24)]);
      if (options.dispatcherFails) return Promise.resolve({ ok: false, lastError: options.dispatcherFails });
      return new Promise((resolve) => (returnDispatcher = resolve));
    },
    registerServiceMain(main) {
      serviceMain = main;
      log.push(['register ServiceMainW']);
      return MAIN_ADDRESS;
    },
    registerHandler(name, fn) {
      log.push(['RegisterServiceCtrlHandlerExW', name]);
      if (options.handlerFails) return { handle: 0n, callback: 0n, lastError: options.handlerFails };
      handler = fn;
      return { handle: STATUS_HANDLE, callback: HANDLER_ADDRESS, lastError: 0 };
    },
    setServiceStatus(handle, status) {
      assert.equal(handle, STATUS_HANDLE);
      const s = decodeServiceStatus(status);
      assert.equal(s.serviceType, 0x10);
      statuses.push([s.currentState, s.controlsAccepted, s.win32ExitCode, s.serviceSpecificExitCode, s.checkPoint, s.waitHint]);
      // SERVICE_STOPPED for the only service of the process: the dispatcher returns.
      if (s.currentState === 1) setImmediate(() => returnDispatcher({ ok: true, lastError: 0 }));
      return { ok: true, lastError: 0 };
    },
    unregister(callback) {
      log.push(['unregister', callback]);
    },
    address(buffer) {
      assert.equal(buffer.toString('utf16le'), 'WinsHostBroker\0');
      return NAME_ADDRESS;
    },
  };
  return {
    calls,
    log,
    statuses,
    every: (_ms: number, tick: () => void) => (ticks.push(tick), () => ticks.splice(ticks.indexOf(tick), 1)),
    tick: () => [...ticks].forEach((tick) => tick()),
    startService: () => serviceMain!(1),
    control: (code: number) => handler!(code, 0),
  };
}

const STOPPED = 1;
const START_PENDING = 2;
const STOP_PENDING = 3;
const RUNNING = 4;
const HINT = 30_000;

describe('Windows service: structures', () => {
  it('SERVICE_TABLE_ENTRYW and SERVICE_STATUS offsets match the SDK declarations', () => {
    for (const [name, type] of [['SERVICE_TABLE_ENTRYW', SERVICE_TABLE_ENTRYW], ['SERVICE_STATUS', SERVICE_STATUS]] as const) {
      const layout = SERVICE_LAYOUT[name] as Record<string, number>;
      for (const member of Object.keys(layout).filter((key) => key !== 'size')) assert.equal(layout[member], koffi.offsetof(type, member), `${name}.${member}`);
      assert.equal(layout.size, koffi.sizeof(type), `sizeof(${name})`);
    }
  });

  it('the dispatch table is the service entry then the NULL entry that ends it', () => {
    const table = encodeServiceTable(NAME_ADDRESS, MAIN_ADDRESS);
    assert.equal(table.toString('hex'), '0010000000000000' + '0020000000000000' + '00'.repeat(16));
    assert.deepEqual([...wideString('Ab')], [0x41, 0, 0x62, 0, 0, 0]);
  });
});

describe('Windows service: the status sequence', () => {
  const serve = (scm: ReturnType<typeof fakeScm>, body: (service: ServiceLifecycle) => Promise<number>) =>
    runAsWindowsService(scm.calls, body, { every: scm.every, waitHintMs: HINT, exitCodeOf: () => 1 });

  it('start, then STOP: START_PENDING, RUNNING (STOP|SHUTDOWN), STOP_PENDING with progress, the broker stops, STOPPED 0', async () => {
    const scm = fakeScm();
    const steps: string[] = [];
    const done = serve(scm, async (service) => {
      steps.push('starting');
      scm.tick(); // a slow start reports progress
      service.running();
      const control = await service.stopRequested;
      steps.push(`stop ${control}`);
      scm.tick(); // a slow stop reports progress
      steps.push('broker stopped');
      return 0;
    });
    await new Promise(setImmediate);
    scm.startService();
    await new Promise(setImmediate);
    assert.equal(scm.control(SERVICE_CONTROL_INTERROGATE), 0);
    assert.equal(scm.control(128), ERROR_CALL_NOT_IMPLEMENTED);
    assert.equal(scm.control(SERVICE_CONTROL_STOP), 0);
    assert.equal(scm.control(SERVICE_CONTROL_STOP), 0, 'a second STOP while stopping is acknowledged, not acted on');
    assert.equal(await done, 0);
    assert.deepEqual(steps, ['starting', `stop ${SERVICE_CONTROL_STOP}`, 'broker stopped']);
    assert.deepEqual(scm.statuses, [
      [START_PENDING, 0, 0, 0, 1, HINT],
      [START_PENDING, 0, 0, 0, 2, HINT],
      [RUNNING, 0x1 | 0x4, 0, 0, 0, 0],
      [STOP_PENDING, 0, 0, 0, 1, HINT],
      [STOP_PENDING, 0, 0, 0, 2, HINT],
      [STOPPED, 0, 0, 0, 0, 0],
    ]);
    assert.deepEqual(scm.log, [
      ['register ServiceMainW'],
      ['StartServiceCtrlDispatcherW', NAME_ADDRESS, MAIN_ADDRESS, 0n, 0n],
      ['RegisterServiceCtrlHandlerExW', 'WinsHostBroker'],
      ['unregister', HANDLER_ADDRESS],
      ['unregister', MAIN_ADDRESS],
    ]);
  });

  it('SHUTDOWN stops the same way', async () => {
    const scm = fakeScm();
    const done = serve(scm, async (service) => {
      service.running();
      assert.equal(await service.stopRequested, SERVICE_CONTROL_SHUTDOWN);
      return 0;
    });
    await new Promise(setImmediate);
    scm.startService();
    await new Promise(setImmediate);
    scm.control(SERVICE_CONTROL_SHUTDOWN);
    assert.equal(await done, 0);
    assert.deepEqual(scm.statuses.map((status) => status[0]), [START_PENDING, RUNNING, STOP_PENDING, STOPPED]);
  });

  it('a start failure is STOPPED with ERROR_SERVICE_SPECIFIC_ERROR and the broker exit code, never RUNNING', async () => {
    const scm = fakeScm();
    const done = serve(scm, async () => 3);
    await new Promise(setImmediate);
    scm.startService();
    assert.equal(await done, 3);
    assert.deepEqual(scm.statuses, [
      [START_PENDING, 0, 0, 0, 1, HINT],
      [STOPPED, 0, ERROR_SERVICE_SPECIFIC_ERROR, 3, 0, 0],
    ]);
  });

  it('an exception in the broker is STOPPED with its mapped exit code, and is rethrown', async () => {
    const scm = fakeScm();
    const done = serve(scm, async () => {
      throw new Error('policy.yaml:1:1: bad');
    });
    await new Promise(setImmediate);
    scm.startService();
    await assert.rejects(done, /policy\.yaml:1:1: bad/);
    assert.deepEqual(scm.statuses.at(-1), [STOPPED, 0, ERROR_SERVICE_SPECIFIC_ERROR, 1, 0, 0]);
  });

  it('outside the SCM it fails at once with the reason, and the broker never starts', async () => {
    const scm = fakeScm({ dispatcherFails: ERROR_FAILED_SERVICE_CONTROLLER_CONNECT });
    let started = false;
    await assert.rejects(
      serve(scm, async () => ((started = true), 0)),
      /StartServiceCtrlDispatcherW failed with Win32 error 1063: --service is for the service control manager; run serve without it from a console/,
    );
    assert.equal(started, false);
    assert.deepEqual(scm.statuses, []);
    assert.deepEqual(scm.log.at(-1), ['unregister', MAIN_ADDRESS]);
  });

  it('a handler that cannot be registered stops the start with the Win32 error', async () => {
    const scm = fakeScm({ handlerFails: 1063 });
    const done = serve(scm, async () => 0);
    await new Promise(setImmediate);
    scm.startService();
    await assert.rejects(done, /RegisterServiceCtrlHandlerExW failed with Win32 error 1063/);
  });
});

describe('Windows service: the CLI', () => {
  it('serve --service is refused off Windows as a usage error, before anything starts', { skip: process.platform === 'win32' && 'Windows accepts it' }, () => {
    const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
    const result = spawnSync(process.execPath, ['--import', 'tsx', cli, 'serve', '--service', '--listen', '/nonexistent/x.sock'], { encoding: 'utf8' });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--service is for the Windows service control manager; on Linux run serve under systemd/);
  });
});

describe('Windows service: native declarations', () => {
  it('declares the dispatcher calls and the two callbacks with the SDK types', () => {
    assert.deepEqual(signature(PROTOTYPES.StartServiceCtrlDispatcherW), { name: 'StartServiceCtrlDispatcherW', result: 'int32_t', args: [['void *', 'Pointer', 8, 'Input']] });
    assert.deepEqual(signature(PROTOTYPES.RegisterServiceCtrlHandlerExW), {
      name: 'RegisterServiceCtrlHandlerExW',
      result: 'void *',
      args: [
        ['char16_t *', 'String16', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
      ],
    });
    assert.deepEqual(signature(PROTOTYPES.SetServiceStatus).args.map((arg) => arg[0]), ['void *', 'void *']);
    assert.deepEqual(signature(CALLBACK_PROTOTYPES.ServiceMainW), { name: 'ServiceMainW', result: 'void', args: [['uint32_t', 'UInt32', 4, 'Input'], ['void *', 'Pointer', 8, 'Input']] });
    assert.deepEqual(signature(CALLBACK_PROTOTYPES.HandlerEx), {
      name: 'HandlerEx',
      result: 'uint32_t',
      args: [
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
      ],
    });
  });

  it('the glue registers HandlerEx before RegisterServiceCtrlHandlerExW and releases it when that fails', async () => {
    const log: unknown[][] = [];
    let registered: ((control: number, eventType: number, data: unknown, context: unknown) => number) | undefined;
    const fns: ServiceFns = {
      StartServiceCtrlDispatcherW: async (table) => (log.push(['StartServiceCtrlDispatcherW', table.length]), { result: 0, lastError: 1063 }),
      RegisterServiceCtrlHandlerExW: (name, handler, context) => (log.push(['RegisterServiceCtrlHandlerExW', name, handler, context]), name === 'bad' ? null : STATUS_HANDLE),
      SetServiceStatus: (handle, status) => (log.push(['SetServiceStatus', handle, status.length]), 1),
      GetLastError: () => 1063,
      registerServiceMain: () => MAIN_ADDRESS,
      registerHandlerEx: (fn) => ((registered = fn), HANDLER_ADDRESS),
      unregister: (callback) => void log.push(['unregister', callback]),
      address: () => NAME_ADDRESS,
    };
    const calls = serviceControlCallsWith(fns);
    const handled: number[] = [];
    assert.deepEqual(calls.registerHandler('WinsHostBroker', (control) => (handled.push(control), 0)), { handle: STATUS_HANDLE, callback: HANDLER_ADDRESS, lastError: 0 });
    assert.equal(registered!(SERVICE_CONTROL_STOP, 0, null, null), 0);
    assert.deepEqual(handled, [SERVICE_CONTROL_STOP]);
    assert.deepEqual(calls.registerHandler('bad', () => 0), { handle: 0n, callback: 0n, lastError: 1063 });
    assert.deepEqual(await calls.startDispatcher(Buffer.alloc(32)), { ok: false, lastError: 1063 });
    assert.deepEqual(log, [
      ['RegisterServiceCtrlHandlerExW', 'WinsHostBroker', HANDLER_ADDRESS, null],
      ['RegisterServiceCtrlHandlerExW', 'bad', HANDLER_ADDRESS, null],
      ['unregister', HANDLER_ADDRESS],
      ['StartServiceCtrlDispatcherW', 32],
    ]);
  });
});

/**
 * What the dispatcher relies on in koffi, shown with libc: a registered callback called from a thread the
 * event loop does not own (as the SCM calls ServiceMain and HandlerEx) runs on the event loop while that thread
 * waits, and its return value reaches the thread.
 */
describe('koffi: a registered callback called from another thread', { skip: !onLinux && 'needs libc.so.6' }, () => {
  it('runs on the event-loop thread and hands its result back to the calling thread', async () => {
    const libc = koffi.load('libc.so.6');
    const ThreadStart = koffi.proto('void *ThreadStart(void *arg)');
    const pthreadCreate = libc.func('int pthread_create(_Out_ uint64_t *thread, void *attr, ThreadStart *start, void *arg)');
    const pthreadJoin = libc.func('int pthread_join(uint64_t thread, _Out_ void **result)');
    let calledWith: unknown;
    const callback = koffi.register((arg: unknown) => {
      calledWith = arg;
      return 0x1234n;
    }, koffi.pointer(ThreadStart));
    try {
      const thread: [unknown] = [0];
      assert.equal(pthreadCreate(thread, null, callback, 0x77n), 0);
      const result: [unknown] = [null];
      const joined = await new Promise((resolve, reject) => pthreadJoin.async(thread[0], result, (error: unknown, value: unknown) => (error ? reject(error) : resolve(value))));
      assert.equal(joined, 0);
      assert.equal(BigInt(calledWith as bigint), 0x77n);
      assert.equal(BigInt(result[0] as bigint), 0x1234n);
    } finally {
      koffi.unregister(callback);
    }
  });
});
