import { win32Failure } from '../platform/windows/win32.js';
import { SERVICE_NAME } from './windows.js';

/**
 * `serve --service` on Windows: the broker answers the service control manager. StartServiceCtrlDispatcherW
 * blocks its thread until every service of the process has stopped, so it runs on a koffi worker thread and the
 * event loop keeps serving. The SCM calls ServiceMain on a thread of its own and HandlerEx on the dispatcher's
 * thread; koffi relays both to the event-loop thread and holds the calling thread until the JS returns.
 * ServiceMain registers HandlerEx and reports START_PENDING, then returns (the documented pattern: the service
 * carries on without that thread). Pure apart from ServiceControlCalls, so the status sequence is checked on Linux.
 */

/** x64 byte offsets (winsvc.h), checked against koffi's layout of the SDK declarations in the tests. */
export const SERVICE_LAYOUT = {
  /** `_SERVICE_TABLE_ENTRYW { LPWSTR lpServiceName; LPSERVICE_MAIN_FUNCTIONW lpServiceProc; }` */
  SERVICE_TABLE_ENTRYW: { lpServiceName: 0, lpServiceProc: 8, size: 16 },
  /** `_SERVICE_STATUS { DWORD dwServiceType, dwCurrentState, dwControlsAccepted, dwWin32ExitCode, dwServiceSpecificExitCode, dwCheckPoint, dwWaitHint; }` */
  SERVICE_STATUS: {
    dwServiceType: 0,
    dwCurrentState: 4,
    dwControlsAccepted: 8,
    dwWin32ExitCode: 12,
    dwServiceSpecificExitCode: 16,
    dwCheckPoint: 20,
    dwWaitHint: 24,
    size: 28,
  },
} as const;

/** winsvc.h / winnt.h / winerror.h values. */
export const SERVICE_WIN32_OWN_PROCESS = 0x10;
export const SERVICE_STOPPED = 1;
export const SERVICE_START_PENDING = 2;
export const SERVICE_STOP_PENDING = 3;
export const SERVICE_RUNNING = 4;
export const SERVICE_ACCEPT_STOP = 0x1;
export const SERVICE_ACCEPT_SHUTDOWN = 0x4;
export const SERVICE_CONTROL_STOP = 1;
export const SERVICE_CONTROL_INTERROGATE = 4;
export const SERVICE_CONTROL_SHUTDOWN = 5;
export const NO_ERROR = 0;
export const ERROR_CALL_NOT_IMPLEMENTED = 120;
export const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063;
export const ERROR_SERVICE_SPECIFIC_ERROR = 1066;

export interface ServiceStatus {
  serviceType: number;
  currentState: number;
  controlsAccepted: number;
  win32ExitCode: number;
  serviceSpecificExitCode: number;
  checkPoint: number;
  waitHint: number;
}

export function encodeServiceStatus(status: ServiceStatus): Buffer {
  const layout = SERVICE_LAYOUT.SERVICE_STATUS;
  const buffer = Buffer.alloc(layout.size);
  buffer.writeUInt32LE(status.serviceType, layout.dwServiceType);
  buffer.writeUInt32LE(status.currentState, layout.dwCurrentState);
  buffer.writeUInt32LE(status.controlsAccepted, layout.dwControlsAccepted);
  buffer.writeUInt32LE(status.win32ExitCode, layout.dwWin32ExitCode);
  buffer.writeUInt32LE(status.serviceSpecificExitCode, layout.dwServiceSpecificExitCode);
  buffer.writeUInt32LE(status.checkPoint, layout.dwCheckPoint);
  buffer.writeUInt32LE(status.waitHint, layout.dwWaitHint);
  return buffer;
}

export function decodeServiceStatus(buffer: Buffer): ServiceStatus {
  const layout = SERVICE_LAYOUT.SERVICE_STATUS;
  return {
    serviceType: buffer.readUInt32LE(layout.dwServiceType),
    currentState: buffer.readUInt32LE(layout.dwCurrentState),
    controlsAccepted: buffer.readUInt32LE(layout.dwControlsAccepted),
    win32ExitCode: buffer.readUInt32LE(layout.dwWin32ExitCode),
    serviceSpecificExitCode: buffer.readUInt32LE(layout.dwServiceSpecificExitCode),
    checkPoint: buffer.readUInt32LE(layout.dwCheckPoint),
    waitHint: buffer.readUInt32LE(layout.dwWaitHint),
  };
}

/** The dispatch table: one entry for this service, then the all-NULL entry that ends it. */
export function encodeServiceTable(nameAddress: bigint, serviceMainAddress: bigint): Buffer {
  const entry = SERVICE_LAYOUT.SERVICE_TABLE_ENTRYW;
  const table = Buffer.alloc(entry.size * 2);
  table.writeBigUInt64LE(nameAddress, entry.lpServiceName);
  table.writeBigUInt64LE(serviceMainAddress, entry.lpServiceProc);
  return table;
}

/** The service name as LPWSTR: UTF-16LE with its NUL, in memory of its own (not Node's shared pool). */
export function wideString(value: string): Buffer {
  const buffer = Buffer.alloc((value.length + 1) * 2);
  buffer.write(value, 'utf16le');
  return buffer;
}

export type HandlerExFn = (control: number, eventType: number) => number;

/** The native side (platform/windows/native.ts serviceControlCalls); tests give a recording fake. */
export interface ServiceControlCalls {
  /** StartServiceCtrlDispatcherW(table) on a worker thread; settles when every service of the process has stopped. */
  startDispatcher(table: Buffer): Promise<{ ok: boolean; lastError: number }>;
  /** koffi.register of a ServiceMainW; its address. */
  registerServiceMain(main: (argc: number) => void): bigint;
  /** koffi.register of a HandlerEx, then RegisterServiceCtrlHandlerExW(name, it, NULL). */
  registerHandler(name: string, handler: HandlerExFn): { handle: bigint; callback: bigint; lastError: number };
  /** SetServiceStatus(handle, status) */
  setServiceStatus(handle: bigint, status: Buffer): { ok: boolean; lastError: number };
  unregister(callback: bigint): void;
  /** koffi.address(buffer) */
  address(buffer: Buffer): bigint;
}

/** What `serve` sees of the service: when to report running, when the SCM asks it to stop. */
export interface ServiceLifecycle {
  /** Listeners are open: SERVICE_RUNNING, accepting STOP and SHUTDOWN. */
  running(): void;
  /** Settles with the control (STOP or SHUTDOWN) once the SCM asks the service to stop; STOP_PENDING is already reported. */
  readonly stopRequested: Promise<number>;
}

export interface ServiceOptions {
  serviceName?: string;
  /** How long the SCM is told to wait between progress reports while starting or stopping. */
  waitHintMs?: number;
  /** Runs `tick` every `ms` until the returned function is called; default an unref'd setInterval. */
  every?: (ms: number, tick: () => void) => () => void;
  /** The process exit code for an exception thrown by the body (the CLI's own mapping). */
  exitCodeOf?: (error: unknown) => number;
}

const defaultEvery = (ms: number, tick: () => void) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Runs `body` as the service: waits for ServiceMain, reports START_PENDING (with progress while the body
 * starts), RUNNING when the body says so, STOP_PENDING on STOP or SHUTDOWN, and STOPPED with the body's exit code
 * (0 as NO_ERROR, any other as ERROR_SERVICE_SPECIFIC_ERROR with the code). Resolves with that exit code once the
 * dispatcher has returned. A process not started by the SCM fails at once with the reason.
 */
export async function runAsWindowsService(
  calls: ServiceControlCalls,
  body: (service: ServiceLifecycle) => Promise<number>,
  options: ServiceOptions = {},
): Promise<number> {
  const serviceName = options.serviceName ?? SERVICE_NAME;
  const waitHint = options.waitHintMs ?? 30_000;
  const every = options.every ?? defaultEvery;
  const name = wideString(serviceName);
  let handle = 0n;
  let handlerCallback = 0n;
  let state = 0;
  let checkPoint = 0;
  let stopProgress: (() => void) | undefined;

  const report = (currentState: number, controlsAccepted: number, exitCode = 0) => {
    state = currentState;
    const pending = currentState === SERVICE_START_PENDING || currentState === SERVICE_STOP_PENDING;
    checkPoint = pending ? checkPoint + 1 : 0;
    const status = encodeServiceStatus({
      serviceType: SERVICE_WIN32_OWN_PROCESS,
      currentState,
      controlsAccepted,
      win32ExitCode: exitCode === 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR,
      serviceSpecificExitCode: exitCode,
      checkPoint,
      waitHint: pending ? waitHint : 0,
    });
    const { ok, lastError } = calls.setServiceStatus(handle, status);
    if (!ok) console.error(`winshost-broker: SetServiceStatus failed with Win32 error ${lastError}`);
  };
  /** A pending state re-reported every half wait hint, so a slow start or stop is not taken for a hang. */
  const keepPending = (pendingState: number) => {
    stopProgress?.();
    stopProgress = every(Math.max(1, Math.floor(waitHint / 2)), () => {
      if (state === pendingState) report(pendingState, 0);
    });
  };

  let requestStop!: (control: number) => void;
  const stopRequested = new Promise<number>((resolve) => (requestStop = resolve));
  const handler: HandlerExFn = (control) => {
    switch (control) {
      case SERVICE_CONTROL_STOP:
      case SERVICE_CONTROL_SHUTDOWN:
        if (state === SERVICE_RUNNING) {
          report(SERVICE_STOP_PENDING, 0);
          keepPending(SERVICE_STOP_PENDING);
          requestStop(control);
        }
        return NO_ERROR;
      case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
      default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
  };

  let mainCalled!: (error?: Error) => void;
  const mainDone = new Promise<void>((resolve, reject) => (mainCalled = (error) => (error ? reject(error) : resolve())));
  const serviceMain = calls.registerServiceMain(() => {
    const registered = calls.registerHandler(serviceName, handler);
    if (registered.handle === 0n) {
      mainCalled(win32Failure('RegisterServiceCtrlHandlerExW', registered.lastError));
      return;
    }
    handle = registered.handle;
    handlerCallback = registered.callback;
    report(SERVICE_START_PENDING, 0);
    keepPending(SERVICE_START_PENDING);
    mainCalled();
  });
  const table = encodeServiceTable(calls.address(name), serviceMain);
  const dispatcher = calls.startDispatcher(table).then((result) => {
    // Returning before ServiceMain ran means the SCM never started us (a console, or a wrong service type).
    if (!result.ok) {
      const hint = result.lastError === ERROR_FAILED_SERVICE_CONTROLLER_CONNECT ? ': --service is for the service control manager; run serve without it from a console' : '';
      mainCalled(new Error(`${win32Failure('StartServiceCtrlDispatcherW', result.lastError).message}${hint}`));
    } else {
      mainCalled(new Error('the service control dispatcher returned before the service started'));
    }
    return result;
  });
  try {
    await mainDone;
  } catch (error) {
    calls.unregister(serviceMain);
    throw error;
  }

  let exitCode: number;
  let failure: unknown;
  try {
    exitCode = await body({
      running: () => {
        if (state !== SERVICE_START_PENDING) return;
        stopProgress?.();
        report(SERVICE_RUNNING, SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN);
      },
      stopRequested,
    });
  } catch (error) {
    failure = error;
    exitCode = options.exitCodeOf?.(error) ?? 70;
  }
  stopProgress?.();
  // The exit code must be non-zero for the SCM to treat a start failure as one (and run the recovery actions).
  report(SERVICE_STOPPED, 0, exitCode);
  // Once every service of the process is stopped the dispatcher returns; the callbacks are no longer called.
  await dispatcher;
  calls.unregister(handlerCallback);
  calls.unregister(serviceMain);
  if (failure !== undefined) throw failure;
  return exitCode;
}

/** `serve --service` on Windows: the native calls of native.ts, loaded only here. */
export async function runAsService(body: (service: ServiceLifecycle) => Promise<number>, options: ServiceOptions = {}): Promise<number> {
  const { serviceControlCalls } = await import('../platform/windows/native.js');
  return runAsWindowsService(serviceControlCalls(), body, options);
}
