import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../typings/index.js';
import { FixtureError, fixturePlatform, loadFixtureFile, parseFixture, recordFixture, type Fixture, type FixturePlatform } from '../../broker/src/platform/fixture.js';
import { currentPlatform } from '../../broker/src/platform/index.js';
import { fakeAdapters, fakeRoutes, RawPeer, startTestBroker, type TestBroker } from './support.js';

const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));

function baseFixture(): Fixture {
  return {
    version: 1,
    host: {
      HostName: 'node-7',
      Platform: 'windows',
      OSName: 'Windows Server 2022 Datacenter',
      OSVersion: '10.0.20348',
      OSBuild: '20348.2227',
      KernelVersion: '10.0.20348',
      Architecture: 'x86_64',
      UptimeSeconds: 3600,
      BootTime: '2026-01-01T00:00:00.000Z',
    },
    network: { adapters: structuredClone(fakeAdapters), defaultInterfaceIndex: 7, routes: structuredClone(fakeRoutes) },
    processes: {},
  };
}

/** The problems a fixture has, as `field: message` lines. */
function problemsOf(fixture: unknown): string[] {
  try {
    parseFixture(JSON.stringify(fixture), 'test.json', 'posix');
  } catch (error) {
    assert.ok(error instanceof FixtureError, String(error));
    for (const line of error.message.split('\n')) assert.match(line, /^test\.json: /);
    return error.problems.map((p) => `${p.field}: ${p.message}`);
  }
  return [];
}

describe('fixture validation', () => {
  it('accepts a complete fixture', () => {
    assert.deepEqual(problemsOf(baseFixture()), []);
  });

  it('names an unknown key by its field path', () => {
    const fixture = baseFixture() as any;
    fixture.network.adapters[1].Speed = 1000;
    fixture.extra = true;
    const problems = problemsOf(fixture);
    assert.ok(problems.includes("network.adapters.1: unknown key 'Speed'"), problems.join('\n'));
    assert.ok(problems.includes("(document): unknown key 'extra'"), problems.join('\n'));
  });

  it('names missing and mistyped fields', () => {
    const fixture = baseFixture() as any;
    delete fixture.host.HostName;
    fixture.network.routes[0].RouteMetric = 'low';
    fixture.network.adapters[0].Status = 'Sideways';
    const problems = problemsOf(fixture);
    assert.ok(problems.some((p) => p.startsWith('host.HostName: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('network.routes.0.RouteMetric: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('network.adapters.0.Status: ')), problems.join('\n'));
  });

  it('checks what the platforms derive: CIDRs, the primary address, the default adapter', () => {
    const fixture = baseFixture() as any;
    fixture.network.adapters[1].IPv4Addresses[0].SubnetCIDR = '10.170.15.0/20';
    fixture.network.adapters[1].AddressCIDR = '10.170.15.229/24';
    fixture.network.adapters[0].IsDefault = true;
    const problems = problemsOf(fixture);
    assert.ok(problems.includes("network.adapters.1.IPv4Addresses.0.SubnetCIDR: must be '10.170.0.0/20', the network of 10.170.15.229/20"), problems.join('\n'));
    assert.ok(problems.includes("network.adapters.1.AddressCIDR: must be '10.170.15.229/20', the first of IPv4Addresses"), problems.join('\n'));
    assert.ok(problems.includes('network.adapters.0.IsDefault: must be false: network.defaultInterfaceIndex is 7'), problems.join('\n'));

    const noSuchDefault = baseFixture();
    noSuchDefault.network.defaultInterfaceIndex = 99;
    noSuchDefault.network.adapters[1].IsDefault = false;
    assert.deepEqual(problemsOf(noSuchDefault), ['network.defaultInterfaceIndex: no adapter has InterfaceIndex 99']);
  });

  it('requires canonical absolute program paths and valid scripts', () => {
    const fixture = baseFixture();
    fixture.processes = {
      'bin/tool': {},
      '/usr//bin/tool': {},
      '/usr/bin/../bin/tool': {},
      '/usr/bin/ok': { exitCode: 1.5, delayMs: -1 },
      '/usr/bin/fine': { stdout: 'x', stderr: 'y', exitCode: 3, delayMs: 10 },
    };
    const problems = problemsOf(fixture);
    assert.ok(problems.some((p) => p.startsWith('processes["/usr/bin/ok"].exitCode: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('processes["/usr/bin/ok"].delayMs: ')), problems.join('\n'));
    // Path rules run once the shape is right.
    delete fixture.processes['/usr/bin/ok'];
    const pathProblems = problemsOf(fixture);
    assert.ok(pathProblems.some((p) => p.startsWith('processes["bin/tool"]: ') && p.includes('absolute')), pathProblems.join('\n'));
    assert.ok(pathProblems.includes(`processes["/usr//bin/tool"]: name the program by its canonical path '/usr/bin/tool'`), pathProblems.join('\n'));
    assert.ok(pathProblems.some((p) => p.startsWith('processes["/usr/bin/../bin/tool"]: ')), pathProblems.join('\n'));
    assert.equal(pathProblems.length, 3, pathProblems.join('\n'));
  });

  it('says when the text is not JSON or the file cannot be read', () => {
    assert.throws(() => parseFixture('{ host: ', 'bad.json'), (error: FixtureError) => /^bad\.json: \(document\): not JSON: /.test(error.message));
    assert.throws(() => loadFixtureFile('/nonexistent/fixture.json'), (error: FixtureError) => error.message === '/nonexistent/fixture.json: (document): cannot read the fixture file (ENOENT)');
  });

  it('records this host as a fixture that loads', async () => {
    const recorded = await recordFixture(await currentPlatform());
    assert.ok(recorded.network.adapters.length >= 1);
    assert.deepEqual(parseFixture(JSON.stringify(recorded), 'recorded.json'), recorded);
  });
});

describe('the fixture platform through a live broker', () => {
  let dir: string;
  let broker: TestBroker;
  let platform: FixturePlatform;
  let peer: RawPeer;
  let id = 0;
  const call = (method: string, params: unknown) => peer.request(method, params, ++id);
  const text = (notifications: Record<string, unknown>[], pid: number, stream: string) =>
    Buffer.concat(notifications.filter((n) => n.processId === pid && n.stream === stream).map((n) => Buffer.from(n.data as string, 'base64'))).toString();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-fixture-'));
    // Program files must exist (the handler opens and checks them), but they are never executed: not even executable.
    for (const name of ['configure', 'slow', 'daemon', 'unscripted', 'forbidden']) writeFileSync(join(dir, name), 'not a program\n', { mode: 0o644 });
    const fixture = baseFixture();
    fixture.processes = {
      [join(dir, 'configure')]: { stdout: 'proxy configured\nport 15001\n', stderr: 'warning: dry run\n', exitCode: 3 },
      [join(dir, 'slow')]: { stdout: 'started\n', delayMs: 600_000 },
      [join(dir, 'daemon')]: { stdout: 'daemon up\n', stderr: 'daemon log\n' },
    };
    platform = fixturePlatform(parseFixture(JSON.stringify(fixture), 'fixture.json'), await currentPlatform(), 'fixture.json');
    broker = await startTestBroker({
      platform,
      policyYaml: `listeners:
  - name: test
    profiles: [app]
profiles:
  app:
    host: { read: true }
    network: { read: true }
    processes:
      - path: ${join(dir, 'configure')}
        args: { any: true }
      - path: ${join(dir, 'slow')}
      - path: ${join(dir, 'daemon')}
        detach: true
      - path: ${join(dir, 'unscripted')}
    proxy: { ports: [15001] }
`,
    });
    peer = await RawPeer.open(broker.path);
    await peer.initialize();
  });
  after(async () => {
    peer?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers host and network requests from the fixture', async () => {
    const info = (await call('host/info', {})).result;
    assert.equal(info.HostName, 'node-7');
    assert.equal(info.Platform, 'windows');
    assert.equal(info.BrokerVersion, '0.0.0-test');
    const adapters = (await call('network/adapters', { defaultOnly: true })).result;
    assert.deepEqual(adapters.adapters.map((a: { Name: string }) => a.Name), ['eth0']);
    assert.equal(adapters.defaultInterfaceIndex, 7);
    assert.deepEqual((await call('network/routes', { addressFamily: 'IPv4' })).result.routes, fakeRoutes.filter((r) => r.AddressFamily === 'IPv4'));
  });

  it('plays a scripted program back through the process manager: output, stderr and exit code', async () => {
    const { result } = await call('process/start', { path: join(dir, 'configure'), args: ['--port', '15001'], stream: true });
    assert.equal(result.Rule, 'profiles.app.processes.0');
    const waited = (await call('process/wait', { processId: result.Id, stream: true })).result;
    assert.equal(waited.State, 'Exited');
    assert.equal(waited.ExitCode, 3);
    const output = peer.takeNotifications('process/output');
    assert.equal(text(output, result.Id, 'stdout'), 'proxy configured\nport 15001\n');
    assert.equal(text(output, result.Id, 'stderr'), 'warning: dry run\n');
    assert.ok(peer.takeNotifications('process/exited').some((n) => n.processId === result.Id && n.exitCode === 3));
    assert.deepEqual(platform.records.launches.at(-1)?.args, ['--port', '15001']);
  });

  it('keeps unstreamed output for process/receive, as for a real child', async () => {
    const { result } = await call('process/start', { path: join(dir, 'configure') });
    await call('process/wait', { processId: result.Id });
    const received = (await call('process/receive', { processId: result.Id })).result;
    assert.equal(Buffer.from(received.stdout, 'base64').toString(), 'proxy configured\nport 15001\n');
    assert.equal(Buffer.from(received.stderr, 'base64').toString(), 'warning: dry run\n');
    assert.equal(received.complete, true);
  });

  it('keeps a delayed program running until it is stopped', async () => {
    const { result } = await call('process/start', { path: join(dir, 'slow') });
    const listed = (await call('process/list', {})).result.processes.find((p: { Id: number }) => p.Id === result.Id);
    assert.equal(listed.State, 'Running');
    const stopped = (await call('process/stop', { processId: result.Id })).result;
    assert.equal(stopped.State, 'Exited');
    assert.equal(stopped.ExitCode, null);
    assert.equal(stopped.Signal, 'SIGTERM');
  });

  it('writes a detached program to its output files', async () => {
    const { result } = await call('process/start', { path: join(dir, 'daemon'), detach: true });
    assert.equal(result.Detached, true);
    await call('process/wait', { processId: result.Id });
    const received = (await call('process/receive', { processId: result.Id })).result;
    assert.equal(Buffer.from(received.stdout, 'base64').toString(), 'daemon up\n');
    assert.equal(Buffer.from(received.stderr, 'base64').toString(), 'daemon log\n');
  });

  it('refuses an allowed program the fixture does not script, and still applies the policy first', async () => {
    const unscripted = await call('process/start', { path: join(dir, 'unscripted') });
    assert.equal(unscripted.error.code, ErrorCodes.HostOperationFailed);
    assert.equal(unscripted.error.data.reason, 'NotScripted');
    assert.match(unscripted.error.message, /not scripted in the fixture fixture\.json/);

    const denied = await call('process/start', { path: join(dir, 'forbidden') });
    assert.equal(denied.error.code, ErrorCodes.PolicyDenied);
    const audit = await broker.auditEntries();
    assert.ok(audit.some((entry) => entry.method === 'process/start' && entry.decision === 'deny'));
  });

  it('records proxy policies in memory and reads them back', async () => {
    const added = (await call('proxy/add', { policy: { OutboundProxyPort: 15001, OutboundExceptions: { Ports: [53] } } })).result;
    const applied = platform.records.proxy.get(added.Target);
    assert.equal(applied?.length, 1);
    assert.equal(applied?.[0].Id, added.Id);
    assert.deepEqual(applied?.[0].OutboundExceptions, { Ports: [53] });
    const listed = (await call('proxy/list', {})).result.policies;
    assert.deepEqual(listed.map((p: { Id: string; Applied: boolean }) => [p.Id, p.Applied]), [[added.Id, true]]);

    const denied = await call('proxy/add', { policy: { OutboundProxyPort: 16000 } });
    assert.equal(denied.error.code, ErrorCodes.PolicyDenied);
    assert.equal(platform.records.proxy.get(added.Target)?.length, 1);

    await call('proxy/remove', { all: true });
    assert.equal(platform.records.proxy.has(added.Target), false);
  });
});

describe('winshost-broker with fixtures', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });

  it('serve --fixture refuses an invalid fixture with every problem by field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-fixture-cli-'));
    try {
      const fixture = baseFixture() as any;
      fixture.network.adapters[1].Mtu = -1;
      fixture.processes = { relative: {} };
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify(fixture));
      const result = run('serve', '--fixture', file, '--listen', join(dir, 'b.sock'), '--state-dir', dir, '--audit', '-');
      assert.equal(result.status, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: network\\.adapters\\.1\\.Mtu: `, 'm'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('record-fixture --out writes a fixture serve can load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-fixture-cli-'));
    try {
      const file = join(dir, 'host.json');
      const result = run('record-fixture', '--out', file);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stderr, /written \(\d+ adapter\(s\), \d+ route\(s\)\)/);
      const fixture = loadFixtureFile(file);
      assert.deepEqual(fixture.processes, {});
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).version, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
