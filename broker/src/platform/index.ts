import type { HostPlatform } from './types.js';

export type { HostPlatform } from './types.js';

/** The platform of the machine the broker runs on. Windows modules load their DLLs lazily. */
export async function currentPlatform(): Promise<HostPlatform> {
  if (process.platform === 'win32') {
    const { windowsPlatform } = await import('./windows/index.js');
    return windowsPlatform();
  }
  if (process.platform === 'linux') {
    const { linuxPlatform } = await import('./linux/index.js');
    return linuxPlatform();
  }
  throw new Error(`WinsHost broker does not run on ${process.platform}`);
}
