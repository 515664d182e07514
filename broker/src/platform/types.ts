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

/**
 * The OS layer under the handlers. One implementation per OS (`platform/linux`, `platform/windows`);
 * tests pass fakes. Every method reads or acts on the host, never on caller-supplied paths.
 */
export interface HostPlatform {
  readonly name: 'linux' | 'windows';
  readonly host: HostPlatformHost;
  readonly network: HostPlatformNetwork;
}
