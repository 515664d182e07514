import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import koffi from 'koffi';
import { X64 } from '../../broker/src/platform/windows/layout.js';
import * as sdk from './fixtures/windows/sdk-structs.js';

/**
 * Every offset the backend uses, compared with koffi's C layout of the SDK declarations. Keys name a member of
 * layout.ts; values are the member path in the koffi transcription (anonymous unions get a path).
 */
const MEMBER_PATHS: Record<string, [sdk.TypeObject, Record<string, string>]> = {
  SOCKET_ADDRESS: [sdk.SOCKET_ADDRESS, { lpSockaddr: 'lpSockaddr', iSockaddrLength: 'iSockaddrLength' }],
  SOCKADDR_IN: [sdk.SOCKADDR_IN, { sin_family: 'sin_family', sin_port: 'sin_port', sin_addr: 'sin_addr' }],
  SOCKADDR_IN6: [
    sdk.SOCKADDR_IN6,
    {
      sin6_family: 'sin6_family',
      sin6_port: 'sin6_port',
      sin6_flowinfo: 'sin6_flowinfo',
      sin6_addr: 'sin6_addr',
      sin6_scope_id: 'scope.sin6_scope_id',
    },
  ],
  SOCKADDR_INET: [sdk.SOCKADDR_INET, { si_family: 'si_family' }],
  IP_ADAPTER_ADDRESSES_LH: [
    sdk.IP_ADAPTER_ADDRESSES_LH,
    Object.fromEntries(
      Object.keys(X64.IP_ADAPTER_ADDRESSES_LH)
        .filter((k) => k !== 'size')
        .map((k) => [k, k === 'Length' || k === 'IfIndex' ? `Header.s.${k}` : k]),
    ),
  ],
  IP_ADAPTER_UNICAST_ADDRESS_LH: [
    sdk.IP_ADAPTER_UNICAST_ADDRESS_LH,
    Object.fromEntries(
      Object.keys(X64.IP_ADAPTER_UNICAST_ADDRESS_LH)
        .filter((k) => k !== 'size')
        .map((k) => [k, k === 'Length' || k === 'Flags' ? `Header.s.${k}` : k]),
    ),
  ],
  IP_ADAPTER_GATEWAY_ADDRESS_LH: [
    sdk.IP_ADAPTER_GATEWAY_ADDRESS_LH,
    { Length: 'Header.s.Length', Reserved: 'Header.s.Reserved', Next: 'Next', Address: 'Address' },
  ],
  IP_ADDRESS_PREFIX: [sdk.IP_ADDRESS_PREFIX, { Prefix: 'Prefix', PrefixLength: 'PrefixLength' }],
  MIB_IPFORWARD_ROW2: [
    sdk.MIB_IPFORWARD_ROW2,
    Object.fromEntries(
      Object.keys(X64.MIB_IPFORWARD_ROW2)
        .filter((k) => k !== 'size')
        .map((k) => [k, k]),
    ),
  ],
  MIB_IPFORWARD_TABLE2: [sdk.MIB_IPFORWARD_TABLE2, { NumEntries: 'NumEntries', Table: 'Table' }],
};

describe('Windows x64 structure layout', () => {
  it('is compared for every structure in the table', () => {
    const structs = Object.keys(X64).filter((k) => k !== 'pointerSize');
    assert.deepEqual(structs.sort(), Object.keys(MEMBER_PATHS).sort());
  });

  for (const [name, [type, paths]] of Object.entries(MEMBER_PATHS)) {
    it(`${name} offsets match the SDK declaration`, () => {
      const table = X64[name as keyof typeof MEMBER_PATHS & keyof typeof X64] as Record<string, number>;
      const members = Object.keys(table).filter((k) => k !== 'size');
      // A member added to layout.ts without a path here would go unchecked.
      assert.deepEqual(members.sort(), Object.keys(paths).sort());
      for (const member of members) {
        assert.equal(table[member], sdk.offsetOf(type, paths[member]), `${name}.${member}`);
      }
      if ('size' in table) assert.equal(table.size, koffi.sizeof(type), `sizeof(${name})`);
    });
  }

  it('has the sizes 64-bit Windows is known to use', () => {
    // Independently published values (e.g. the WireGuard winipcfg constants measured on amd64).
    assert.equal(X64.IP_ADAPTER_ADDRESSES_LH.size, 448);
    assert.equal(X64.IP_ADAPTER_UNICAST_ADDRESS_LH.size, 64);
    assert.equal(X64.IP_ADAPTER_GATEWAY_ADDRESS_LH.size, 32);
    assert.equal(X64.SOCKET_ADDRESS.size, 16);
    assert.equal(X64.SOCKADDR_IN.size, 16);
    assert.equal(X64.SOCKADDR_IN6.size, 28);
    assert.equal(X64.SOCKADDR_INET.size, 28);
    assert.equal(X64.IP_ADDRESS_PREFIX.size, 32);
    assert.equal(X64.MIB_IPFORWARD_ROW2.size, 104);
    assert.equal(X64.MIB_IPFORWARD_TABLE2.Table, 8);
    assert.equal(koffi.sizeof(sdk.MIB_IPFORWARD_TABLE2), 112);
    assert.equal(X64.IP_ADAPTER_UNICAST_ADDRESS_LH.OnLinkPrefixLength, 56);
    assert.equal(X64.MIB_IPFORWARD_ROW2.Metric, 84);
  });

  it('puts both union arms of SOCKADDR_INET at offset 0', () => {
    assert.equal(sdk.offsetOf(sdk.SOCKADDR_INET, 'Ipv4'), 0);
    assert.equal(sdk.offsetOf(sdk.SOCKADDR_INET, 'Ipv6'), 0);
    assert.equal(koffi.alignof(sdk.SOCKADDR_INET), 4);
  });
});
