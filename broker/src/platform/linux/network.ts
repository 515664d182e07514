import { hostname } from 'node:os';
import type { AdapterStatus, IPv4AddressInfo, IPv6AddressInfo, NetworkAdapter, NetworkRoute } from '../../../../typings/index.js';
import { subnetCidr } from '../addresses.js';
import type { AdapterSnapshot, HostPlatformNetwork } from '../types.js';
import { ipJson } from './ip.js';

/** An entry of `ip -j -d addr show`, the fields we read. */
export interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  link_type?: string;
  address?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** An entry of `ip -j route show table main`. */
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  type?: string;
  nexthops?: { gateway?: string; dev?: string }[];
}

const STATUS: Record<string, AdapterStatus> = {
  UP: 'Up',
  DOWN: 'Down',
  DORMANT: 'Dormant',
  NOTPRESENT: 'NotPresent',
  LOWERLAYERDOWN: 'LowerLayerDown',
  TESTING: 'Testing',
};

/** The kernel says UNKNOWN for links without carrier detection (loopback, tun); with LOWER_UP they work. */
export function adapterStatus(link: IpLink): AdapterStatus {
  const state = (link.operstate ?? 'UNKNOWN').toUpperCase();
  if (STATUS[state]) return STATUS[state];
  return link.flags?.includes('UP') && link.flags.includes('LOWER_UP') ? 'Up' : 'Unknown';
}

const LINK_TYPES: Record<string, string> = { ether: 'ethernet', loopback: 'loopback', none: 'none', ieee802_11: 'wireless' };

function routeTargets(route: IpRoute): { gateway?: string; dev?: string }[] {
  return route.nexthops?.length ? route.nexthops : [{ gateway: route.gateway, dev: route.dev }];
}

/** The device of the lowest-metric default route of a family, with its gateway. */
function defaultRoute(routes: IpRoute[]): { dev?: string; gateway?: string } | undefined {
  const defaults = routes.filter((r) => r.dst === 'default' && (r.type === undefined || r.type === 'unicast'));
  defaults.sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
  return defaults.length ? routeTargets(defaults[0])[0] : undefined;
}

function gatewayVia(routes: IpRoute[], dev: string): string | null {
  const defaults = routes
    .filter((r) => r.dst === 'default')
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))
    .flatMap(routeTargets);
  return defaults.find((target) => target.dev === dev && target.gateway)?.gateway ?? null;
}

export function toAdapters(links: IpLink[], routes4: IpRoute[], routes6: IpRoute[], host = hostname()): AdapterSnapshot {
  const default4 = defaultRoute(routes4);
  const default6 = defaultRoute(routes6);
  const defaultDev = default4?.dev ?? default6?.dev;
  const adapters = links.map((link): NetworkAdapter => {
    const addresses = link.addr_info ?? [];
    const ipv4: IPv4AddressInfo[] = addresses
      .filter((a) => a.family === 'inet')
      .map((a) => ({ Address: a.local, PrefixLength: a.prefixlen, AddressCIDR: `${a.local}/${a.prefixlen}`, SubnetCIDR: subnetCidr(a.local, a.prefixlen) }));
    const ipv6: IPv6AddressInfo[] = addresses
      .filter((a) => a.family === 'inet6')
      .map((a) => ({
        Address: a.local,
        PrefixLength: a.prefixlen,
        AddressCIDR: `${a.local}/${a.prefixlen}`,
        SubnetCIDR: subnetCidr(a.local, a.prefixlen),
        Scope: a.scope ?? 'global',
      }));
    const mac = link.address && link.link_type !== 'none' && !/^(00:)+00$/.test(link.address) ? link.address.toLowerCase() : null;
    return {
      InterfaceIndex: link.ifindex,
      GatewayAddress: gatewayVia(routes4, link.ifname),
      SubnetCIDR: ipv4[0]?.SubnetCIDR ?? null,
      HostName: host,
      AddressCIDR: ipv4[0]?.AddressCIDR ?? null,
      Name: link.ifname,
      Description: link.linkinfo?.info_kind ?? link.link_type ?? '',
      MacAddress: mac,
      Mtu: link.mtu,
      Status: adapterStatus(link),
      Type: LINK_TYPES[link.link_type ?? 'none'] ?? link.link_type ?? 'none',
      IsDefault: defaultDev !== undefined && link.ifname === defaultDev,
      IPv4Addresses: ipv4,
      IPv6Addresses: ipv6,
      IPv6GatewayAddress: gatewayVia(routes6, link.ifname),
    };
  });
  return { adapters, defaultInterfaceIndex: adapters.find((a) => a.IsDefault)?.InterfaceIndex ?? null };
}

export function toRoutes(links: { ifindex: number; ifname: string }[], routes4: IpRoute[], routes6: IpRoute[]): NetworkRoute[] {
  const indexOf = new Map(links.map((link) => [link.ifname, link.ifindex]));
  const convert = (family: 'IPv4' | 'IPv6', route: IpRoute): NetworkRoute[] => {
    const width = family === 'IPv4' ? 32 : 128;
    const destination = route.dst === 'default' ? (family === 'IPv4' ? '0.0.0.0/0' : '::/0') : route.dst.includes('/') ? route.dst : `${route.dst}/${width}`;
    return routeTargets(route).map((target) => ({
      AddressFamily: family,
      DestinationPrefix: destination,
      NextHop: target.gateway ?? null,
      InterfaceIndex: target.dev ? (indexOf.get(target.dev) ?? 0) : 0,
      InterfaceAlias: target.dev ?? '',
      RouteMetric: route.metric ?? 0,
      // iproute2 leaves out the protocol when it is `boot`, the kernel's default for added routes.
      Protocol: route.protocol ?? 'boot',
      Scope: route.scope ?? 'universe',
      IsDefault: route.dst === 'default',
    }));
  };
  return [...routes4.flatMap((r) => convert('IPv4', r)), ...routes6.flatMap((r) => convert('IPv6', r))];
}

async function readRoutes(): Promise<[IpRoute[], IpRoute[]]> {
  return Promise.all([ipJson<IpRoute[]>(['-4', 'route', 'show', 'table', 'main']), ipJson<IpRoute[]>(['-6', 'route', 'show', 'table', 'main'])]);
}

export const linuxNetwork: HostPlatformNetwork = {
  async adapters() {
    const [links, [routes4, routes6]] = await Promise.all([ipJson<IpLink[]>(['-d', 'addr', 'show']), readRoutes()]);
    return toAdapters(links, routes4, routes6);
  },
  async routes() {
    const [links, [routes4, routes6]] = await Promise.all([ipJson<IpLink[]>(['link', 'show']), readRoutes()]);
    return toRoutes(links, routes4, routes6);
  },
};
