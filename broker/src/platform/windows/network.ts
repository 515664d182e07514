import type {
  AdapterStatus,
  IPv4AddressInfo,
  IPv6AddressInfo,
  NetworkAdapter,
  NetworkRoute,
} from '../../../../typings/index.js';
import { ipv4FromBytes, ipv6FromBytes, macFromBytes, subnetCidr } from '../addresses.js';
import type { AdapterSnapshot } from '../types.js';
import { AF_INET, AF_INET6, X64 } from './layout.js';
import type { NativeMemory } from './memory.js';
import {
  ERROR_BUFFER_OVERFLOW,
  ERROR_NO_DATA,
  ERROR_SUCCESS,
  win32Failure,
} from './win32.js';

// ---------------------------------------------------------------------------------------------------------
// GetAdaptersAddresses buffer sizing

/** iptypes.h GAA_FLAG_* values. */
export const GAA_FLAG_SKIP_ANYCAST = 0x0002;
export const GAA_FLAG_SKIP_MULTICAST = 0x0004;
export const GAA_FLAG_SKIP_DNS_SERVER = 0x0008;
export const GAA_FLAG_INCLUDE_PREFIX = 0x0010;
export const GAA_FLAG_INCLUDE_GATEWAYS = 0x0080;
export const GAA_FLAG_INCLUDE_ALL_INTERFACES = 0x0100;

/**
 * Gateways are opt-in, and the anycast/multicast/DNS lists are skipped because nothing reads them (they are
 * most of the buffer on a host with many container vNICs). GAA_FLAG_INCLUDE_ALL_INTERFACES is left out: it adds
 * NDIS interfaces that have no IP binding (WAN miniports, filter instances), which carry no address or route
 * and would only be noise next to wins' and Get-NetIPConfiguration's view.
 */
export const ADAPTER_FLAGS =
  GAA_FLAG_INCLUDE_PREFIX |
  GAA_FLAG_INCLUDE_GATEWAYS |
  GAA_FLAG_SKIP_ANYCAST |
  GAA_FLAG_SKIP_MULTICAST |
  GAA_FLAG_SKIP_DNS_SERVER;

/** Microsoft's GetAdaptersAddresses sample starts at 15 KB, which avoids the second call on most hosts. */
export const ADAPTER_BUFFER_INITIAL = 15_000;
const ADAPTER_BUFFER_ATTEMPTS = 4;
/** Far above any real host; stops a misbehaving size report from exhausting memory. */
const ADAPTER_BUFFER_MAX = 64 * 1024 * 1024;

/** GetAdaptersAddresses with Family/Flags/Reserved bound: fills `buffer`, or reports the size it needs in `size[0]`. */
export type GetAdaptersAddressesCall = (buffer: Buffer, size: [number]) => number;

/**
 * Calls GetAdaptersAddresses until the buffer is big enough. The list can grow between the sizing call and the
 * filling call (an interface coming up), so ERROR_BUFFER_OVERFLOW is retried a few times with the size reported
 * last. Returns null when the host has no adapters (ERROR_NO_DATA).
 */
export function fetchAdapterBuffer(
  call: GetAdaptersAddressesCall,
  initialSize = ADAPTER_BUFFER_INITIAL,
  attempts = ADAPTER_BUFFER_ATTEMPTS,
): Buffer | null {
  let requested = initialSize;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const buffer = Buffer.alloc(requested);
    const size: [number] = [buffer.length];
    const status = call(buffer, size);
    if (status === ERROR_SUCCESS) return buffer;
    if (status === ERROR_NO_DATA) return null;
    if (status !== ERROR_BUFFER_OVERFLOW) throw win32Failure('GetAdaptersAddresses', status);
    // A reported size that does not grow would loop forever at the same size; grow by half instead.
    requested = size[0] > buffer.length ? size[0] : buffer.length + (buffer.length >> 1);
    if (requested > ADAPTER_BUFFER_MAX) break;
  }
  throw win32Failure('GetAdaptersAddresses', ERROR_BUFFER_OVERFLOW);
}

// ---------------------------------------------------------------------------------------------------------
// Structures as read from memory

export interface SocketAddress {
  family: 'IPv4' | 'IPv6';
  /** Network-order address bytes (4 or 16). */
  bytes: Uint8Array;
  /** Dotted quad, or RFC 5952 text without zone. */
  text: string;
  /** sin6_scope_id; 0 for IPv4. */
  scopeId: number;
}

export interface RawUnicastAddress {
  address: SocketAddress;
  onLinkPrefixLength: number;
  /** NL_DAD_STATE: 4 = IpDadStatePreferred. */
  dadState: number;
}

export interface RawAdapter {
  ifIndex: number;
  ipv6IfIndex: number;
  adapterName: string;
  friendlyName: string;
  description: string;
  dnsSuffix: string;
  physicalAddress: Uint8Array;
  mtu: number;
  ifType: number;
  operStatus: number;
  ipv4Metric: number;
  ipv6Metric: number;
  luid: bigint;
  unicast: RawUnicastAddress[];
  gateways: SocketAddress[];
}

export interface RawRoute {
  interfaceLuid: bigint;
  interfaceIndex: number;
  destination: SocketAddress;
  prefixLength: number;
  nextHop: SocketAddress;
  metric: number;
  protocol: number;
  loopback: boolean;
  origin: number;
}

const IP_DAD_STATE_PREFERRED = 4;
/** Upper bound on any list walked; Windows lists are far shorter, a corrupt Next chain is not. */
const MAX_LIST_ENTRIES = 65_536;

/**
 * Reads a sockaddr by its family. Returns null for families other than AF_INET/AF_INET6, or when the stated
 * length is too short for the family (a SOCKET_ADDRESS carries its own length).
 */
export function readSockaddr(mem: NativeMemory, address: bigint, length?: number): SocketAddress | null {
  if (address === 0n) return null;
  const family = mem.u16(address);
  if (family === AF_INET && (length === undefined || length >= X64.SOCKADDR_IN.size)) {
    const bytes = mem.bytes(address + BigInt(X64.SOCKADDR_IN.sin_addr), 4);
    return { family: 'IPv4', bytes, text: ipv4FromBytes(bytes), scopeId: 0 };
  }
  if (family === AF_INET6 && (length === undefined || length >= X64.SOCKADDR_IN6.size)) {
    const bytes = mem.bytes(address + BigInt(X64.SOCKADDR_IN6.sin6_addr), 16);
    const scopeId = mem.u32(address + BigInt(X64.SOCKADDR_IN6.sin6_scope_id));
    return { family: 'IPv6', bytes, text: ipv6FromBytes(bytes), scopeId };
  }
  return null;
}

function readSocketAddress(mem: NativeMemory, address: bigint): SocketAddress | null {
  const sockaddr = mem.pointer(address + BigInt(X64.SOCKET_ADDRESS.lpSockaddr));
  const length = mem.u32(address + BigInt(X64.SOCKET_ADDRESS.iSockaddrLength));
  return readSockaddr(mem, sockaddr, length);
}

/** Addresses of the entries of a singly linked list whose `Next` pointer sits at `nextOffset`. */
export function walkList(mem: NativeMemory, first: bigint, nextOffset: number): bigint[] {
  const entries: bigint[] = [];
  const seen = new Set<bigint>();
  for (let entry = first; entry !== 0n; entry = mem.pointer(entry + BigInt(nextOffset))) {
    if (seen.has(entry) || entries.length >= MAX_LIST_ENTRIES) {
      throw new RangeError(`linked list at 0x${first.toString(16)} loops or is implausibly long`);
    }
    seen.add(entry);
    entries.push(entry);
  }
  return entries;
}

function optionalWstring(mem: NativeMemory, pointer: bigint): string {
  return pointer === 0n ? '' : mem.wstring(pointer);
}

/** Lengths below these mean a pre-Vista structure version, which lacks fields read here. */
const MIN_ADAPTER_LENGTH = X64.IP_ADAPTER_ADDRESSES_LH.Luid + 8;
const MIN_UNICAST_LENGTH = X64.IP_ADAPTER_UNICAST_ADDRESS_LH.OnLinkPrefixLength + 1;

/** Walks the IP_ADAPTER_ADDRESSES_LH list GetAdaptersAddresses wrote, starting at `first`. */
export function parseAdapterList(mem: NativeMemory, first: bigint): RawAdapter[] {
  const A = X64.IP_ADAPTER_ADDRESSES_LH;
  const U = X64.IP_ADAPTER_UNICAST_ADDRESS_LH;
  const G = X64.IP_ADAPTER_GATEWAY_ADDRESS_LH;
  return walkList(mem, first, A.Next).map((at) => {
    const field = (offset: number) => at + BigInt(offset);
    const length = mem.u32(field(A.Length));
    if (length < MIN_ADAPTER_LENGTH) {
      throw new RangeError(`IP_ADAPTER_ADDRESSES.Length ${length} is older than the Vista layout`);
    }
    const unicast: RawUnicastAddress[] = [];
    for (const entry of walkList(mem, mem.pointer(field(A.FirstUnicastAddress)), U.Next)) {
      const entryLength = mem.u32(entry + BigInt(U.Length));
      if (entryLength < MIN_UNICAST_LENGTH) {
        throw new RangeError(`IP_ADAPTER_UNICAST_ADDRESS.Length ${entryLength} lacks OnLinkPrefixLength`);
      }
      const address = readSocketAddress(mem, entry + BigInt(U.Address));
      if (!address) continue;
      unicast.push({
        address,
        onLinkPrefixLength: mem.u8(entry + BigInt(U.OnLinkPrefixLength)),
        dadState: mem.u32(entry + BigInt(U.DadState)),
      });
    }
    const gateways: SocketAddress[] = [];
    for (const entry of walkList(mem, mem.pointer(field(A.FirstGatewayAddress)), G.Next)) {
      const address = readSocketAddress(mem, entry + BigInt(G.Address));
      if (address) gateways.push(address);
    }
    const adapterName = mem.pointer(field(A.AdapterName));
    const physicalLength = Math.min(mem.u32(field(A.PhysicalAddressLength)), 8);
    return {
      ifIndex: mem.u32(field(A.IfIndex)),
      ipv6IfIndex: mem.u32(field(A.Ipv6IfIndex)),
      adapterName: adapterName === 0n ? '' : mem.cstring(adapterName),
      friendlyName: optionalWstring(mem, mem.pointer(field(A.FriendlyName))),
      description: optionalWstring(mem, mem.pointer(field(A.Description))),
      dnsSuffix: optionalWstring(mem, mem.pointer(field(A.DnsSuffix))),
      physicalAddress: mem.bytes(field(A.PhysicalAddress), physicalLength),
      mtu: mem.u32(field(A.Mtu)),
      ifType: mem.u32(field(A.IfType)),
      operStatus: mem.u32(field(A.OperStatus)),
      ipv4Metric: mem.u32(field(A.Ipv4Metric)),
      ipv6Metric: mem.u32(field(A.Ipv6Metric)),
      luid: mem.u64(field(A.Luid)),
      unicast,
      gateways,
    };
  });
}

/** Reads the MIB_IPFORWARD_TABLE2 GetIpForwardTable2 returned at `table`. */
export function parseRouteTable(mem: NativeMemory, table: bigint): RawRoute[] {
  const T = X64.MIB_IPFORWARD_TABLE2;
  const R = X64.MIB_IPFORWARD_ROW2;
  const P = X64.IP_ADDRESS_PREFIX;
  const count = mem.u32(table + BigInt(T.NumEntries));
  const routes: RawRoute[] = [];
  for (let i = 0; i < count; i++) {
    const row = table + BigInt(T.Table + i * R.size);
    const field = (offset: number) => row + BigInt(offset);
    const destination = readSockaddr(mem, field(R.DestinationPrefix + P.Prefix));
    // Rows of other families cannot occur with AF_INET/AF_INET6 stacks; skip rather than guess.
    if (!destination) continue;
    // An on-link route's NextHop is all zeros; should Windows leave its family 0 too, it still means "no gateway".
    const nextHop = readSockaddr(mem, field(R.NextHop)) ?? unspecified(destination.family);
    routes.push({
      interfaceLuid: mem.u64(field(R.InterfaceLuid)),
      interfaceIndex: mem.u32(field(R.InterfaceIndex)),
      destination,
      prefixLength: mem.u8(field(R.DestinationPrefix + P.PrefixLength)),
      nextHop,
      metric: mem.u32(field(R.Metric)),
      protocol: mem.u32(field(R.Protocol)),
      loopback: mem.u8(field(R.Loopback)) !== 0,
      origin: mem.u32(field(R.Origin)),
    });
  }
  return routes;
}

function unspecified(family: SocketAddress['family']): SocketAddress {
  return family === 'IPv4'
    ? { family, bytes: new Uint8Array(4), text: '0.0.0.0', scopeId: 0 }
    : { family, bytes: new Uint8Array(16), text: '::', scopeId: 0 };
}

/** Bytes GetIpForwardTable2's table occupies for `count` rows, to copy it out before FreeMibTable. */
export function routeTableSize(count: number): number {
  return X64.MIB_IPFORWARD_TABLE2.Table + count * X64.MIB_IPFORWARD_ROW2.size;
}

// ---------------------------------------------------------------------------------------------------------
// Mapping to the wire types

/** ifdef.h IF_OPER_STATUS (RFC 2863 ifOperStatus). */
const OPER_STATUS: Record<number, AdapterStatus> = {
  1: 'Up',
  2: 'Down',
  3: 'Testing',
  4: 'Unknown',
  5: 'Dormant',
  6: 'NotPresent',
  7: 'LowerLayerDown',
};

/** ipifcons.h IF_TYPE_* values, named with the words the Linux backend uses. */
const IF_TYPES: Record<number, string> = {
  6: 'ethernet', // IF_TYPE_ETHERNET_CSMACD (also Hyper-V vEthernet and container vNICs)
  24: 'loopback', // IF_TYPE_SOFTWARE_LOOPBACK
  53: 'virtual', // IF_TYPE_PROP_VIRTUAL
  71: 'wireless', // IF_TYPE_IEEE80211
  131: 'tunnel', // IF_TYPE_TUNNEL
};

/** nldef.h NL_ROUTE_PROTOCOL (RouteProtocol* / MIB_IPPROTO_*), without the prefix. */
const ROUTE_PROTOCOLS: Record<number, string> = {
  1: 'Other',
  2: 'Local',
  3: 'NetMgmt',
  4: 'Icmp',
  5: 'Egp',
  6: 'Ggp',
  7: 'Hello',
  8: 'Rip',
  9: 'IsIs',
  10: 'EsIs',
  11: 'Cisco',
  12: 'Bbn',
  13: 'Ospf',
  14: 'Bgp',
  15: 'Idpr',
  16: 'Eigrp',
  17: 'Dvmrp',
  18: 'Rpl',
  19: 'Dhcp',
  10002: 'NtAutostatic',
  10006: 'NtStatic',
  10007: 'NtStaticNonDod',
};

export function adapterStatus(operStatus: number): AdapterStatus {
  return OPER_STATUS[operStatus] ?? 'Unknown';
}

export function adapterType(ifType: number): string {
  return IF_TYPES[ifType] ?? `iftype-${ifType}`;
}

export function routeProtocol(protocol: number): string {
  return ROUTE_PROTOCOLS[protocol] ?? `protocol-${protocol}`;
}

/** Linux `ip -6 addr` scope words, from the address bits (RFC 4291 2.4, RFC 3879 for site-local). */
export function ipv6Scope(bytes: Uint8Array): string {
  if (bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80) return 'link';
  if (bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0xc0) return 'site';
  if (bytes.subarray(0, 15).every((b) => b === 0) && bytes[15] === 1) return 'host';
  return 'global';
}

/** An adapter's interface index: IfIndex is 0 when IPv4 is unbound, and then only Ipv6IfIndex names it. */
function interfaceIndex(adapter: RawAdapter): number {
  return adapter.ifIndex || adapter.ipv6IfIndex;
}

function findAdapter(adapters: RawAdapter[], index: number): RawAdapter | undefined {
  return adapters.find((a) => a.ifIndex === index || a.ipv6IfIndex === index);
}

/**
 * The interface Windows would send default traffic through: the IPv4 0.0.0.0/0 route with the lowest effective
 * metric (route metric + the interface's metric, as the stack adds them), else the IPv6 ::/0 one. Only routes
 * through listed adapters count, and adapters that are up win over ones that are not (a disconnected NIC can
 * keep a persistent default route).
 */
export function defaultInterfaceIndex(routes: RawRoute[], adapters: RawAdapter[]): number | null {
  for (const family of ['IPv4', 'IPv6'] as const) {
    const candidates = routes
      .filter((r) => r.destination.family === family && r.prefixLength === 0)
      .map((route) => ({ route, adapter: findAdapter(adapters, route.interfaceIndex) }))
      .filter((c): c is { route: RawRoute; adapter: RawAdapter } => c.adapter !== undefined);
    const up = candidates.filter((c) => c.adapter.operStatus === 1);
    const pool = up.length > 0 ? up : candidates;
    let best: { index: number; cost: number } | null = null;
    for (const { route, adapter } of pool) {
      const cost = route.metric + (family === 'IPv4' ? adapter.ipv4Metric : adapter.ipv6Metric);
      if (best === null || cost < best.cost) best = { index: route.interfaceIndex, cost };
    }
    if (best) return best.index;
  }
  return null;
}

function cidr(address: SocketAddress, prefixLength: number) {
  return {
    Address: address.text,
    PrefixLength: prefixLength,
    AddressCIDR: `${address.text}/${prefixLength}`,
    SubnetCIDR: subnetCidr(address.text, prefixLength),
  };
}

export function toNetworkAdapter(adapter: RawAdapter, hostName: string, defaultIndex: number | null): NetworkAdapter {
  const ipv4 = adapter.unicast.filter((u) => u.address.family === 'IPv4');
  const ipv6 = adapter.unicast.filter((u) => u.address.family === 'IPv6');
  const IPv4Addresses: IPv4AddressInfo[] = ipv4.map((u) => cidr(u.address, u.onLinkPrefixLength));
  const IPv6Addresses: IPv6AddressInfo[] = ipv6.map((u) => ({
    ...cidr(u.address, u.onLinkPrefixLength),
    Scope: ipv6Scope(u.address.bytes),
  }));
  // A tentative or duplicate address is listed but is not what the adapter answers on, so it is not primary.
  const primaryAt = Math.max(ipv4.findIndex((u) => u.dadState === IP_DAD_STATE_PREFERRED), 0);
  const primary = IPv4Addresses[primaryAt] ?? null;
  const index = interfaceIndex(adapter);
  return {
    InterfaceIndex: index,
    GatewayAddress: adapter.gateways.find((g) => g.family === 'IPv4')?.text ?? null,
    SubnetCIDR: primary?.SubnetCIDR ?? null,
    HostName: hostName,
    AddressCIDR: primary?.AddressCIDR ?? null,
    Name: adapter.friendlyName,
    Description: adapter.description,
    MacAddress: macFromBytes(adapter.physicalAddress),
    Mtu: adapter.mtu,
    Status: adapterStatus(adapter.operStatus),
    Type: adapterType(adapter.ifType),
    IsDefault: defaultIndex !== null && index === defaultIndex,
    IPv4Addresses,
    IPv6Addresses,
    IPv6GatewayAddress: adapter.gateways.find((g) => g.family === 'IPv6')?.text ?? null,
  };
}

export function toAdapterSnapshot(adapters: RawAdapter[], routes: RawRoute[], hostName: string): AdapterSnapshot {
  const defaultIndex = defaultInterfaceIndex(routes, adapters);
  return {
    adapters: adapters.map((a) => toNetworkAdapter(a, hostName, defaultIndex)),
    defaultInterfaceIndex: defaultIndex,
  };
}

function isUnspecified(address: SocketAddress): boolean {
  return address.bytes.every((b) => b === 0);
}

export function toNetworkRoutes(routes: RawRoute[], adapters: RawAdapter[]): NetworkRoute[] {
  return routes.map((route) => ({
    AddressFamily: route.destination.family,
    DestinationPrefix: `${route.destination.text}/${route.prefixLength}`,
    NextHop: isUnspecified(route.nextHop) ? null : route.nextHop.text,
    InterfaceIndex: route.interfaceIndex,
    // Empty when the interface is not in GetAdaptersAddresses' list (hidden interfaces); never a made-up name.
    InterfaceAlias: findAdapter(adapters, route.interfaceIndex)?.friendlyName ?? '',
    RouteMetric: route.metric,
    Protocol: routeProtocol(route.protocol),
    Scope: 'universe',
    IsDefault: route.prefixLength === 0,
  }));
}
