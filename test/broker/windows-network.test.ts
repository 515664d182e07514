import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { NetworkAdapter, NetworkRoute } from '../../typings/index.js';
import { BrokerError } from '../../broker/src/errors.js';
import { BufferMemory, MemoryRangeError } from '../../broker/src/platform/windows/memory.js';
import {
  ADAPTER_FLAGS,
  adapterStatus,
  adapterType,
  defaultInterfaceIndex,
  fetchAdapterBuffer,
  ipv6Scope,
  parseAdapterList,
  parseRouteTable,
  routeProtocol,
  toAdapterSnapshot,
  toNetworkRoutes,
  type RawAdapter,
  type RawRoute,
} from '../../broker/src/platform/windows/network.js';
import { fromHexDump } from './fixtures/windows/image.js';
import {
  ADAPTER_IMAGE_BASE,
  RECORDED_ADAPTERS,
  RECORDED_ROUTES,
  ROUTE_TABLE_BASE,
  addressBytes,
  buildAdapterImage,
  buildRouteTableImage,
  type AdapterSpec,
} from './fixtures/windows/recorded.js';

const HOST = 'frank-wins-dev';

function recorded(name: string): Buffer {
  return fromHexDump(readFileSync(new URL(`./fixtures/windows/${name}`, import.meta.url), 'utf8'));
}

const adapterBytes = recorded('adapters-x64.hex');
const routeBytes = recorded('routes-x64.hex');

function recordedAdapters(): RawAdapter[] {
  return parseAdapterList(new BufferMemory(adapterBytes, ADAPTER_IMAGE_BASE), ADAPTER_IMAGE_BASE);
}

function recordedRoutes(): RawRoute[] {
  return parseRouteTable(new BufferMemory(routeBytes, ROUTE_TABLE_BASE), ROUTE_TABLE_BASE);
}

const EXPECTED_ETHERNET: NetworkAdapter = {
  InterfaceIndex: 7,
  GatewayAddress: '10.170.0.1',
  SubnetCIDR: '10.170.0.0/20',
  HostName: HOST,
  AddressCIDR: '10.170.15.229/20',
  Name: 'Ethernet',
  Description: 'Microsoft Hyper-V Network Adapter',
  MacAddress: '00:15:5d:0a:0f:e5',
  Mtu: 1500,
  Status: 'Up',
  Type: 'ethernet',
  IsDefault: true,
  IPv4Addresses: [
    { Address: '10.170.15.229', PrefixLength: 20, AddressCIDR: '10.170.15.229/20', SubnetCIDR: '10.170.0.0/20' },
  ],
  IPv6Addresses: [
    {
      Address: 'fe80::8d4f:2a1b:c3e4:f5a6',
      PrefixLength: 64,
      AddressCIDR: 'fe80::8d4f:2a1b:c3e4:f5a6/64',
      SubnetCIDR: 'fe80::/64',
      Scope: 'link',
    },
    {
      Address: '2001:db8:170:15::e5',
      PrefixLength: 64,
      AddressCIDR: '2001:db8:170:15::e5/64',
      SubnetCIDR: '2001:db8:170:15::/64',
      Scope: 'global',
    },
  ],
  IPv6GatewayAddress: 'fe80::1',
};

const EXPECTED_LOOPBACK: NetworkAdapter = {
  InterfaceIndex: 1,
  GatewayAddress: null,
  SubnetCIDR: '127.0.0.0/8',
  HostName: HOST,
  AddressCIDR: '127.0.0.1/8',
  Name: 'Loopback Pseudo-Interface 1',
  Description: 'Software Loopback Interface 1',
  MacAddress: null,
  Mtu: 4294967295,
  Status: 'Up',
  Type: 'loopback',
  IsDefault: false,
  IPv4Addresses: [{ Address: '127.0.0.1', PrefixLength: 8, AddressCIDR: '127.0.0.1/8', SubnetCIDR: '127.0.0.0/8' }],
  IPv6Addresses: [{ Address: '::1', PrefixLength: 128, AddressCIDR: '::1/128', SubnetCIDR: '::1/128', Scope: 'host' }],
  IPv6GatewayAddress: null,
};

const EXPECTED_ROUTES: NetworkRoute[] = [
  {
    AddressFamily: 'IPv4',
    DestinationPrefix: '0.0.0.0/0',
    NextHop: '10.170.0.1',
    InterfaceIndex: 7,
    InterfaceAlias: 'Ethernet',
    RouteMetric: 0,
    Protocol: 'NetMgmt',
    Scope: 'universe',
    IsDefault: true,
  },
  {
    AddressFamily: 'IPv4',
    DestinationPrefix: '10.170.0.0/20',
    NextHop: null,
    InterfaceIndex: 7,
    InterfaceAlias: 'Ethernet',
    RouteMetric: 256,
    Protocol: 'Local',
    Scope: 'universe',
    IsDefault: false,
  },
  {
    AddressFamily: 'IPv4',
    DestinationPrefix: '127.0.0.0/8',
    NextHop: null,
    InterfaceIndex: 1,
    InterfaceAlias: 'Loopback Pseudo-Interface 1',
    RouteMetric: 256,
    Protocol: 'Local',
    Scope: 'universe',
    IsDefault: false,
  },
  {
    AddressFamily: 'IPv6',
    DestinationPrefix: '::/0',
    NextHop: 'fe80::1',
    InterfaceIndex: 7,
    InterfaceAlias: 'Ethernet',
    RouteMetric: 256,
    Protocol: 'Icmp',
    Scope: 'universe',
    IsDefault: true,
  },
  {
    AddressFamily: 'IPv6',
    DestinationPrefix: '2001:db8:170:15::/64',
    NextHop: null,
    InterfaceIndex: 7,
    InterfaceAlias: 'Ethernet',
    RouteMetric: 256,
    Protocol: 'Icmp',
    Scope: 'universe',
    IsDefault: false,
  },
];

describe('recorded Windows x64 images', () => {
  it('are what the SDK-layout builder produces (the .hex files are not stale)', () => {
    assert.deepEqual(buildAdapterImage(RECORDED_ADAPTERS).buffer, adapterBytes);
    assert.deepEqual(buildRouteTableImage(RECORDED_ROUTES).buffer, routeBytes);
  });
});

describe('IP_ADAPTER_ADDRESSES_LH list parsing', () => {
  it('reads the raw members of both adapters', () => {
    const [ethernet, loopback] = recordedAdapters();
    assert.equal(ethernet.ifIndex, 7);
    assert.equal(ethernet.ipv6IfIndex, 7);
    assert.equal(ethernet.adapterName, '{3E7D1A52-8C1B-4F0E-9E3A-5B2C7D9F1A04}');
    assert.equal(ethernet.friendlyName, 'Ethernet');
    assert.equal(ethernet.dnsSuffix, 'corp.example.com');
    assert.deepEqual([...ethernet.physicalAddress], [0x00, 0x15, 0x5d, 0x0a, 0x0f, 0xe5]);
    assert.equal(ethernet.ifType, 6);
    assert.equal(ethernet.operStatus, 1);
    assert.equal(ethernet.ipv4Metric, 15);
    assert.equal(ethernet.ipv6Metric, 15);
    assert.equal(ethernet.luid, 0x0006_0000_0100_0000n);
    assert.deepEqual(
      ethernet.unicast.map((u) => [u.address.family, u.address.text, u.onLinkPrefixLength, u.address.scopeId, u.dadState]),
      [
        ['IPv6', 'fe80::8d4f:2a1b:c3e4:f5a6', 64, 7, 4],
        ['IPv6', '2001:db8:170:15::e5', 64, 0, 4],
        ['IPv4', '10.170.15.229', 20, 0, 4],
      ],
    );
    assert.deepEqual(
      ethernet.gateways.map((g) => [g.family, g.text, g.scopeId]),
      [
        ['IPv6', 'fe80::1', 7],
        ['IPv4', '10.170.0.1', 0],
      ],
    );
    assert.equal(loopback.ifIndex, 1);
    assert.equal(loopback.physicalAddress.length, 0);
    assert.equal(loopback.mtu, 0xffff_ffff);
    assert.equal(loopback.ifType, 24);
    assert.equal(loopback.ipv4Metric, 75);
    assert.equal(loopback.dnsSuffix, '');
    assert.deepEqual(loopback.gateways, []);
  });

  it('maps to NetworkAdapter with the wins fields and the real prefix', () => {
    const snapshot = toAdapterSnapshot(recordedAdapters(), recordedRoutes(), HOST);
    assert.equal(snapshot.defaultInterfaceIndex, 7);
    assert.deepEqual(snapshot.adapters, [EXPECTED_ETHERNET, EXPECTED_LOOPBACK]);
    // wins reported the same adapter as {InterfaceIndex:"7", GatewayAddress, SubnetCIDR, HostName, AddressCIDR:".../32"}.
    const [ethernet] = snapshot.adapters;
    assert.deepEqual(Object.keys(ethernet).slice(0, 5), [
      'InterfaceIndex',
      'GatewayAddress',
      'SubnetCIDR',
      'HostName',
      'AddressCIDR',
    ]);
    assert.equal(ethernet.AddressCIDR, '10.170.15.229/20');
    assert.equal(ethernet.SubnetCIDR, '10.170.0.0/20');
  });

  it('picks the preferred IPv4 address as primary, not a tentative one listed first', () => {
    const spec: AdapterSpec = {
      ...RECORDED_ADAPTERS[0],
      unicast: [
        { address: '10.170.15.230', prefixLength: 20, dadState: 1 }, // IpDadStateTentative
        { address: '192.168.100.5', prefixLength: 24 },
      ],
    };
    const image = buildAdapterImage([spec]);
    const [adapter] = toAdapterSnapshot(parseAdapterList(new BufferMemory(image.buffer, image.base), image.base), [], HOST)
      .adapters;
    assert.equal(adapter.AddressCIDR, '192.168.100.5/24');
    assert.equal(adapter.SubnetCIDR, '192.168.100.0/24');
    assert.equal(adapter.IPv4Addresses.length, 2);
  });

  it('uses Ipv6IfIndex when IPv4 is unbound (IfIndex 0)', () => {
    const image = buildAdapterImage([{ ...RECORDED_ADAPTERS[0], ifIndex: 0, ipv6IfIndex: 12, unicast: [] }]);
    const [adapter] = toAdapterSnapshot(parseAdapterList(new BufferMemory(image.buffer, image.base), image.base), [], HOST)
      .adapters;
    assert.equal(adapter.InterfaceIndex, 12);
    assert.equal(adapter.AddressCIDR, null);
    assert.equal(adapter.SubnetCIDR, null);
  });

  it('refuses a pre-Vista structure version instead of reading past it', () => {
    const image = buildAdapterImage([{ ...RECORDED_ADAPTERS[0], length: 184 }]); // sizeof(IP_ADAPTER_ADDRESSES_XP) on x64
    assert.throws(() => parseAdapterList(new BufferMemory(image.buffer, image.base), image.base), /Length 184/);
  });

  it('turns a pointer outside the buffer into an exception', () => {
    const corrupt = Buffer.from(adapterBytes);
    corrupt.writeBigUInt64LE(0x7ff0_dead_beefn, 72); // FriendlyName of the first adapter
    assert.throws(
      () => parseAdapterList(new BufferMemory(corrupt, ADAPTER_IMAGE_BASE), ADAPTER_IMAGE_BASE),
      MemoryRangeError,
    );
  });

  it('stops on a Next chain that loops', () => {
    const looped = Buffer.from(adapterBytes);
    const second = looped.readBigUInt64LE(8);
    looped.writeBigUInt64LE(ADAPTER_IMAGE_BASE, Number(second - ADAPTER_IMAGE_BASE) + 8);
    assert.throws(() => parseAdapterList(new BufferMemory(looped, ADAPTER_IMAGE_BASE), ADAPTER_IMAGE_BASE), /loops/);
  });

  it('asks GetAdaptersAddresses for gateways and prefixes and skips the lists it does not read', () => {
    assert.equal(ADAPTER_FLAGS, 0x0010 | 0x0080 | 0x0002 | 0x0004 | 0x0008);
  });
});

describe('MIB_IPFORWARD_TABLE2 parsing', () => {
  it('reads the raw rows', () => {
    const routes = recordedRoutes();
    assert.equal(routes.length, 5);
    assert.deepEqual(
      routes.map((r) => [r.interfaceIndex, r.destination.text, r.prefixLength, r.nextHop.text, r.metric, r.protocol, r.loopback, r.origin]),
      [
        [7, '0.0.0.0', 0, '10.170.0.1', 0, 3, false, 0],
        [7, '10.170.0.0', 20, '0.0.0.0', 256, 2, false, 1],
        [1, '127.0.0.0', 8, '0.0.0.0', 256, 2, true, 1],
        [7, '::', 0, 'fe80::1', 256, 4, false, 3],
        [7, '2001:db8:170:15::', 64, '::', 256, 4, false, 3],
      ],
    );
    assert.equal(routes[0].interfaceLuid, 0x0006_0000_0100_0000n);
    assert.equal(routes[3].nextHop.scopeId, 7);
  });

  it('maps to NetworkRoute', () => {
    assert.deepEqual(toNetworkRoutes(recordedRoutes(), recordedAdapters()), EXPECTED_ROUTES);
  });

  it('reads a NextHop whose family was left 0 as on-link, keeping the route', () => {
    const bytes = Buffer.from(routeBytes);
    const row = 8 + 104; // the 10.170.0.0/20 row; NextHop at +44
    bytes.writeUInt16LE(0, row + 44);
    const routes = toNetworkRoutes(parseRouteTable(new BufferMemory(bytes, ROUTE_TABLE_BASE), ROUTE_TABLE_BASE), []);
    assert.equal(routes.length, 5);
    assert.equal(routes[1].DestinationPrefix, '10.170.0.0/20');
    assert.equal(routes[1].NextHop, null);
  });

  it('leaves InterfaceAlias empty for an interface GetAdaptersAddresses did not list', () => {
    const [route] = toNetworkRoutes(recordedRoutes().slice(0, 1), []);
    assert.equal(route.InterfaceAlias, '');
    assert.equal(route.InterfaceIndex, 7);
  });

  it('reads NumEntries rows and no more', () => {
    const image = buildRouteTableImage(RECORDED_ROUTES.slice(0, 2));
    assert.equal(parseRouteTable(new BufferMemory(image.buffer, image.base), image.base).length, 2);
    const truncated = routeBytes.subarray(0, routeBytes.length - 1);
    assert.throws(() => parseRouteTable(new BufferMemory(truncated, ROUTE_TABLE_BASE), ROUTE_TABLE_BASE), MemoryRangeError);
  });
});

describe('default adapter selection', () => {
  const adapters = recordedAdapters();
  const ethernet = adapters[0];
  const second: RawAdapter = { ...ethernet, ifIndex: 9, ipv6IfIndex: 9, friendlyName: 'vEthernet (nat)', ipv4Metric: 5 };
  const route = (index: number, destination: string, metric: number): RawRoute => {
    const bytes = addressBytes(destination);
    const family = bytes.length === 4 ? 'IPv4' : 'IPv6';
    const zero = new Uint8Array(bytes.length);
    return {
      interfaceLuid: 0n,
      interfaceIndex: index,
      destination: { family, bytes, text: destination, scopeId: 0 },
      prefixLength: 0,
      nextHop: { family, bytes: zero, text: family === 'IPv4' ? '0.0.0.0' : '::', scopeId: 0 },
      metric,
      protocol: 3,
      loopback: false,
      origin: 0,
    };
  };

  it('adds the interface metric to the route metric', () => {
    // Ethernet: 0 + 15 = 15; vEthernet: 8 + 5 = 13, so the higher route metric wins overall.
    assert.equal(defaultInterfaceIndex([route(7, '0.0.0.0', 0), route(9, '0.0.0.0', 8)], [ethernet, second]), 9);
    assert.equal(defaultInterfaceIndex([route(7, '0.0.0.0', 0), route(9, '0.0.0.0', 12)], [ethernet, second]), 7);
  });

  it('prefers an adapter that is up', () => {
    const down = { ...second, operStatus: 2 };
    assert.equal(defaultInterfaceIndex([route(7, '0.0.0.0', 50), route(9, '0.0.0.0', 0)], [ethernet, down]), 7);
    assert.equal(defaultInterfaceIndex([route(9, '0.0.0.0', 0)], [ethernet, down]), 9);
  });

  it('falls back to the IPv6 default route, and to null', () => {
    assert.equal(defaultInterfaceIndex([route(9, '::', 0)], [ethernet, second]), 9);
    assert.equal(defaultInterfaceIndex([route(9, '::', 0), route(7, '0.0.0.0', 500)], [ethernet, second]), 7);
    assert.equal(defaultInterfaceIndex([route(42, '0.0.0.0', 0)], [ethernet, second]), null);
    assert.equal(defaultInterfaceIndex([], adapters), null);
  });

  it('marks only the default adapter', () => {
    const snapshot = toAdapterSnapshot([ethernet, second], [route(9, '0.0.0.0', 0)], HOST);
    assert.deepEqual(
      snapshot.adapters.map((a) => [a.InterfaceIndex, a.IsDefault]),
      [
        [7, false],
        [9, true],
      ],
    );
    assert.equal(snapshot.defaultInterfaceIndex, 9);
  });
});

describe('enumeration names', () => {
  it('maps IF_OPER_STATUS', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 0, 99].map(adapterStatus),
      ['Up', 'Down', 'Testing', 'Unknown', 'Dormant', 'NotPresent', 'LowerLayerDown', 'Unknown', 'Unknown'],
    );
  });

  it('maps IfType', () => {
    assert.deepEqual(
      [6, 24, 71, 131, 53, 23].map(adapterType),
      ['ethernet', 'loopback', 'wireless', 'tunnel', 'virtual', 'iftype-23'],
    );
  });

  it('maps NL_ROUTE_PROTOCOL', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 8, 9, 10, 11, 13, 14, 16, 19, 10002, 10006, 10007, 77].map(routeProtocol),
      ['Other', 'Local', 'NetMgmt', 'Icmp', 'Rip', 'IsIs', 'EsIs', 'Cisco', 'Ospf', 'Bgp', 'Eigrp', 'Dhcp', 'NtAutostatic', 'NtStatic', 'NtStaticNonDod', 'protocol-77'],
    );
  });

  it('classifies IPv6 scopes', () => {
    const scope = (text: string) => ipv6Scope(addressBytes(text));
    assert.equal(scope('fe80::1'), 'link');
    assert.equal(scope('febf:ffff::1'), 'link');
    assert.equal(scope('fec0::1'), 'site');
    assert.equal(scope('::1'), 'host');
    assert.equal(scope('::'), 'global');
    assert.equal(scope('2001:db8::1'), 'global');
    assert.equal(scope('fe00::1'), 'global');
  });
});

describe('GetAdaptersAddresses buffer sizing', () => {
  function fake(results: Array<[status: number, needed?: number]>) {
    const calls: number[] = [];
    const call = (buffer: Buffer, size: [number]) => {
      calls.push(buffer.length);
      assert.equal(size[0], buffer.length, 'SizePointer must carry the buffer length in');
      const [status, needed] = results[calls.length - 1] ?? [0];
      if (needed !== undefined) size[0] = needed;
      if (status === 0) buffer.write('filled');
      return status;
    };
    return { call, calls };
  }

  it('starts at 15 KB and returns the filled buffer', () => {
    const { call, calls } = fake([[0]]);
    const buffer = fetchAdapterBuffer(call);
    assert.deepEqual(calls, [15_000]);
    assert.equal(buffer?.subarray(0, 6).toString(), 'filled');
  });

  it('retries ERROR_BUFFER_OVERFLOW with the size Windows reported', () => {
    const { call, calls } = fake([[111, 40_000], [0]]);
    assert.equal(fetchAdapterBuffer(call)?.length, 40_000);
    assert.deepEqual(calls, [15_000, 40_000]);
  });

  it('keeps retrying while the list grows between calls', () => {
    const { call, calls } = fake([[111, 20_000], [111, 26_000], [0]]);
    assert.equal(fetchAdapterBuffer(call)?.length, 26_000);
    assert.deepEqual(calls, [15_000, 20_000, 26_000]);
  });

  it('grows on its own when the reported size does not', () => {
    const { call, calls } = fake([[111, 15_000], [0]]);
    fetchAdapterBuffer(call);
    assert.deepEqual(calls, [15_000, 22_500]);
  });

  it('gives up after four overflows', () => {
    const { call, calls } = fake([[111, 20_000], [111, 30_000], [111, 40_000], [111, 50_000], [0]]);
    assert.throws(() => fetchAdapterBuffer(call), (e: unknown) => e instanceof BrokerError && /111/.test(e.message));
    assert.equal(calls.length, 4);
  });

  it('returns null for ERROR_NO_DATA and throws HostOperationFailed for other errors', () => {
    assert.equal(fetchAdapterBuffer(fake([[232]]).call), null);
    assert.throws(
      () => fetchAdapterBuffer(fake([[87]]).call),
      (e: unknown) => e instanceof BrokerError && e.codeName === 'HostOperationFailed' && /error 87 \(ERROR_INVALID_PARAMETER\)/.test(e.message),
    );
  });
});
