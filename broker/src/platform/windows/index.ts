import os from 'node:os';
import { BrokerError, HostOperationFailedError } from '../../errors.js';
import type { HostPlatform } from '../types.js';
import {
  assertRegistrySpecName,
  checkServiceAccount,
  defaultCredentialSpecsDirectory,
  listRegistrySpecs,
  readRegistrySpec,
  type RegistryKeyCalls,
  type ServiceAccountQuery,
} from './credspec.js';
import { readDirectoryThroughHandle, realPathOfDescriptor, type FileCalls } from './files.js';
import { powerShellRunner, windowsFirewall, type PowerShellRunner } from './firewall.js';
import { hnsApi, type HcnCalls } from './hns.js';
import { readWindowsVersion, windowsHostFacts, type OsFacts, type RegGetValueCall } from './host.js';
import { toAdapterSnapshot, toNetworkRoutes, type RawAdapter, type RawRoute } from './network.js';
import { windowsProcesses, type ProcessCalls, type WindowsProcessDeps } from './processes.js';
import { windowsProxy } from './proxy.js';
import { windowsSessions, type WindowsSessionDeps } from './sessions.js';

/** The native calls the platform makes; native.ts provides them on Windows, tests provide recorded ones. */
export interface WindowsNative {
  regGetValue: RegGetValueCall;
  readAdapters(): RawAdapter[];
  readRoutes(): RawRoute[];
  /** uv_get_osfhandle, GetFinalPathNameByHandleW and GetFileInformationByHandleEx (+ GetLastError). */
  fileCalls(): FileCalls;
  /** RegOpenKeyExW, RegQueryInfoKeyW, RegEnumValueW and RegCloseKey on HKEY_LOCAL_MACHINE. */
  registryKeyCalls(): RegistryKeyCalls;
  /** NetQueryServiceAccount(NULL, accountName, 0, &buffer) off the event loop, the buffer read and freed. */
  queryServiceAccount(accountName: string): Promise<ServiceAccountQuery>;
  /** kernel32's job and process calls: CreateJobObjectW ... TerminateProcess, CloseHandle, WaitForSingleObject. */
  processCalls(): ProcessCalls;
  /** CTRL+C to the console of `pid` through a helper process; false where it cannot or must not be sent. */
  interruptConsole(pid: number): Promise<boolean>;
  /** computenetwork.dll's endpoint and namespace calls (on koffi worker threads), ole32's CoTaskMemFree, string reads. */
  hnsCalls(): HcnCalls;
}

export interface WindowsPlatformOptions {
  /** Defaults to native.ts, imported on first use so koffi and the DLLs stay unloaded until a call needs them. */
  native?: WindowsNative;
  os?: OsFacts;
  /** Runs the firewall scripts; defaults to System32's powershell.exe. */
  powershell?: PowerShellRunner;
  /** Stand-ins for spawn and timers, for tests. */
  processes?: Pick<WindowsProcessDeps, 'spawn' | 'sleep'>;
  /** Stand-ins for the environment, file checks and spawn of session hosts, for tests. */
  sessions?: Partial<WindowsSessionDeps>;
}

const nodeOs: OsFacts = {
  hostname: () => os.hostname(),
  release: () => os.release(),
  arch: () => os.arch(),
  uptime: () => os.uptime(),
  now: () => Date.now(),
};

export function windowsPlatform(options: WindowsPlatformOptions = {}): HostPlatform {
  const facts = options.os ?? nodeOs;
  let native: Promise<WindowsNative> | undefined;
  const loadNative = () => (native ??= options.native ? Promise.resolve(options.native) : import('./native.js'));

  // Parse and load failures are host faults, not caller errors; the cause stays in the broker log.
  async function hostCall<T>(what: string, body: (n: WindowsNative) => T | Promise<T>): Promise<T> {
    try {
      // Awaited here so an asynchronous native call's failure is mapped like a synchronous one.
      return await body(await loadNative());
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw new HostOperationFailedError(`reading ${what} failed`, { cause: error });
    }
  }

  // Process calls act on the host rather than read it; their own failures are already HostOperationFailed.
  async function hostAction<T>(what: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw new HostOperationFailedError(`${what} failed`, { cause: error });
    }
  }

  const processes = windowsProcesses({
    ...options.processes,
    calls: async () => (await loadNative()).processCalls(),
    interrupt: async (pid) => (await loadNative()).interruptConsole(pid),
  });
  const firewall = windowsFirewall(options.powershell ?? powerShellRunner());
  const proxy = windowsProxy({ hns: async () => hnsApi((await loadNative()).hnsCalls()) });

  return {
    name: 'windows',
    host: {
      info: () => hostCall('host facts', (n) => windowsHostFacts(readWindowsVersion(n.regGetValue), facts)),
    },
    network: {
      adapters: () =>
        hostCall('network adapters', (n) => toAdapterSnapshot(n.readAdapters(), n.readRoutes(), facts.hostname())),
      routes: () => hostCall('routes', (n) => toNetworkRoutes(n.readRoutes(), n.readAdapters())),
    },
    files: {
      syntax: 'win32',
      realPathOfDescriptor: (fd) => hostCall('the real path of a file', (n) => realPathOfDescriptor(n.fileCalls(), fd)),
      // Open errors stay Node's (ENOENT, ENOTDIR), which the file handlers map; native ones are host faults.
      readDirectory: (path) => readDirectoryThroughHandle(path, () => hostCall('a directory', (n) => n.fileCalls())),
    },
    credentialSpecs: {
      defaultDirectory: defaultCredentialSpecsDirectory(process.env),
      async readRegistrySpec(name) {
        // A bad name is the caller's error, reported before any DLL is loaded.
        assertRegistrySpecName(name);
        return hostCall('a registry credential spec', (n) => readRegistrySpec(n.regGetValue, name));
      },
      listRegistrySpecs: () => hostCall('registry credential specs', (n) => listRegistrySpecs(n.registryKeyCalls())),
      checkServiceAccount: (name) =>
        hostCall('a service account', (n) => checkServiceAccount((account) => n.queryServiceAccount(account), name)),
    },
    processes: {
      baseEnvironment: () => processes.baseEnvironment(),
      launch: (spec, events) =>
        hostAction(`starting ${spec.path}`, async () => {
          const launched = await processes.launch(spec, events);
          return { ...launched, stopTree: (graceMs: number) => hostAction(`stopping process ${launched.pid}`, () => launched.stopTree(graceMs)) };
        }),
      instanceOf: (pid) => hostAction(`identifying process ${pid}`, () => processes.instanceOf(pid)),
      stopOrphanTree: (pid, instance, graceMs) =>
        hostAction(`stopping process ${pid}`, () => processes.stopOrphanTree(pid, instance, graceMs)),
      exposePort: (port, owner) => hostAction('opening the firewall', () => firewall.exposePort(port, owner)),
      closePort: (port, owner) => hostAction('closing the firewall', () => firewall.closePort(port, owner)),
    },
    proxy: {
      supportsUdp: proxy.supportsUdp,
      // HNS failures are already HostOperationFailed with HNS's message; koffi and DLL loading failures are not.
      apply: (target, policies) => hostAction('applying proxy policies', () => proxy.apply(target, policies)),
      check: (target, policies) => hostAction('checking proxy policies', () => proxy.check(target, policies)),
      reopen: (record) => hostAction('finding a proxy target', () => proxy.reopen(record)),
      release: (target) => proxy.release(target),
    },
    sessions: windowsSessions({ calls: async () => (await loadNative()).processCalls(), ...options.sessions }),
  };
}
