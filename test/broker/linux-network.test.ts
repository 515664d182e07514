import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { adapterStatus, toAdapters, toRoutes, type IpLink, type IpRoute } from '../../broker/src/platform/linux/network.js';
import { parseOsRelease } from '../../broker/src/platform/linux/host.js';
import { bigintToIPv6, ipv6ToBigint, subnetCidr } from '../../broker/src/platform/addresses.js';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./fixtures/linux/${name}`, import.meta.url), 'utf8')) as T;
const links = fixture<IpLink[]>('ip-addr.json');
const routes4 = fixture<IpRoute[]>('ip-route4.json');
const routes6 = fixture<IpRoute[]>('ip-route6.json');

describe('Linux adapters from ip -j', () => {
  const { adapters, defaultInterfaceIndex } = toAdapters(links, routes4, routes6, 'node1');
  const byName = Object.fromEntries(adapters.map((a) => [a.Name, a]));

  it('picks the adapter of the lowest-metric IPv4 default route as default', () => {
    assert.equal(defaultInterfaceIndex, 4);
    assert.deepEqual(adapters.filter((a) => a.IsDefault).map((a) => a.Name), ['eth0']);
  });

  it('fills the wins fields with the real prefix of the primary address', () => {
    const eth0 = byName.eth0;
    assert.deepEqual(
      { i: eth0.InterfaceIndex, g: eth0.GatewayAddress, s: eth0.SubnetCIDR, h: eth0.HostName, a: eth0.AddressCIDR },
      { i: 4, g: '10.170.0.1', s: '10.170.0.0/20', h: 'node1', a: '10.170.15.229/20' },
    );
    assert.equal(eth0.IPv4Addresses.length, 2);
    assert.equal(eth0.IPv6GatewayAddress, 'fd00::1');
    assert.deepEqual(eth0.IPv6Addresses.map((a) => [a.AddressCIDR, a.SubnetCIDR, a.Scope]), [
      ['fd00::2/64', 'fd00::/64', 'global'],
      ['fe80::fc:ff:fe00:1/64', 'fe80::/64', 'link'],
    ]);
    assert.equal(eth0.MacAddress, '02:fc:00:00:00:01');
    assert.equal(eth0.Mtu, 1400);
    assert.equal(eth0.Type, 'ethernet');
  });

  it('gives a second default route its own gateway, and none to adapters without one', () => {
    assert.equal(byName['veth-ctr1'].GatewayAddress, '172.31.250.2');
    assert.equal(byName['veth-ctr1'].Description, 'veth');
    assert.equal(byName.lo.GatewayAddress, null);
  });

  it('reports no MAC for loopback and links without hardware addresses, and lower-cases MACs', () => {
    assert.equal(byName.lo.MacAddress, null);
    assert.equal(byName.tun0.MacAddress, null);
    assert.equal(byName.ifb0.MacAddress, 'e6:1a:00:00:00:02');
  });

  it('maps states: UNKNOWN with carrier is Up, DOWN is Down', () => {
    assert.equal(byName.lo.Status, 'Up');
    assert.equal(byName.ifb0.Status, 'Down');
    assert.equal(adapterStatus({ ifindex: 1, ifname: 'x', mtu: 1, operstate: 'UNKNOWN', flags: ['UP'] }), 'Unknown');
    assert.equal(adapterStatus({ ifindex: 1, ifname: 'x', mtu: 1, operstate: 'LOWERLAYERDOWN' }), 'LowerLayerDown');
  });

  it('leaves address fields null for an adapter without IPv4', () => {
    assert.equal(byName.ifb0.AddressCIDR, null);
    assert.equal(byName.ifb0.SubnetCIDR, null);
  });

  it('falls back to the IPv6 default route when there is no IPv4 one', () => {
    const only6 = toAdapters(links, [], routes6, 'node1');
    assert.equal(only6.defaultInterfaceIndex, 4);
    assert.equal(toAdapters(links, [], [], 'node1').defaultInterfaceIndex, null);
  });
});

describe('Linux routes from ip -j', () => {
  const routes = toRoutes(links, routes4, routes6);

  it('turns default and host routes into prefixes', () => {
    assert.deepEqual(routes.filter((r) => r.IsDefault).map((r) => [r.DestinationPrefix, r.NextHop, r.InterfaceAlias, r.RouteMetric]), [
      ['0.0.0.0/0', '10.170.0.1', 'eth0', 100],
      ['0.0.0.0/0', '172.31.250.2', 'veth-ctr1', 500],
      ['::/0', 'fd00::1', 'eth0', 1024],
    ]);
    const host = routes.find((r) => r.DestinationPrefix === '100.64.0.7/32');
    assert.equal(host?.InterfaceIndex, 10);
    assert.equal(host?.Protocol, 'static');
  });

  it('reads a missing protocol as boot and a missing scope as universe', () => {
    const first = routes[0];
    assert.equal(first.Protocol, 'boot');
    assert.equal(first.Scope, 'universe');
    assert.equal(routes.find((r) => r.DestinationPrefix === '10.170.0.0/20')?.Scope, 'link');
  });

  it('splits multipath routes into one route per next hop', () => {
    assert.deepEqual(routes.filter((r) => r.DestinationPrefix === '192.168.77.0/24').map((r) => [r.NextHop, r.InterfaceIndex, r.RouteMetric]), [
      ['10.170.0.2', 4, 20],
      ['172.31.250.2', 9, 20],
    ]);
  });

  it('keeps routes without a device, with index 0', () => {
    const unreachable = routes.find((r) => r.DestinationPrefix === '198.51.100.0/24');
    assert.equal(unreachable?.InterfaceIndex, 0);
    assert.equal(unreachable?.InterfaceAlias, '');
  });

  it('labels address families', () => {
    assert.equal(routes.filter((r) => r.AddressFamily === 'IPv6').length, 3);
  });
});

describe('address arithmetic', () => {
  it('computes IPv4 and IPv6 subnets', () => {
    assert.equal(subnetCidr('10.170.15.229', 20), '10.170.0.0/20');
    assert.equal(subnetCidr('10.170.15.229', 32), '10.170.15.229/32');
    assert.equal(subnetCidr('10.170.15.229', 0), '0.0.0.0/0');
    assert.equal(subnetCidr('fe80::fc:ff:fe00:1', 64), 'fe80::/64');
    assert.equal(subnetCidr('2001:db8:1:2:3:4:5:6', 48), '2001:db8:1::/48');
    assert.throws(() => subnetCidr('nonsense', 8), TypeError);
    assert.throws(() => subnetCidr('10.0.0.1', 33), RangeError);
  });

  it('prints IPv6 in RFC 5952 form and reads embedded IPv4 and zones', () => {
    assert.equal(bigintToIPv6(ipv6ToBigint('2001:0db8:0000:0000:0001:0000:0000:0001')), '2001:db8::1:0:0:1');
    assert.equal(bigintToIPv6(ipv6ToBigint('::ffff:192.0.2.1')), '::ffff:c000:201');
    assert.equal(bigintToIPv6(ipv6ToBigint('fe80::1%eth0')), 'fe80::1');
    assert.equal(bigintToIPv6(0n), '::');
    assert.equal(bigintToIPv6(ipv6ToBigint('1:0:1:0:1:0:1:0')), '1:0:1:0:1:0:1:0');
  });
});

describe('os-release', () => {
  it('reads quoted and escaped values', () => {
    const values = parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID=\'12\'\n# comment\nNAME="A \\"quoted\\" name"\n');
    assert.equal(values.PRETTY_NAME, 'Debian GNU/Linux 12 (bookworm)');
    assert.equal(values.VERSION_ID, '12');
    assert.equal(values.NAME, 'A "quoted" name');
  });
});
