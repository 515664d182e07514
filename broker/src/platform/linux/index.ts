import type { HostPlatform } from '../types.js';
import { linuxHost } from './host.js';
import { linuxNetwork } from './network.js';

export function linuxPlatform(): HostPlatform {
  return { name: 'linux', host: linuxHost, network: linuxNetwork };
}
