import os from 'node:os';
import { BrokerError, HostOperationFailedError } from '../../errors.js';
import type { HostPlatform } from '../types.js';
import { readWindowsVersion, windowsHostFacts, type OsFacts, type RegGetValueCall } from './host.js';
import { toAdapterSnapshot, toNetworkRoutes, type RawAdapter, type RawRoute } from './network.js';

/** The native calls the platform makes; native.ts provides them on Windows, tests provide recorded ones. */
export interface WindowsNative {
  regGetValue: RegGetValueCall;
  readAdapters(): RawAdapter[];
  readRoutes(): RawRoute[];
}

export interface WindowsPlatformOptions {
  /** Defaults to native.ts, imported on first use so koffi and the DLLs stay unloaded until a call needs them. */
  native?: WindowsNative;
  os?: OsFacts;
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
  async function hostCall<T>(what: string, body: (n: WindowsNative) => T): Promise<T> {
    try {
      return body(await loadNative());
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw new HostOperationFailedError(`reading ${what} failed`, { cause: error });
    }
  }

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
  };
}
