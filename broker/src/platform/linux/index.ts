import type { HostPlatform } from '../types.js';
import { linuxCredentialSpecs } from './credspec.js';
import { linuxFiles } from './files.js';
import { linuxHost } from './host.js';
import { linuxNetwork } from './network.js';
import { linuxProcesses } from './processes.js';
import { linuxProxy } from './proxy.js';
import { linuxSessionHosts } from './sessions.js';

/** A fresh platform: its session hosts are listed in the state directory of the one broker that restores it. */
export function linuxPlatform(): HostPlatform {
  return { name: 'linux', host: linuxHost, network: linuxNetwork, files: linuxFiles, credentialSpecs: linuxCredentialSpecs, processes: linuxProcesses, proxy: linuxProxy, sessions: linuxSessionHosts() };
}
