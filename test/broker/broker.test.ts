import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../broker/src/audit.js';
import { HostOperationFailedError } from '../../broker/src/errors.js';
import { loadBuiltInPolicy } from '../../broker/src/policy/default.js';
import { Broker } from '../../broker/src/server/broker.js';
import { ErrorCodes, HostInfoRequest, NetworkAdaptersRequest } from '../../typings/index.js';
import { WinsHostClient } from '../../broker/src/client/client.js';
import { fakePlatform, RawPeer, startTestBroker, type TestBroker } from './support.js';

const readerPolicy = (uid: number) => `listeners:
  - name: test
    mode: '0600'
    profiles: [hostonly, fallback]
profiles:
  hostonly:
    match: { uid: ${uid} }
    host: { read: true }
  fallback:
    match: { uid: 4000000000 }
    network: { read: true }
`;

describe('requests through a live broker', () => {
  let broker: TestBroker;
  let logged: string[];
  before(async () => {
    logged = [];
    broker = await startTestBroker({
      log: (m) => logged.push(m),
      platform: fakePlatform({
        async routes() {
          throw new Error('secret internal detail /etc/shadow');
        },
      }),
    });
  });
  after(() => broker.stop());

  it('initialize reports the caller as the kernel sees it', async () => {
    const peer = await RawPeer.open(broker.path);
    const { result } = await peer.initialize();
    assert.equal(result.protocolVersion, 1);
    assert.equal(result.serverInfo.name, 'winshost-broker');
    assert.equal(result.caller.profile, 'default');
    assert.equal(result.caller.pid, process.pid);
    assert.equal(result.caller.uid, process.getuid!());
    assert.equal(result.caller.gid, process.getgid!());
    assert.match(result.caller.netns, /^net:\[\d+\]$/);
    assert.deepEqual(result.capabilities.methods, ['initialize', 'host/info', 'network/adapters', 'network/routes']);
    peer.close();
  });

  it('refuses every method, known or not, before initialize with -32002', async () => {
    const peer = await RawPeer.open(broker.path);
    assert.equal((await peer.request('host/info', {}, 1)).error.code, ErrorCodes.ServerNotInitialized);
    assert.equal((await peer.request('no/such', {}, 2)).error.code, ErrorCodes.ServerNotInitialized);
    await peer.initialize();
    assert.equal((await peer.request('host/info', {}, 3)).result.HostName, 'fakehost');
    peer.close();
  });

  it('answers -32601 for an unknown method after initialize', async () => {
    const peer = await RawPeer.open(broker.path);
    await peer.initialize();
    const { error } = await peer.request('process/frobnicate', {}, 1);
    assert.equal(error.code, ErrorCodes.MethodNotFound);
    peer.close();
  });

  it('refuses an unsupported protocol version, naming the field', async () => {
    const peer = await RawPeer.open(broker.path);
    const { error } = await peer.request('initialize', { clientInfo: { name: 'x' }, protocolVersion: 2 }, 1);
    assert.equal(error.code, ErrorCodes.InvalidParams);
    assert.equal(error.data.field, 'protocolVersion');
    assert.equal(error.data.reason, 'UnsupportedProtocolVersion');
    peer.close();
  });

  it('names the failing field of bad params', async () => {
    const peer = await RawPeer.open(broker.path);
    await peer.initialize();
    const cases: [unknown, string][] = [
      [{ interfaceIndex: 'seven' }, 'interfaceIndex'],
      [{ interfaceIndex: -1 }, 'interfaceIndex'],
      [{ interfaceIndex: 1.5 }, 'interfaceIndex'],
      [{ name: 3 }, 'name'],
      [{ defaultOnly: 'yes' }, 'defaultOnly'],
      [{ nmae: 'eth0' }, 'nmae'],
      [[1, 2], ''],
    ];
    for (const [index, [params, field]] of cases.entries()) {
      const { error } = await peer.request('network/adapters', params, index);
      assert.equal(error.code, ErrorCodes.InvalidParams, JSON.stringify(params));
      assert.equal(error.data.field, field, JSON.stringify(params));
      if (field) assert.match(error.message, new RegExp(field));
    }
    const { error } = await peer.request('network/routes', { addressFamily: 'IPX' }, 'af');
    assert.equal(error.data.field, 'addressFamily');
    peer.close();
  });

  it('filters adapters by index, name and default, and says NotFound for no match', async () => {
    const client = await WinsHostClient.connect(broker.path);
    assert.deepEqual((await client.request(NetworkAdaptersRequest.type, {})).adapters.map((a) => a.Name), ['lo', 'eth0']);
    assert.deepEqual((await client.request(NetworkAdaptersRequest.type, { defaultOnly: true })).adapters.map((a) => a.Name), ['eth0']);
    assert.deepEqual((await client.request(NetworkAdaptersRequest.type, { interfaceIndex: 1 })).adapters.map((a) => a.Name), ['lo']);
    assert.deepEqual((await client.request(NetworkAdaptersRequest.type, { name: 'eth0' })).adapters.map((a) => a.InterfaceIndex), [7]);
    await assert.rejects(client.request(NetworkAdaptersRequest.type, { name: 'eth9' }), (error: { code: number }) => error.code === ErrorCodes.NotFound);
    await assert.rejects(client.request(NetworkAdaptersRequest.type, { name: 'lo', defaultOnly: true }), (error: { code: number }) => error.code === ErrorCodes.NotFound);
    client.close();
  });

  it('never sends internal exception text; logs it with the incident id instead', async () => {
    const peer = await RawPeer.open(broker.path);
    await peer.initialize();
    const { error } = await peer.request('network/routes', {}, 1);
    assert.equal(error.code, ErrorCodes.InternalError);
    assert.doesNotMatch(JSON.stringify(error), /shadow|secret/);
    assert.ok(logged.some((line) => line.includes(error.data.incident) && line.includes('secret internal detail')));
    peer.close();
  });

  it('writes one audit line per decision with every field', async () => {
    const before = (await broker.auditEntries()).length;
    const client = await WinsHostClient.connect(broker.path);
    await client.request(HostInfoRequest.type, {});
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const entries = (await broker.auditEntries()).slice(before);
    assert.deepEqual(entries.map((e) => e.method), ['initialize', 'host/info']);
    const info = entries[1];
    assert.equal(info.decision, 'allow');
    assert.equal(info.rule, 'profiles.default.host.read');
    assert.equal(info.resultCode, 0);
    assert.equal(info.listener, 'winshost');
    assert.equal(info.profile, 'default');
    assert.equal(info.peer.pid, process.pid);
    assert.match(info.paramsDigest!, /^[0-9a-f]{16}$/);
    assert.equal(typeof info.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(info.time)));
  });
});

describe('a platform failure', () => {
  it('reaches the caller as HostOperationFailed with the OS message', async () => {
    const broker = await startTestBroker({
      platform: fakePlatform({
        async adapters() {
          throw new HostOperationFailedError("'ip' (iproute2) is not installed on the host", { reason: 'ToolMissing' });
        },
      }),
    });
    const peer = await RawPeer.open(broker.path);
    await peer.initialize();
    const { error } = await peer.request('network/adapters', {}, 1);
    assert.equal(error.code, ErrorCodes.HostOperationFailed);
    assert.equal(error.data.reason, 'ToolMissing');
    assert.match(error.message, /iproute2/);
    peer.close();
    await broker.stop();
  });
});

describe('profiles and denials', () => {
  it('denies what the matched profile does not grant, with the rule, and audits it', async () => {
    const broker = await startTestBroker({ policyYaml: readerPolicy(process.getuid!()) });
    const peer = await RawPeer.open(broker.path);
    const init = await peer.initialize();
    assert.equal(init.result.caller.profile, 'hostonly');
    assert.deepEqual(init.result.capabilities.methods, ['initialize', 'host/info']);
    const { error } = await peer.request('network/adapters', {}, 1);
    assert.equal(error.code, ErrorCodes.PolicyDenied);
    assert.equal(error.data.rule, 'profiles.hostonly.network.read');
    assert.match(error.message, /profiles\.hostonly\.network\.read/);
    peer.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const denied = (await broker.auditEntries()).find((e) => e.method === 'network/adapters');
    assert.equal(denied?.decision, 'deny');
    assert.equal(denied?.rule, 'profiles.hostonly.network.read');
    assert.equal(denied?.resultCode, ErrorCodes.PolicyDenied);
    await broker.stop();
  });

  it('refuses a caller no profile matches, on every request, and audits the connection', async () => {
    const broker = await startTestBroker({ policyYaml: readerPolicy(4000000001) });
    const peer = await RawPeer.open(broker.path);
    const { error } = await peer.initialize();
    assert.equal(error.code, ErrorCodes.PolicyDenied);
    assert.equal(error.data.reason, 'NoProfileMatched');
    assert.equal((await peer.request('host/info', {}, 2)).error.code, ErrorCodes.PolicyDenied);
    peer.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const connect = (await broker.auditEntries()).find((e) => e.method === '<connect>');
    assert.equal(connect?.decision, 'deny');
    assert.equal(connect?.reason, 'NoProfileMatched');
    assert.equal(connect?.peer.uid, process.getuid!());
    await broker.stop();
  });
});

describe('listener paths', () => {
  const start = (dir: string, path: string) =>
    new Broker({
      policy: loadBuiltInPolicy(),
      platform: fakePlatform(),
      // stdout: a file's stream would still be opening when the test removes the directory
      audit: AuditLog.open('-'),
      stateDir: join(dir, 'state'),
      brokerVersion: 'test',
      listenPath: path,
      log: () => {},
    });

  /** Runs `program` in a child that is SIGKILLed once it prints `ready`: what it leaves behind stays. */
  const killedChild = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const watch = (chunk: Buffer) => {
        if (chunk.toString().includes('ready') || chunk.toString().includes('serving')) child.kill('SIGKILL');
      };
      child.stdout.on('data', watch);
      child.stderr.on('data', watch);
      child.once('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited without being killed (${signal})`))));
    });

  it('refuses a path in use, a file that is not a socket and a stale socket it did not create', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-listen-'));
    const path = join(dir, 'b.sock');
    const first = start(dir, path);
    await first.start();
    await assert.rejects(start(dir, path).start(), /in use/);
    await first.stop();

    writeFileSync(join(dir, 'plain'), 'x');
    await assert.rejects(start(dir, join(dir, 'plain')).start(), /not a socket/);

    const foreign = join(dir, 'foreign.sock');
    await killedChild(['-e', `require('net').createServer().listen(${JSON.stringify(foreign)}, () => console.log('ready'))`]);
    assert.ok(lstatSync(foreign).isSocket(), 'the killed program left its socket');
    await assert.rejects(start(dir, foreign).start(), /stale socket this broker did not create/);
    assert.ok(lstatSync(foreign).isSocket(), 'a stranger\'s socket is left alone');
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes over its own stale socket after a SIGKILL and removes its socket at stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-listen-'));
    const path = join(dir, 'b.sock');
    const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
    await killedChild(['--import', 'tsx', cli, 'serve', '--listen', path, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'a.log')]);
    assert.ok(lstatSync(path).isSocket(), 'the killed broker left its socket');
    const next = start(dir, path);
    await next.start();
    const client = await WinsHostClient.connect(path);
    assert.equal(client.initializeResult?.caller.profile, 'default');
    client.close();
    await next.stop();
    await assert.rejects(WinsHostClient.connect(path), /ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  });
});
