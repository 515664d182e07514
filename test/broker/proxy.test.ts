import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../typings/index.js';
import { linuxProxy, proxyRuleset } from '../../broker/src/platform/linux/proxy.js';
import { startTestBroker, type TestBroker } from './support.js';

const sh = (command: string) => spawnSync('sh', ['-c', command], { encoding: 'utf8' });
const canRun = process.platform === 'linux' && process.getuid?.() === 0 && sh('command -v nft && command -v ip && command -v nsenter').status === 0;
const skip = canRun ? false : process.env.CI === 'true' ? false : 'needs root, ip, nsenter and nft (npm test installs nftables as root)';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('nftables ruleset for proxy policies', () => {
  const policy = {
    Id: 'pp-1',
    Target: 'net:[1]',
    Applied: true,
    Created: '2026-01-01T00:00:00.000Z',
    InboundProxyPort: 15006,
    OutboundProxyPort: 15001,
    InboundExceptions: { Ports: [15090] },
    OutboundExceptions: { Ports: [8081], IpAddresses: ['198.51.100.11/32', 'fd00::/64'] },
    ExemptUser: 'uid:1337',
  };

  it('redirects inbound in prerouting and outbound in output, returning early for loopback, proxy ports, the exempt user and exceptions', () => {
    const { script } = proxyRuleset([policy]);
    assert.match(script, /^add table inet winshost_proxy\ndelete table inet winshost_proxy\ntable inet winshost_proxy \{/);
    assert.match(script, /jump p0_out comment "winshost [0-9a-f]{16}"/);
    assert.match(script, /type nat hook prerouting priority dstnat;[\s\S]*jump p0_in/);
    assert.match(script, /type nat hook output priority -100;[\s\S]*jump p0_out/);
    assert.match(script, /chain p0_out \{\n    oifname "lo" return\n    meta skuid 1337 return\n    tcp dport \{ 15001, 15006 \} return\n    tcp dport @p0_out_ports return\n    ip daddr @p0_out_v4 return\n    ip6 daddr @p0_out_v6 return\n    meta l4proto tcp redirect to :15001\n  \}/);
    assert.match(script, /set p0_out_v4 \{\n    type ipv4_addr\n    flags interval\n    elements = \{ 198\.51\.100\.11\/32 \}/);
    assert.match(script, /set p0_out_v6 \{[\s\S]*elements = \{ fd00::\/64 \}/);
    assert.match(script, /chain p0_in \{\n    iifname "lo" return\n    tcp dport \{ 15001, 15006 \} return\n    tcp dport @p0_in_ports return\n    ip saddr @p0_in_v4 return/);
  });

  it('exempts a group with skgid, orders by priority, and empties to a deleted table', () => {
    assert.match(proxyRuleset([{ ...policy, ExemptUser: 'gid:2000' }]).script, /meta skgid 2000 return/);
    const two = proxyRuleset([
      { ...policy, Id: 'b', Priority: 200, OutboundProxyPort: 15002 },
      { ...policy, Id: 'a', Priority: 10 },
    ]).script;
    assert.ok(two.indexOf('redirect to :15001') < two.indexOf('redirect to :15002'));
    assert.equal(proxyRuleset([]).script, 'add table inet winshost_proxy\ndelete table inet winshost_proxy\n');
  });

  it('is accepted by nft', { skip: canRun ? false : 'needs root and nft' }, () => {
    const check = spawnSync('nft', ['-c', '-f', '-'], { input: proxyRuleset([policy, { ...policy, Id: 'udp', Protocol: 'UDP', InboundProxyPort: undefined }]).script, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });
});

describe('proxy policies on real traffic between network namespaces', { skip }, () => {
  const id = Math.random().toString(36).slice(2, 7);
  const caller = `whpa${id}`;
  const peer = `whpb${id}`;
  const stranger = `whpc${id}`;
  const probe = fileURLToPath(new URL('./support/tcp-probe.ts', import.meta.url));
  const rpcCall = fileURLToPath(new URL('./support/rpc-call.ts', import.meta.url));
  let dir: string;
  let broker: TestBroker;
  const servers: ChildProcess[] = [];

  const policyYaml = `listeners:
  - name: proxy
    mode: '0666'
    profiles: [sidecar, other]
profiles:
  sidecar:
    match: { netns: ${caller} }
    proxy: { ports: [15001, 15006], exemptUsers: ['uid:1337'] }
  other:
    match: { netns: ${stranger} }
    proxy: { ports: [15001] }
`;

  /** One request from a process in `namespace`; asynchronous, since the broker answers from this process. */
  function call(namespace: string, method: string, params: unknown): Promise<Record<string, any>> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', rpcCall, broker.path, method, JSON.stringify(params)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk) => (stdout += chunk));
      child.stderr!.on('data', (chunk) => (stderr += chunk));
      child.once('close', (code) => (code === 0 ? resolve(JSON.parse(stdout.trim().split('\n').pop()!)) : reject(new Error(`rpc-call exited ${code}: ${stderr}`))));
    });
  }

  /** The first line a server answers to a connection from `namespace`, as `uid`, with bash's /dev/tcp. */
  function reach(namespace: string, host: string, port: number, uid = 0): string {
    const result = spawnSync('ip', ['netns', 'exec', namespace, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port} && head -n1 <&3`], {
      encoding: 'utf8',
      timeout: 5000,
    });
    return result.stdout.trim() || `failed: ${result.stderr.trim()}`;
  }

  async function serve(namespace: string, label: string, ports: number[]) {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', probe, 'serve', label, ...ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(child);
    await new Promise<void>((resolve) => child.stdout!.on('data', (chunk) => String(chunk).includes('ready') && resolve()));
  }

  before(async () => {
    for (const command of [
      `ip netns add ${caller}`,
      `ip netns add ${peer}`,
      `ip netns add ${stranger}`,
      `ip link add wpa${id} netns ${caller} type veth peer name wpb${id} netns ${peer}`,
      `ip -n ${caller} addr add 198.51.100.9/29 dev wpa${id}`,
      `ip -n ${peer} addr add 198.51.100.10/29 dev wpb${id}`,
      `ip -n ${peer} addr add 198.51.100.11/29 dev wpb${id}`,
      `ip -n ${caller} link set wpa${id} up`,
      `ip -n ${peer} link set wpb${id} up`,
      `ip -n ${caller} link set lo up`,
      `ip -n ${peer} link set lo up`,
    ]) {
      const result = sh(command);
      assert.equal(result.status, 0, `${command}: ${result.stderr}`);
    }
    await serve(caller, 'proxy', [15001, 15006]);
    await serve(caller, 'direct', [9000]);
    await serve(peer, 'direct', [8080, 8081]);
    dir = mkdtempSync(join(tmpdir(), 'winshost-proxy-'));
    broker = await startTestBroker({ policyYaml, dir, reconcileEveryMs: 300 });
  });

  after(async () => {
    for (const server of servers) server.kill();
    await broker?.stop();
    for (const namespace of [caller, peer, stranger]) sh(`ip netns del ${namespace}`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let policyId = '';

  it('goes direct before any policy', () => {
    assert.equal(reach(caller, '198.51.100.10', 8080), 'direct 8080 198.51.100.10:8080');
  });

  it('refuses ports and users the profile does not allow, and audits it', async () => {
    const denied = await call(caller, 'proxy/add', { policy: { OutboundProxyPort: 15002 } });
    assert.equal(denied.error.code, ErrorCodes.PolicyDenied);
    assert.equal(denied.error.data.rule, 'profiles.sidecar.proxy.ports');
    const user = await call(caller, 'proxy/add', { policy: { OutboundProxyPort: 15001, ExemptUser: 'uid:0' } });
    assert.equal(user.error.data.rule, 'profiles.sidecar.proxy.exemptUsers');
    const invalid = await call(caller, 'proxy/add', { policy: { OutboundProxyPort: 90001 } });
    assert.equal(invalid.error.code, ErrorCodes.InvalidParams);
    assert.equal(invalid.error.data.field, 'policy.OutboundProxyPort');
    const cidr = await call(caller, 'proxy/add', { policy: { OutboundProxyPort: 15001, OutboundExceptions: { IpAddresses: ['10.0.0.0/33'] } } });
    assert.equal(cidr.error.data.field, 'policy.OutboundExceptions.IpAddresses.0');
    assert.equal((await call(caller, 'proxy/add', { policy: {} })).error.code, ErrorCodes.InvalidParams);
    const audited = (await broker.auditEntries()).filter((e) => e.method === 'proxy/add' && e.decision === 'deny');
    assert.ok(audited.some((e) => e.rule === 'profiles.sidecar.proxy.ports'));
  });

  it('sends outbound TCP to the outbound proxy, which reads the original destination', async () => {
    const added = await call(caller, 'proxy/add', {
      policy: {
        InboundProxyPort: 15006,
        OutboundProxyPort: 15001,
        OutboundExceptions: { Ports: [8081], IpAddresses: ['198.51.100.11'] },
        ExemptUser: '1337',
      },
    });
    assert.ok(added.result, JSON.stringify(added));
    policyId = added.result.Id;
    assert.equal(reach(caller, '198.51.100.10', 8080), 'proxy 15001 198.51.100.10:8080');
  });

  it('lets the exempt user, excepted ports and excepted addresses go direct', () => {
    assert.equal(reach(caller, '198.51.100.10', 8080, 1337), 'direct 8080 198.51.100.10:8080');
    assert.equal(reach(caller, '198.51.100.10', 8081), 'direct 8081 198.51.100.10:8081');
    assert.equal(reach(caller, '198.51.100.11', 8080), 'direct 8080 198.51.100.11:8080');
  });

  it('sends inbound TCP from the peer to the inbound proxy', () => {
    assert.equal(reach(peer, '198.51.100.9', 9000), 'proxy 15006 198.51.100.9:9000');
  });

  it('shows a caller in another namespace none of these policies, and lets it remove none', async () => {
    assert.deepEqual((await call(stranger, 'proxy/list', {})).result.policies, []);
    assert.equal((await call(stranger, 'proxy/remove', { id: policyId })).error.code, ErrorCodes.NotFound);
    const own = (await call(caller, 'proxy/list', {})).result.policies;
    assert.deepEqual(own.map((p: { Id: string; Applied: boolean }) => [p.Id, p.Applied]), [[policyId, true]]);
  });

  it('keeps the rules across a broker restart and restores them after a manual flush', async () => {
    await broker.stop();
    broker = await startTestBroker({ policyYaml, dir, reconcileEveryMs: 300 });
    assert.equal(reach(caller, '198.51.100.10', 8080), 'proxy 15001 198.51.100.10:8080');
    assert.equal(sh(`ip netns exec ${caller} nft flush ruleset`).status, 0);
    assert.equal(reach(caller, '198.51.100.10', 8080), 'direct 8080 198.51.100.10:8080');
    const deadline = Date.now() + 5000;
    while (reach(caller, '198.51.100.10', 8080) !== 'proxy 15001 198.51.100.10:8080') {
      assert.ok(Date.now() < deadline, 'the broker should re-apply flushed rules');
      await sleep(200);
    }
  });

  it('goes direct again after the policy is removed, and the table is gone', async () => {
    assert.deepEqual((await call(caller, 'proxy/remove', { id: policyId })).result.removed, [policyId]);
    assert.equal(reach(caller, '198.51.100.10', 8080), 'direct 8080 198.51.100.10:8080');
    assert.notEqual(sh(`ip netns exec ${caller} nft list table inet winshost_proxy`).status, 0);
  });

  it('removes all of a caller\'s policies at once', async () => {
    await call(caller, 'proxy/add', { policy: { OutboundProxyPort: 15001 } });
    await call(caller, 'proxy/add', { policy: { InboundProxyPort: 15006 } });
    assert.equal((await call(caller, 'proxy/remove', { all: true })).result.removed.length, 2);
    assert.deepEqual((await call(caller, 'proxy/list', {})).result.policies, []);
  });

  it('drops stored policies whose namespace is gone', async () => {
    const added = await call(caller, 'proxy/add', { policy: { OutboundProxyPort: 15001 } });
    assert.ok(added.result);
    for (const server of servers.splice(0)) server.kill();
    sh(`ip netns del ${caller}`);
    await sleep(800);
    const stored = JSON.parse(spawnSync('cat', [join(dir, 'state', 'proxy.json')], { encoding: 'utf8' }).stdout);
    assert.deepEqual(Object.keys(stored.targets), []);
  });

  it('answers HostOperationFailed saying so when nft is missing', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'winshost-nonft-'));
    symlinkSync(sh('command -v nsenter').stdout.trim(), join(bin, 'nsenter'));
    const path = process.env.PATH;
    process.env.PATH = bin;
    const fd = openSync(`/proc/self/ns/net`, 'r');
    try {
      await assert.rejects(linuxProxy.apply({ key: 'k', netnsFd: fd }, []), (error: { code: number; data: { reason: string }; message: string }) => {
        assert.equal(error.code, ErrorCodes.HostOperationFailed);
        assert.equal(error.data.reason, 'ToolMissing');
        assert.match(error.message, /nftables/);
        return true;
      });
    } finally {
      process.env.PATH = path;
      closeSync(fd);
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('reopens a namespace only by the same inode', async () => {
    assert.equal(await linuxProxy.reopen({ key: 'x', netnsInode: 1, netnsName: peer }), undefined);
  });
});
