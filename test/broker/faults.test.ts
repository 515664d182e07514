import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuditLog, type AuditSink } from '../../broker/src/audit.js';
import { parsePolicy } from '../../broker/src/policy/load.js';
import { Broker } from '../../broker/src/server/broker.js';
import { ErrorCodes } from '../../typings/index.js';
import { fakePlatform, RawPeer } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const policyYaml = (extra = '') => `listeners:
  - name: test
    profiles: [reader]
profiles:
  reader:
    host: { read: true }
${extra}`;

async function startWith(audit: AuditLog, yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'winshost-faults-'));
  const broker = new Broker({
    policy: { policy: parsePolicy(yaml, 'test.yaml'), source: 'test.yaml' },
    platform: fakePlatform(),
    audit,
    stateDir: join(dir, 'state'),
    brokerVersion: 'test',
    listenPath: join(dir, 'b.sock'),
    log: () => {},
    reconcileEveryMs: 0,
  });
  await broker.start();
  return { path: join(dir, 'b.sock'), dir, broker };
}

/** A sink that fails every write while `broken` is set, and keeps what it was given otherwise. */
function failingSink() {
  const state = { broken: false, written: '' };
  const sink: AuditSink = {
    async write(data) {
      if (state.broken) throw new Error('EIO: injected failure');
      state.written += data;
    },
    async close() {},
  };
  return { sink, state };
}

describe('an audit log that cannot be written', () => {
  it('denies every request with -32007 AuditUnavailable, says why, and recovers when writes work again', async () => {
    const { sink, state } = failingSink();
    const logged: string[] = [];
    const audit = new AuditLog(sink, 'injected', (m) => logged.push(m));
    const { broker, path, dir } = await startWith(audit, policyYaml());
    try {
      const peer = await RawPeer.open(path);
      assert.ok((await peer.initialize()).result);
      await audit.flushed();
      state.broken = true;
      // Served: nothing has failed yet. Its audit line is the write that fails.
      assert.ok((await peer.request('host/info', {}, 1)).result);
      await audit.flushed();
      assert.equal(audit.healthy(), false);
      assert.ok(logged.some((m) => /audit log injected cannot be written \(EIO: injected failure\)/.test(m)), logged.join('\n'));

      const { error } = await peer.request('host/info', {}, 2);
      assert.equal(error.code, ErrorCodes.HostOperationFailed);
      assert.equal(error.data.reason, 'AuditUnavailable');
      assert.match(error.message, /EIO: injected failure/);
      // initialize too, on a new connection: nothing runs unaudited.
      const other = await RawPeer.open(path);
      assert.equal((await other.initialize()).error?.data.reason, 'AuditUnavailable');

      state.broken = false;
      let served = false;
      for (let id = 3; id < 10 && !served; id++) {
        served = (await peer.request('host/info', {}, id)).result !== undefined;
        await audit.flushed();
      }
      assert.ok(served, 'recovers once the log is writable');
      assert.ok(logged.some((m) => /writable again/.test(m)));
      // The lines that failed were kept and written on recovery, the denials among them.
      const lines = state.written.trim().split('\n').map((l) => JSON.parse(l));
      assert.ok(lines.filter((l) => l.method === 'host/info' && l.decision === 'allow').length >= 2);
      assert.ok(lines.some((l) => l.reason === 'AuditUnavailable' && l.decision === 'deny'));
      peer.close();
      other.close();
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps serving when the policy says audit.failOpen', async () => {
    const { sink, state } = failingSink();
    const audit = new AuditLog(sink, 'injected', () => {});
    const { broker, path, dir } = await startWith(audit, policyYaml('audit: { path: /nonexistent/audit.log, failOpen: true }\n'));
    try {
      const peer = await RawPeer.open(path);
      await peer.initialize();
      await audit.flushed();
      state.broken = true;
      await peer.request('host/info', {}, 1);
      await audit.flushed();
      assert.equal(audit.healthy(), false);
      assert.equal((await peer.request('host/info', {}, 2)).result.HostName, 'fakehost');
      peer.close();
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('notices a log file whose directory was removed, and recovers when it is back', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'winshost-auditdir-'));
    const file = join(logDir, 'audit.log');
    const audit = AuditLog.open(file, () => {});
    const { broker, path, dir } = await startWith(audit, policyYaml());
    try {
      const peer = await RawPeer.open(path);
      await peer.initialize();
      await audit.flushed();
      rmSync(logDir, { recursive: true, force: true });
      await peer.request('host/info', {}, 1);
      await audit.flushed();
      const { error } = await peer.request('host/info', {}, 2);
      assert.equal(error?.data.reason, 'AuditUnavailable');
      assert.match(error.message, /ENOENT/);
      mkdirSync(logDir);
      // A file log is probed before each request while failing, so the very next request is served.
      assert.equal((await peer.request('host/info', {}, 3)).result.HostName, 'fakehost');
      await audit.flushed();
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => [l.method, l.decision]),
        [
          // initialize's line went with the removed directory; the next one failed, was kept and written now.
          ['host/info', 'allow'],
          ['host/info', 'deny'],
          ['host/info', 'allow'],
        ],
      );
      peer.close();
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(logDir, { recursive: true, force: true });
    }
  });
});

describe('SIGHUP', () => {
  it('reloads a valid policy for new connections and keeps the old one, with every error located, for an invalid one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-hup-'));
    const file = join(dir, 'policy.yaml');
    const sock = join(dir, 'b.sock');
    writeFileSync(file, policyYaml());
    const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--policy', file, '--listen', sock, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'audit.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!pattern.test(stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${stderr}`);
        await sleep(50);
      }
    };
    try {
      await waitFor(/serving/);
      const old = await RawPeer.open(sock);
      assert.deepEqual((await old.initialize()).result.capabilities.methods, ['initialize', 'host/info']);

      writeFileSync(file, policyYaml('    network: { read: true }\n'));
      child.kill('SIGHUP');
      await waitFor(/policy reloaded from .*policy\.yaml/);
      const fresh = await RawPeer.open(sock);
      assert.deepEqual((await fresh.initialize()).result.capabilities.methods, ['initialize', 'host/info', 'network/adapters', 'network/routes']);
      assert.equal((await old.request('network/adapters', {}, 1)).error.code, ErrorCodes.PolicyDenied, 'an open connection keeps its policy');

      writeFileSync(file, 'listeners:\n  - name: test\n    profiles: [reader, missing]\nprofiles:\n  reader:\n    hots: { read: true }\n');
      child.kill('SIGHUP');
      await waitFor(/is invalid; keeping the current policy/);
      await waitFor(/hots/);
      const lines = stderr.split('\n');
      assert.ok(lines.includes(`${file}:3:24: listeners.0.profiles.1: profile 'missing' is not defined under profiles`), stderr);
      assert.ok(lines.includes(`${file}:6:5: profiles.reader: unknown key 'hots'`), stderr);
      const after = await RawPeer.open(sock);
      assert.equal((await after.initialize()).result.capabilities.methods.length, 4, 'the last good policy stays');
      old.close();
      fresh.close();
      after.close();
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
