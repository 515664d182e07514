import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ProxyPolicy, ProxyPolicySettings } from '../../typings/index.js';
import { BrokerError, NotFoundError } from '../../broker/src/errors.js';
import { hnsApi } from '../../broker/src/platform/windows/hns.js';
import { windowsPlatform, type WindowsNative } from '../../broker/src/platform/windows/index.js';
import {
  canonicalSettings,
  endpointPolicies,
  l4WfpProxyPolicy,
  l4WfpProxySettings,
  planEndpoint,
  policyRequest,
  sameProxySettings,
  windowsProxy,
  type HnsPolicy,
} from '../../broker/src/platform/windows/proxy.js';
import type { ProxyTargetRef } from '../../broker/src/platform/types.js';
import { FakeHns } from './fixtures/windows/fake-hns.js';
import { nativeWith } from './fixtures/windows/native-fake.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/windows/${name}`, import.meta.url), 'utf8');
const ENDPOINT_TEXT = fixture('hns-endpoint.json');
const ENDPOINT = JSON.parse(ENDPOINT_TEXT) as { ID: string; Policies: HnsPolicy[] };
const NAMESPACES = JSON.parse(fixture('hns-namespaces.json')) as unknown[];

const CONTAINER = 'ccaae3aba155ccfb08fdf2e51fa4034f19db40d0ae5b485820544e49a60499c0';
const TARGET: ProxyTargetRef = { key: CONTAINER, containerId: CONTAINER };

/**
 * The L4WfpProxyPolicySetting example of hcnproxyctrl's README, verbatim. Its exception ports "90001" and
 * "90002" are not valid ports (above 65535); the golden test compares against this block with 9001 and 9002.
 */
const README_POLICY = `{
    "Type": "L4WFPPROXY",
    "Settings": {
        "InboundProxyPort": "9091",
        "OutboundProxyPort": "9191",
        "FilterTuple": {
            "Protocols": "6"
        },
        "InboundExceptions": {
            "PortExceptions": ["90001","90002"],
            "IpAddressExceptions": ["127.0.0.1"]
        },
        "OutboundExceptions": {
            "PortExceptions": ["90001","90002"],
            "IpAddressExceptions": ["127.0.0.1"]
        },
        "UserSID": "S-1-5-32-556"
    }
}`;
const README_POLICY_VALID_PORTS = JSON.parse(README_POLICY.replaceAll('"90001"', '"9001"').replaceAll('"90002"', '"9002"'));

/** The same policy in WinsHost's model. */
const SEED: ProxyPolicySettings = {
  InboundProxyPort: 9091,
  OutboundProxyPort: 9191,
  Protocol: 'TCP',
  InboundExceptions: { Ports: [9001, 9002], IpAddresses: ['127.0.0.1'] },
  OutboundExceptions: { Ports: [9001, 9002], IpAddresses: ['127.0.0.1'] },
  ExemptUser: 'S-1-5-32-556',
};

function stored(settings: ProxyPolicySettings, id = 'pp-000000000001'): ProxyPolicy {
  return { ...settings, Id: id, Target: CONTAINER, Applied: true, Created: '2025-03-01T12:00:00.000Z' };
}

/** A node whose only pod endpoint carries no proxy policy yet. */
function bareEndpoint() {
  return { ...ENDPOINT, Policies: ENDPOINT.Policies.filter((p) => p.Type !== 'L4WFPPROXY') };
}

function setup(endpoint: unknown = ENDPOINT) {
  const fake = new FakeHns({ namespaces: NAMESPACES, endpoints: [endpoint] });
  const proxy = windowsProxy({ hns: async () => hnsApi(fake.calls) });
  return { fake, proxy };
}

function failure(codeName: string, pattern: RegExp, reason?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof BrokerError, `not a BrokerError: ${error}`);
    assert.equal(error.codeName, codeName);
    assert.match(error.message, pattern);
    if (reason) assert.equal(error.data.reason, reason);
    return true;
  };
}

describe('the model as HNS settings', () => {
  it('GOLDEN: the seed example sends exactly the L4WFPPROXY policy of hcnproxyctrl README', async () => {
    const { fake, proxy } = setup(bareEndpoint());
    await proxy.apply(TARGET, [stored(SEED)]);
    assert.equal(fake.modifications.length, 1);
    assert.deepEqual(JSON.parse(fake.modifications[0].settings), {
      ResourceType: 'Policy',
      RequestType: 'Add',
      Settings: { Policies: [README_POLICY_VALID_PORTS] },
    });
    assert.equal(fake.modifications[0].endpoint.toUpperCase(), ENDPOINT.ID);
    fake.assertClean();
  });

  it('sends ports as strings and leaves absent fields out rather than empty', () => {
    assert.deepEqual(l4WfpProxySettings({ OutboundProxyPort: 15001 }), { OutboundProxyPort: '15001', FilterTuple: { Protocols: '6' } });
    assert.deepEqual(l4WfpProxySettings({ InboundProxyPort: 15006, InboundExceptions: { Ports: [] }, OutboundExceptions: { IpAddresses: ['10.0.0.0/8'] } }), {
      InboundProxyPort: '15006',
      FilterTuple: { Protocols: '6' },
      OutboundExceptions: { IpAddressExceptions: ['10.0.0.0/8'] },
    });
  });

  it('puts Priority in FilterTuple as a number, as hcsshim FiveTuple.Priority (uint16) does', () => {
    assert.deepEqual(l4WfpProxySettings({ OutboundProxyPort: 15001, Priority: 100 }).FilterTuple, { Protocols: '6', Priority: 100 });
    assert.deepEqual(l4WfpProxySettings({ OutboundProxyPort: 15001, Priority: 0 }).FilterTuple, { Protocols: '6' });
  });

  it('refuses UDP before touching HNS', async () => {
    assert.throws(() => l4WfpProxySettings({ OutboundProxyPort: 15001, Protocol: 'UDP' }), failure('NotSupportedOnPlatform', /TCP only/));
    const { fake, proxy } = setup();
    assert.equal(proxy.supportsUdp, false);
    await assert.rejects(proxy.apply(TARGET, [stored({ OutboundProxyPort: 15001, Protocol: 'UDP' })]), failure('NotSupportedOnPlatform', /TCP only/));
    assert.deepEqual(fake.log, []);
  });

  it('wraps the policies in the request hcnproxyctrl sends', () => {
    assert.equal(
      policyRequest('Add', [l4WfpProxyPolicy({ OutboundProxyPort: 8000, ExemptUser: 'S-1-5-18' })]),
      '{"ResourceType":"Policy","RequestType":"Add","Settings":{"Policies":[{"Type":"L4WFPPROXY","Settings":{"OutboundProxyPort":"8000","FilterTuple":{"Protocols":"6"},"UserSID":"S-1-5-18"}}]}}',
    );
  });
});

describe('reading and comparing endpoint policies', () => {
  it('reads every policy of the recorded endpoint as the objects HNS wrote', () => {
    const policies = endpointPolicies(ENDPOINT_TEXT);
    assert.deepEqual(policies.map((p) => p.Type), ['OutBoundNAT', 'SDNRoute', 'L4WFPPROXY', 'ACL']);
    assert.deepEqual(policies, ENDPOINT.Policies);
    assert.deepEqual(endpointPolicies('{"ID":"x"}'), []);
    assert.throws(() => endpointPolicies('not json'), failure('HostOperationFailed', /not JSON/));
  });

  it('compares settings structurally: key order and case, ports as numbers or strings, exception order, empty values', () => {
    const ours = l4WfpProxyPolicy(SEED);
    const reordered: HnsPolicy = {
      Type: 'l4wfpproxy',
      Settings: {
        UserSID: 's-1-5-32-556',
        OutboundExceptions: { IpAddressExceptions: ['127.0.0.1'], PortExceptions: [9002, 9001] },
        InboundExceptions: { PortExceptions: ['9002', '9001'], IpAddressExceptions: ['127.0.0.1'] },
        filterTuple: { Protocols: 6, LocalAddresses: '', Priority: 0 },
        OutboundProxyPort: 9191,
        InboundProxyPort: '9091',
      },
    };
    assert.ok(sameProxySettings(ours, reordered));
    // A settings document that came back as a JSON string (json.RawMessage) compares the same.
    assert.ok(sameProxySettings(ours, { Type: 'L4WFPPROXY', Settings: JSON.stringify(reordered.Settings) }));
    // hcsshim's always-present empty structs equal absent ones.
    assert.ok(sameProxySettings(l4WfpProxyPolicy({ OutboundProxyPort: 15001 }), { Type: 'L4WFPPROXY', Settings: { OutboundProxyPort: '15001', FilterTuple: { Protocols: '6' }, InboundExceptions: {}, OutboundExceptions: { PortExceptions: [] } } }));
    assert.deepEqual(canonicalSettings({ B: '007', a: [3, '2', 3], c: {} }), { a: ['2', '3'], b: '7' });
  });

  it('tells apart what differs', () => {
    const ours = l4WfpProxyPolicy(SEED);
    const differing: Array<Record<string, unknown>> = [
      { ...README_POLICY_VALID_PORTS.Settings, InboundProxyPort: '9092' },
      { ...README_POLICY_VALID_PORTS.Settings, UserSID: 'S-1-5-18' },
      { ...README_POLICY_VALID_PORTS.Settings, OutboundExceptions: { PortExceptions: ['9001'], IpAddressExceptions: ['127.0.0.1'] } },
      { ...README_POLICY_VALID_PORTS.Settings, FilterTuple: { Protocols: '6', RemotePorts: '443' } },
      { ...README_POLICY_VALID_PORTS.Settings, FilterTuple: { Protocols: '6', Priority: 5 } },
    ];
    assert.ok(sameProxySettings(ours, README_POLICY_VALID_PORTS));
    for (const settings of differing) assert.ok(!sameProxySettings(ours, { Type: 'L4WFPPROXY', Settings: settings }), JSON.stringify(settings));
  });

  it('plans removal of unwanted proxy policies only, duplicates included, and addition of missing ones', () => {
    const present = [...ENDPOINT.Policies, README_POLICY_VALID_PORTS, structuredClone(README_POLICY_VALID_PORTS)];
    const plan = planEndpoint(present, [l4WfpProxyPolicy(SEED), l4WfpProxyPolicy({ OutboundProxyPort: 8000 })]);
    assert.deepEqual(plan.remove, [ENDPOINT.Policies[2], README_POLICY_VALID_PORTS]);
    // The very objects read, not copies rebuilt from them.
    assert.equal(plan.remove[0], present[2]);
    assert.deepEqual(plan.add, [l4WfpProxyPolicy({ OutboundProxyPort: 8000 })]);
  });
});

describe('windowsProxy on recorded HNS state', () => {
  it('replaces a foreign proxy policy: removes the exact object read, then adds ours; other policies stay', async () => {
    const { fake, proxy } = setup();
    const foreign = ENDPOINT.Policies[2];
    await proxy.apply(TARGET, [stored(SEED)]);

    assert.deepEqual(
      fake.modifications.map((m) => JSON.parse(m.settings).RequestType),
      ['Remove', 'Add'],
    );
    const removal = JSON.parse(fake.modifications[0].settings);
    assert.deepEqual(removal, { ResourceType: 'Policy', RequestType: 'Remove', Settings: { Policies: [foreign] } });
    // Byte for byte the object HNS wrote, empty InboundExceptions included.
    assert.ok(fake.modifications[0].settings.includes(JSON.stringify(foreign)));
    assert.deepEqual(JSON.parse(fake.modifications[1].settings).Settings.Policies, [README_POLICY_VALID_PORTS]);

    assert.deepEqual(fake.endpoint(ENDPOINT.ID).Policies, [...ENDPOINT.Policies.filter((p) => p !== foreign), README_POLICY_VALID_PORTS]);
    assert.deepEqual(
      fake.log.filter((line) => /Endpoint/.test(line)).map((line) => line.split(' ')[0]),
      ['HcnOpenEndpoint', 'HcnQueryEndpointProperties', 'HcnModifyEndpoint', 'HcnModifyEndpoint', 'HcnCloseEndpoint'],
    );
    fake.assertClean();
  });

  it('is idempotent, and check sees the policies without changing anything', async () => {
    const { fake, proxy } = setup();
    await proxy.apply(TARGET, [stored(SEED)]);
    const modified = fake.modifications.length;
    assert.equal(await proxy.check(TARGET, [stored(SEED)]), true);
    await proxy.apply(TARGET, [stored(SEED)]);
    assert.equal(fake.modifications.length, modified);
    assert.equal(await proxy.check(TARGET, [stored(SEED), stored({ OutboundProxyPort: 8000 }, 'pp-2')]), false);
    assert.equal(await proxy.check(TARGET, []), false);
    assert.equal(fake.modifications.length, modified);
    fake.assertClean();
  });

  it('leaves a structurally equal policy alone, however HNS wrote it back', async () => {
    const echoed = { Type: 'L4WFPPROXY', Settings: { OutboundProxyPort: 15001, InboundProxyPort: '15006', UserSID: 's-1-5-18', FilterTuple: { Protocols: '6' }, OutboundExceptions: { IpAddressExceptions: ['169.254.169.254'] } } };
    const { fake, proxy } = setup({ ...ENDPOINT, Policies: [ENDPOINT.Policies[0], echoed] });
    const same = stored({ InboundProxyPort: 15006, OutboundProxyPort: 15001, ExemptUser: 'S-1-5-18', OutboundExceptions: { IpAddresses: ['169.254.169.254'] } });
    assert.equal(await proxy.check(TARGET, [same]), true);
    await proxy.apply(TARGET, [same]);
    assert.deepEqual(fake.modifications, []);
    fake.assertClean();
  });

  it('apply([]) removes every L4WFPPROXY policy and nothing else', async () => {
    const second = { Type: 'L4WFPPROXY', Settings: { OutboundProxyPort: '8000', FilterTuple: { Protocols: '6' } } };
    const { fake, proxy } = setup({ ...ENDPOINT, Policies: [...ENDPOINT.Policies, second] });
    await proxy.apply(TARGET, []);
    assert.equal(fake.modifications.length, 1);
    assert.deepEqual(JSON.parse(fake.modifications[0].settings).Settings.Policies, [ENDPOINT.Policies[2], second]);
    assert.deepEqual(fake.endpoint(ENDPOINT.ID).Policies!.map((p) => (p as HnsPolicy).Type), ['OutBoundNAT', 'SDNRoute', 'ACL']);
    assert.equal(await proxy.check(TARGET, []), true);
    fake.assertClean();
  });

  it('reports an HNS refusal with its message and still closes the endpoint', async () => {
    const { fake, proxy } = setup(bareEndpoint());
    fake.answers.HcnModifyEndpoint = () => ({
      hresult: 0x803b000d,
      record: '{"Success":false,"Error":"The provided policy configuration is invalid or missing parameters.","ErrorCode":2151350285}',
    });
    await assert.rejects(
      proxy.apply(TARGET, [stored(SEED)]),
      failure('HostOperationFailed', /^HcnModifyEndpoint failed: The provided policy configuration is invalid or missing parameters\. \(HRESULT 0x803B000D\)$/, 'HnsError'),
    );
    assert.equal(fake.openHandles, 0);
    fake.assertClean();
  });

  it('needs a container to work on', async () => {
    const { fake, proxy } = setup();
    for (const target of [{ key: 'x' }, { key: 'x', containerId: '  ' }]) {
      await assert.rejects(proxy.apply(target, [stored(SEED)]), failure('HostOperationFailed', /names no container/, 'NotConfigured'));
      await assert.rejects(proxy.check(target, []), failure('HostOperationFailed', /names no container/, 'NotConfigured'));
    }
    assert.equal(await proxy.reopen({ key: 'x' }), undefined);
    assert.deepEqual(fake.log, []);
  });

  it('treats a container without HNS endpoints as not found, which carries no policies', async () => {
    const { fake, proxy } = setup();
    const gone: ProxyTargetRef = { key: 'gone', containerId: 'deadbeef'.repeat(8) };
    await assert.rejects(proxy.apply(gone, [stored(SEED)]), (error: unknown) => error instanceof NotFoundError);
    await proxy.apply(gone, []);
    assert.equal(await proxy.check(gone, [stored(SEED)]), false);
    assert.equal(await proxy.check(gone, []), true);
    assert.equal(await proxy.reopen(gone), undefined);
    assert.deepEqual(fake.modifications, []);
    fake.assertClean();
  });

  it('reopens a recorded container that is still attached', async () => {
    const { fake, proxy } = setup();
    const record = { key: CONTAINER, containerId: CONTAINER.toUpperCase() };
    const reopened = await proxy.reopen(record);
    assert.deepEqual(reopened, record);
    assert.notEqual(reopened, record);
    proxy.release(reopened!);
    fake.assertClean();
  });

  it('skips an endpoint deleted after the lookup; with all of them gone the policies have nowhere to go', async () => {
    const { fake, proxy } = setup();
    fake.deleteEndpoint(ENDPOINT.ID);
    await assert.rejects(proxy.apply(TARGET, [stored(SEED)]), failure('NotFound', /endpoints of container .* are gone/));
    assert.equal(await proxy.check(TARGET, [stored(SEED)]), false);
    assert.equal(await proxy.check(TARGET, []), true);
    await proxy.apply(TARGET, []);
    fake.assertClean();
  });
});

describe('windowsPlatform proxy', () => {
  const native = (overrides: Partial<WindowsNative>) => nativeWith(overrides, 'the proxy tests');

  it('reaches HNS through native.hnsCalls, only when a proxy call is made', async () => {
    const fake = new FakeHns({ namespaces: NAMESPACES, endpoints: [bareEndpoint()] });
    let loaded = 0;
    const platform = windowsPlatform({ native: native({ hnsCalls: () => (loaded++, fake.calls) }) });
    assert.equal(platform.proxy.supportsUdp, false);
    assert.equal(loaded, 0);
    await platform.proxy.apply(TARGET, [stored(SEED)]);
    assert.equal(await platform.proxy.check(TARGET, [stored(SEED)]), true);
    assert.ok(await platform.proxy.reopen({ key: CONTAINER, containerId: CONTAINER }));
    assert.equal(JSON.parse(fake.modifications[0].settings).RequestType, 'Add');
    fake.assertClean();
  });

  it('maps failures that are not BrokerErrors (koffi, DLL loading) to HostOperationFailed', async () => {
    const platform = windowsPlatform({ native: native({ hnsCalls: () => { throw new TypeError('koffi: cannot load computenetwork.dll'); } }) });
    await assert.rejects(platform.proxy.check(TARGET, []), (error: unknown) => {
      assert.ok(error instanceof BrokerError);
      assert.equal(error.codeName, 'HostOperationFailed');
      assert.ok(error.cause instanceof TypeError);
      assert.doesNotMatch(error.message, /koffi/);
      return true;
    });
  });
});
