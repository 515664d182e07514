import type { HostInfoResult, NetworkAdapter, NetworkRoute } from '../../../typings/index.js';

/** Host facts as the OS reports them; the broker adds its own version. */
export type HostFacts = Omit<HostInfoResult, 'BrokerVersion'>;

export interface HostPlatformHost {
  info(): Promise<HostFacts>;
}

export interface AdapterSnapshot {
  adapters: NetworkAdapter[];
  /** InterfaceIndex of the adapter that carries the IPv4 default route (else IPv6), or null. */
  defaultInterfaceIndex: number | null;
}

export interface HostPlatformNetwork {
  adapters(): Promise<AdapterSnapshot>;
  routes(): Promise<NetworkRoute[]>;
}

/** File access that differs by OS; the reading itself is Node's fs on both. */
export interface HostPlatformFiles {
  /** The path syntax of host paths: callers' paths and policy roots are checked with it. */
  readonly syntax: 'posix' | 'win32';
  /**
   * The real path of an open file descriptor: what the handle actually refers to after every link was
   * followed. Checking this after opening, not the name before, leaves no window to swap a link in.
   */
  realPathOfDescriptor(fd: number): Promise<string>;
  /**
   * Names in a directory, with the real path of the directory that was actually read. Where the OS allows,
   * the directory is opened first and read through that handle, so the path checked is the one listed.
   */
  readDirectory(path: string): Promise<{ realPath: string; names: string[] }>;
}

/** Credential spec sources that only some hosts have. */
export interface HostPlatformCredentialSpecs {
  /** Where `file://` specs live when the policy names no directory; null where there is no default. */
  readonly defaultDirectory: string | null;
  /** The value named under HKLM\...\Virtualization\Containers\CredentialSpecs, null if absent. */
  readRegistrySpec(name: string): Promise<string | null>;
  /** Value names under that key. */
  listRegistrySpecs(): Promise<string[]>;
  /** Whether a gMSA can be used on this host; `resolved: null` where the host cannot tell. */
  checkServiceAccount(name: string): Promise<{ resolved: boolean | null; detail: string }>;
}

/**
 * The OS layer under the handlers. One implementation per OS (`platform/linux`, `platform/windows`);
 * tests pass fakes. Every method reads or acts on the host, never on caller-supplied paths.
 */
export interface HostPlatform {
  readonly name: 'linux' | 'windows';
  readonly host: HostPlatformHost;
  readonly network: HostPlatformNetwork;
  readonly files: HostPlatformFiles;
  readonly credentialSpecs: HostPlatformCredentialSpecs;
}
