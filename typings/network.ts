import { RequestType } from 'vscode-jsonrpc';

export interface IPv4AddressInfo {
  Address: string;
  PrefixLength: number;
  /** `Address/PrefixLength`, the real prefix (wins always said /32). */
  AddressCIDR: string;
  /** The network the address is in, e.g. `10.170.0.0/20`. */
  SubnetCIDR: string;
}

export interface IPv6AddressInfo {
  Address: string;
  PrefixLength: number;
  AddressCIDR: string;
  SubnetCIDR: string;
  /** `global`, `link`, `host`, `site`. */
  Scope: string;
}

export type AdapterStatus = 'Up' | 'Down' | 'Dormant' | 'NotPresent' | 'LowerLayerDown' | 'Testing' | 'Unknown';

/**
 * One host network adapter. The first five fields carry wins' `net get` names; unlike wins, numbers are
 * numbers and `AddressCIDR` has the real prefix.
 */
export interface NetworkAdapter {
  InterfaceIndex: number;
  /** IPv4 default gateway through this adapter, or null. */
  GatewayAddress: string | null;
  /** Subnet of the primary IPv4 address, or null when the adapter has none. */
  SubnetCIDR: string | null;
  HostName: string;
  /** Primary IPv4 address with its prefix, or null. */
  AddressCIDR: string | null;
  Name: string;
  Description: string;
  /** `aa:bb:cc:dd:ee:ff` lower case, or null when the adapter has no hardware address. */
  MacAddress: string | null;
  Mtu: number;
  Status: AdapterStatus;
  /** e.g. `ethernet`, `loopback`, `none` (Linux link/type; Windows IfType mapped to the same words). */
  Type: string;
  /** True for the adapter that carries the IPv4 default route (else the IPv6 one). */
  IsDefault: boolean;
  IPv4Addresses: IPv4AddressInfo[];
  IPv6Addresses: IPv6AddressInfo[];
  IPv6GatewayAddress: string | null;
}

/** With no selector every adapter is returned. Selectors combine with AND. */
export interface NetworkAdaptersParams {
  interfaceIndex?: number;
  name?: string;
  /** Only the adapter of the default route. */
  defaultOnly?: boolean;
}

export interface NetworkAdaptersResult {
  adapters: NetworkAdapter[];
  defaultInterfaceIndex: number | null;
}

export namespace NetworkAdaptersRequest {
  export const method = 'network/adapters' as const;
  export const type = new RequestType<NetworkAdaptersParams, NetworkAdaptersResult, void>(method);
}

export interface NetworkRoute {
  AddressFamily: 'IPv4' | 'IPv6';
  /** CIDR; `0.0.0.0/0` and `::/0` for default routes. */
  DestinationPrefix: string;
  /** Gateway, or null for on-link routes. */
  NextHop: string | null;
  InterfaceIndex: number;
  InterfaceAlias: string;
  RouteMetric: number;
  /** Linux: kernel, boot, static, dhcp, ra…; Windows: the NL_ROUTE_PROTOCOL name. */
  Protocol: string;
  /** `universe`, `link`, `host`… (Linux) — Windows reports `universe`. */
  Scope: string;
  IsDefault: boolean;
}

export interface NetworkRoutesParams {
  addressFamily?: 'IPv4' | 'IPv6';
  interfaceIndex?: number;
}

export interface NetworkRoutesResult {
  routes: NetworkRoute[];
}

export namespace NetworkRoutesRequest {
  export const method = 'network/routes' as const;
  export const type = new RequestType<NetworkRoutesParams, NetworkRoutesResult, void>(method);
}
