import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../typings/index.js';
import { alive, RawPeer, sleep, startTestBroker, until, type TestBroker } from './support.js';

/** Live members of a process group, from /proc. */
const groupMembers = (pgid: number) =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[2]) === pgid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    });


function policy(dir: string, extra = '') {
  return `listeners:
  - name: procs
    profiles: [runner]
profiles:
  runner:
    processes:
      - path: /usr/bin/seq
        args: { pattern: '^[0-9]+$' }
      - path: /usr/bin/sleep
        args: { pattern: '^[0-9.]+$' }
        detach: true
        exposes: [tcp/18080]
      - path: /usr/bin/dash
        args: { any: true }
        env: [GREETING]
        workingDirectories: [${dir}/work]
      - path: /usr/bin/cat
      - path: /usr/bin/head
        args: { exact: ['-c', '209715200', '/dev/zero'] }
      - path: ${dir}/pinned
        sha256: '${'0'.repeat(64)}'
      - path: /usr/bin/true
        exposes: [tcp/18080]
${extra}    limits: { processes: 6 }
`;
}

describe('host processes through a live broker', () => {
  let dir: string;
  let broker: TestBroker;
  let peer: RawPeer;
  let id = 0;
  const call = (method: string, params: unknown) => peer.request(method, params, ++id);

  /** Takes every output notification received so far and returns one stream of one process. */
  const received = new Map<string, Buffer[]>();
  async function outputOf(target: RawPeer, pid: number, stream = 'stdout') {
    for (const n of target.takeNotifications('process/output')) {
      const key = `${n.processId}/${n.stream}`;
      received.set(key, [...(received.get(key) ?? []), Buffer.from(n.data as string, 'base64')]);
    }
    const chunks = received.get(`${pid}/${stream}`) ?? [];
    received.delete(`${pid}/${stream}`);
    return Buffer.concat(chunks);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-procs-'));
    mkdirSync(join(dir, 'work'));
    mkdirSync(join(dir, 'state'));
    copyFileSync('/usr/bin/true', join(dir, 'pinned'));
    chmodSync(join(dir, 'pinned'), 0o755);
    symlinkSync('/usr/bin/sleep', join(dir, 'sleep-link'));
    broker = await startTestBroker({ policyYaml: policy(dir), dir: join(dir, 'state') });
    peer = await RawPeer.open(broker.path);
    await peer.initialize();
  });
  after(async () => {
    peer.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts an allowed program, streams its output and reports exit code 0', async () => {
    const { result } = await call('process/start', { path: '/usr/bin/seq', args: ['5'], stream: true });
    assert.equal(typeof result.Id, 'number');
    assert.equal(result.Rule, 'profiles.runner.processes.0');
    const waited = await call('process/wait', { processId: result.Id, stream: true });
    assert.equal(waited.result.ExitCode, 0);
    assert.equal(waited.result.State, 'Exited');
    assert.equal((await outputOf(peer, result.Id)).toString(), '1\n2\n3\n4\n5\n');
    assert.ok(peer.takeNotifications('process/exited').some((n) => n.processId === result.Id && n.exitCode === 0));
  });

  it('reports a non-zero exit code, stderr apart, the environment and working directory given', async () => {
    const script = 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3';
    const { result } = await call('process/start', { path: '/usr/bin/dash', args: ['-c', script], env: { GREETING: 'hello' }, cwd: join(dir, 'work'), stream: true });
    const waited = await call('process/wait', { processId: result.Id, stream: true });
    assert.equal(waited.result.ExitCode, 3);
    assert.equal((await outputOf(peer, result.Id)).toString(), `hello from ${join(dir, 'work')}\n`);
    assert.equal((await outputOf(peer, result.Id, 'stderr')).toString(), 'oops\n');
  });

  it('does not pass the broker environment on', async () => {
    process.env.WINSHOST_SECRET_TEST = 'leak';
    const { result } = await call('process/start', { path: '/usr/bin/dash', args: ['-c', 'env'], stream: true });
    await call('process/wait', { processId: result.Id, stream: true });
    const env = (await outputOf(peer, result.Id)).toString();
    assert.doesNotMatch(env, /WINSHOST_SECRET_TEST/);
    assert.match(env, /^PATH=/m);
  });

  it('relays a large output complete and in order', async () => {
    const { result } = await call('process/start', { path: '/usr/bin/seq', args: ['1500000'], stream: true });
    await call('process/wait', { processId: result.Id, stream: true });
    const expected = Array.from({ length: 1_500_000 }, (_, i) => `${i + 1}\n`).join('');
    const got = await outputOf(peer, result.Id);
    assert.equal(got.length, Buffer.byteLength(expected));
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(expected).digest('hex'));
  });

  it('pauses the program while the caller does not read, and loses nothing', async () => {
    const slow = await RawPeer.open(broker.path);
    await slow.initialize();
    const started = await slow.request('process/start', { path: '/usr/bin/head', args: ['-c', '209715200', '/dev/zero'], stream: true }, 1);
    const pid = started.result.Id;
    slow.socket.pause();
    await sleep(1500);
    assert.ok(alive(pid), '200 MB of zeros take far less than 1.5 s unless the program is held back');
    slow.socket.resume();
    const waited = await slow.request('process/wait', { processId: pid, stream: true }, 2);
    assert.equal(waited.result.ExitCode, 0);
    let total = 0;
    for (const n of slow.takeNotifications('process/output')) total += Buffer.from(n.data as string, 'base64').length;
    assert.equal(total, 209715200);
    slow.close();
  });

  it('writes to stdin', async () => {
    const { result } = await call('process/start', { path: '/usr/bin/cat', stdin: true, stream: true });
    assert.equal((await call('process/write', { processId: result.Id, data: Buffer.from('to cat\n').toString('base64'), close: true })).result.bytesWritten, 7);
    await call('process/wait', { processId: result.Id, stream: true });
    assert.equal((await outputOf(peer, result.Id)).toString(), 'to cat\n');
  });

  it('buffers output for receive when nobody streams it', async () => {
    const { result } = await call('process/start', { path: '/usr/bin/seq', args: ['3'] });
    await call('process/wait', { processId: result.Id });
    const received = await call('process/receive', { processId: result.Id });
    assert.equal(Buffer.from(received.result.stdout, 'base64').toString(), '1\n2\n3\n');
    assert.equal(received.result.complete, true);
  });

  it('answers a wait that times out with the process running, and a cancelled wait with -32800', async () => {
    const { result } = await call('process/start', { path: '/usr/bin/sleep', args: ['30'] });
    assert.equal((await call('process/wait', { processId: result.Id, timeoutMs: 100 })).result.State, 'Running');
    peer.send({ jsonrpc: '2.0', id: 'w', method: 'process/wait', params: { processId: result.Id } });
    await sleep(100);
    peer.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'w' } });
    assert.equal((await peer.response('w')).error.code, ErrorCodes.RequestCancelled);
    const stopped = await call('process/stop', { processId: result.Id, timeoutMs: 2000 });
    assert.equal(stopped.result.Signal, 'SIGTERM');
    assert.equal(stopped.result.ExitCode, null);
  });

  it('stops the whole tree', async () => {
    const { result } = await call('process/start', { path: '/usr/bin/dash', args: ['-c', 'sleep 60 & sleep 60 & trap "" TERM; wait'] });
    await until(() => groupMembers(result.Id).length >= 3, 'the children to start');
    await call('process/stop', { processId: result.Id, timeoutMs: 500 });
    await until(() => groupMembers(result.Id).length === 0, 'the tree to be gone');
  });

  it('ends what a caller started when it disconnects, unless detached', async () => {
    const other = await RawPeer.open(broker.path);
    await other.initialize();
    const tied = (await other.request('process/start', { path: '/usr/bin/sleep', args: ['60'] }, 1)).result.Id;
    const detached = (await other.request('process/start', { path: '/usr/bin/sleep', args: ['60'], detach: true }, 2)).result.Id;
    other.close();
    await until(() => !alive(tied), 'the tied process to end');
    await sleep(200);
    assert.ok(alive(detached), 'the detached process survives its caller');
    // the same identity finds it again from another connection
    assert.ok((await call('process/list', {})).result.processes.some((p: { Id: number }) => p.Id === detached));
    await call('process/stop', { processId: detached, timeoutMs: 1000 });
    assert.ok(!alive(detached));
  });

  const denials: [string, () => Record<string, unknown>, string, string][] = [
    ['a path not listed', () => ({ path: '/usr/bin/id' }), 'PathNotListed', 'profiles.runner.processes'],
    ['a hash mismatch', () => ({ path: join(dir, 'pinned') }), 'HashMismatch', 'profiles.runner.processes.5.sha256'],
    ['a symlink in an allowed place pointing elsewhere', () => ({ path: '/bin/sh', args: ['-c', 'true'] }), 'NotCanonical', 'profiles.runner.processes'],
    ['a symlink elsewhere pointing to an allowed binary', () => ({ path: join(dir, 'sleep-link'), args: ['1'] }), 'NotCanonical', 'profiles.runner.processes'],
    ['a parent segment', () => ({ path: '/usr/lib/../bin/seq', args: ['1'] }), 'ParentSegment', 'profiles.runner.processes'],
    ['arguments not allowed', () => ({ path: '/usr/bin/seq', args: ['--help'] }), 'ArgumentsNotAllowed', 'profiles.runner.processes.0.args'],
    ['LD_PRELOAD', () => ({ path: '/usr/bin/dash', args: ['-c', 'true'], env: { LD_PRELOAD: '/tmp/evil.so' } }), 'EnvironmentNotAllowed', 'profiles.runner.processes.2.env'],
    ['PATH when not listed', () => ({ path: '/usr/bin/dash', args: ['-c', 'true'], env: { PATH: '/tmp' } }), 'EnvironmentNotAllowed', 'profiles.runner.processes.2.env'],
    ['a working directory outside the roots', () => ({ path: '/usr/bin/dash', args: ['-c', 'true'], cwd: dir }), 'WorkingDirectoryNotAllowed', 'profiles.runner.processes.2.workingDirectories'],
    ['detach when the rule does not allow it', () => ({ path: '/usr/bin/seq', args: ['1'], detach: true }), 'DetachNotAllowed', 'profiles.runner.processes.0.detach'],
    ['a port the rule does not expose', () => ({ path: '/usr/bin/seq', args: ['1'], exposes: ['tcp/80'] }), 'PortNotAllowed', 'profiles.runner.processes.0.exposes'],
  ];
  for (const [name, params, reason, rule] of denials) {
    it(`denies ${name}, naming the rule, and audits it`, async () => {
      const { error } = await call('process/start', params());
      assert.equal(error?.code, ErrorCodes.PolicyDenied, JSON.stringify(error));
      assert.equal(error.data.reason, reason);
      assert.equal(error.data.rule, rule);
      const audited = (await broker.auditEntries()).filter((e) => e.method === 'process/start' && e.reason === reason);
      assert.ok(audited.length > 0 && audited.every((e) => e.decision === 'deny'));
    });
  }

  it('denies starting over the profile limit', async () => {
    const started = [];
    for (let i = 0; i < 6; i++) started.push((await call('process/start', { path: '/usr/bin/sleep', args: ['30'] })).result.Id);
    const { error } = await call('process/start', { path: '/usr/bin/sleep', args: ['30'] });
    assert.equal(error.code, ErrorCodes.LimitExceeded);
    assert.equal(error.data.rule, 'profiles.runner.limits.processes');
    for (const pid of started) await call('process/stop', { processId: pid, timeoutMs: 500 });
  });

  const canUseNft = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status === 0;
  const nftSkip = canUseNft ? false : process.env.CI === 'true' ? false : 'needs root and nft (nftables); npm test installs it as root';
  it('opens an nftables accept rule for an exposed port while the process runs', { skip: nftSkip }, async () => {
    const rules = () => {
      const listing = spawnSync('nft', ['-j', 'list', 'chain', 'inet', 'winshost', 'input'], { encoding: 'utf8' });
      return listing.status === 0 ? (JSON.parse(listing.stdout).nftables as { rule?: { comment?: string } }[]).filter((i) => i.rule?.comment?.includes('tcp/18080')) : [];
    };
    const before = rules().length;
    const { result } = await call('process/start', { path: '/usr/bin/sleep', args: ['30'], exposes: ['tcp/18080'] });
    assert.deepEqual(result.Exposes, ['tcp/18080']);
    assert.equal(rules().length, before + 1);
    await call('process/stop', { processId: result.Id, timeoutMs: 500 });
    await until(() => rules().length === before, 'the port rule to be removed');
  });

  it('hides processes of other callers', async () => {
    const other = await RawPeer.open(broker.path);
    await other.initialize();
    const { result } = await call('process/start', { path: '/usr/bin/sleep', args: ['30'] });
    assert.equal((await other.request('process/stop', { processId: result.Id }, 1)).error.code, ErrorCodes.NotFound);
    assert.ok(!(await other.request('process/list', {}, 2)).result.processes.some((p: { Id: number }) => p.Id === result.Id));
    other.close();
    await call('process/stop', { processId: result.Id, timeoutMs: 500 });
  });
});

describe('process registry across broker restarts', () => {
  const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));

  it('stops the children of a SIGKILLed broker and re-adopts detached ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-restart-'));
    const state = join(dir, 'state');
    const socket = join(dir, 'b.sock');
    writeFileSync(join(dir, 'policy.yaml'), policy(dir));
    mkdirSync(join(dir, 'work'));
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--policy', join(dir, 'policy.yaml'), '--listen', socket, '--state-dir', state, '--audit', join(dir, 'a.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve) => child.stderr!.on('data', (chunk) => String(chunk).includes('serving') && resolve()));
    const peer = await RawPeer.open(socket);
    await peer.initialize();
    const tied = (await peer.request('process/start', { path: '/usr/bin/sleep', args: ['60'] }, 1)).result.Id;
    const detached = (await peer.request('process/start', { path: '/usr/bin/sleep', args: ['61'], detach: true }, 2)).result.Id;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    peer.close();
    assert.ok(alive(tied) && alive(detached), 'a SIGKILLed broker cannot stop anything');

    const restarted = await startTestBroker({ policyYaml: policy(dir), dir });
    try {
      await until(() => !alive(tied), 'the tied child of the old run to be stopped');
      assert.ok(alive(detached), 'the detached process is adopted, not stopped');
      const again = await RawPeer.open(restarted.path);
      await again.initialize();
      const listed = (await again.request('process/list', {}, 1)).result.processes.find((p: { Id: number }) => p.Id === detached);
      assert.equal(listed?.State, 'Running');
      assert.equal(listed?.Detached, true);
      const stopped = await again.request('process/stop', { processId: detached, timeoutMs: 1000 }, 2);
      assert.equal(stopped.result.State, 'Exited');
      assert.ok(!alive(detached));
      again.close();
    } finally {
      await restarted.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
