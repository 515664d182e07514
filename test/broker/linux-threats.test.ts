// Rows 9, 15, 20, 40 and 44 of docs/SECURITY.md on Linux: each threat acted out for real against a live broker.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { HostPlatform } from '../../broker/src/platform/index.js';
import { parsePolicy } from '../../broker/src/policy/load.js';
import { openListener } from '../../broker/src/server/listener.js';
import { linuxProcesses, ownCgroupDirectory, parseInterpreterLine } from '../../broker/src/platform/linux/processes.js';
import { alive, fakePlatform, RawPeer, sleep, startTestBroker, until, type TestBroker } from './support.js';

const isLinux = process.platform === 'linux';
const isRoot = process.getuid?.() === 0;
const inCi = process.env.CI === 'true';
/** Root-only tests run (and fail without root) in CI; elsewhere they are skipped with the reason. */
const needsRoot = (what: string) => (isRoot || inCi ? false : `needs root (${what}); npm test runs it as root in CI`);
const linuxOnly = isLinux ? false : 'Linux only';


/** Server-side sockets of a test broker's connections: what the broker has produced and not sent yet. */
const serverSockets = (broker: TestBroker) => [...(broker.broker as unknown as { connections: Set<{ socket: Socket }> }).connections].map((c) => c.socket);

describe('row 9: a caller that does not read a file it asked for', { skip: linuxOnly }, () => {
  it('waits while more than 1 MiB of a file read is unsent, and sends the whole file once the caller reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-slowread-'));
    const content = randomBytes(24 * 1024 * 1024);
    writeFileSync(join(dir, 'big.log'), content);
    const broker = await startTestBroker({
      policyYaml: `listeners:\n  - name: files\n    profiles: [reader]\nprofiles:\n  reader:\n    files:\n      roots:\n        - path: ${dir}\n`,
    });
    const peer = await RawPeer.open(broker.path);
    try {
      await peer.initialize();
      peer.socket.pause(); // the caller stops reading; the kernel buffers fill, then the broker's
      peer.send({ jsonrpc: '2.0', id: 1, method: 'file/read', params: { path: join(dir, 'big.log'), token: 'slow' } });
      const [server] = serverSockets(broker);
      const produced = () => server.bytesWritten + server.writableLength;
      // Stable for a second: the handler is waiting, not just slow.
      let last = -1;
      let stableSince = Date.now();
      await until(() => {
        const now = produced();
        if (now !== last) [last, stableSince] = [now, Date.now()];
        return now > 0 && Date.now() - stableSince > 1000;
      }, 'the broker to stop producing', 30_000);
      const encoded = Math.ceil(content.length / 3) * 4;
      assert.ok(produced() < 6 * 1024 * 1024, `the broker produced ${produced()} of ${encoded} bytes for a caller that does not read`);
      assert.ok(server.writableLength < 1024 * 1024 + 128 * 1024, `unsent bytes held by the broker: ${server.writableLength}`);
      peer.socket.resume();
      const response = await peer.response(1);
      assert.equal(response.result?.bytesRead, content.length, JSON.stringify(response.error));
      const data = Buffer.concat(peer.takeNotifications('file/data').map((n) => Buffer.from(n.data as string, 'base64')));
      assert.ok(data.equals(content), 'every byte arrives, in order');
      assert.equal(response.result.sha256, createHash('sha256').update(content).digest('hex'));
    } finally {
      peer.close();
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('row 15: the socket owner and group from policy', { skip: linuxOnly }, () => {
  const listenerPolicy = (extra: string) => `listeners:\n  - name: sec\n${extra}    profiles: [reader]\nprofiles:\n  reader:\n    host: { read: true }\n`;
  /** The first account of a database that is not root: it exists on every host, whatever its name. */
  const firstAccount = (database: string) => {
    const [name, , id] = readFileSync(database, 'utf8').split('\n').map((line) => line.split(':')).find((fields) => fields.length > 2 && fields[2] !== '0')!;
    return { name, id: Number(id) };
  };

  it('gives the listener socket the policy owner and group, by id and by name', { skip: needsRoot('chown') }, async () => {
    assert.ok(isRoot, 'chown to another owner needs root');
    const byId = await startTestBroker({ policyYaml: listenerPolicy("    mode: '0660'\n    owner: 65534\n    group: 65533\n") });
    try {
      const stat = lstatSync(byId.path);
      assert.deepEqual([stat.uid, stat.gid, stat.mode & 0o777], [65534, 65533, 0o660]);
    } finally {
      await byId.stop();
    }
    const user = firstAccount('/etc/passwd');
    const group = firstAccount('/etc/group');
    const byName = await startTestBroker({ policyYaml: listenerPolicy(`    owner: ${user.name}\n    group: ${group.name}\n`) });
    try {
      const stat = lstatSync(byName.path);
      assert.deepEqual([stat.uid, stat.gid], [user.id, group.id]);
    } finally {
      await byName.stop();
    }
  });

  it('refuses to start with an owner or group the host does not know', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-owner-'));
    try {
      for (const [key, kind] of [['owner', 'user'], ['group', 'group']]) {
        const { listeners } = parsePolicy(listenerPolicy(`    ${key}: winshost-no-such-${kind}\n`), 'test.yaml');
        const server = createServer();
        try {
          await assert.rejects(openListener(server, listeners[0], join(dir, `${key}.sock`), dir), new RegExp(`${kind} 'winshost-no-such-${kind}' does not exist on this host`));
        } finally {
          server.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets the owner and members of the group connect, and no other host user', { skip: needsRoot('setpriv to other uids') }, async () => {
    assert.ok(isRoot, 'running callers under other uids needs root');
    const dir = mkdtempSync(join(tmpdir(), 'winshost-owner-'));
    chmodSync(dir, 0o755); // other uids must reach the socket; its own mode is what decides
    const broker = await startTestBroker({ policyYaml: listenerPolicy("    mode: '0660'\n    owner: 65534\n    group: 4242\n"), dir });
    const connectAs = (...ids: string[]) => {
      const probe = `require('net').connect(process.argv[1]).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`;
      const run = spawnSync('setpriv', [...ids, process.execPath, '-e', probe, broker.path], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      return run.stdout.trim();
    };
    try {
      assert.equal(connectAs('--reuid=65534', '--regid=65534', '--clear-groups'), 'connected', 'the owner');
      assert.equal(connectAs('--reuid=4343', '--regid=4343', '--groups=4242'), 'connected', 'a member of the group');
      assert.equal(connectAs('--reuid=4343', '--regid=4242', '--clear-groups'), 'connected', 'the group as primary group');
      assert.equal(connectAs('--reuid=4343', '--regid=4343', '--clear-groups'), 'EACCES', 'any other user');
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('row 20: a caller whose pid is reused before its namespace is pinned', { skip: linuxOnly }, () => {
  // The peer connects and exits; /proc/sys/kernel/ns_last_pid then hands its pid to a process in a fresh
  // network namespace. All of it runs in spawnSync, which blocks this process, and so the in-process broker,
  // before it accepts: the broker sees the connection only once the pid names the impostor. Another
  // process on the host can take the pid first, hence the attempts.
  const reuse = `
    for attempt in 1 2 3 4 5 6 7 8; do
      "$2" -e "require('net').connect(process.argv[1], () => process.exit(0))" "$1" &
      peer=$!
      wait $peer
      echo $((peer - 1)) > /proc/sys/kernel/ns_last_pid
      unshare --net sleep 120 </dev/null >/dev/null 2>&1 &
      if [ $! -eq $peer ]; then echo $peer; exit 0; fi
      kill $! 2>/dev/null
    done
    exit 1`;

  it('refuses the connection and audits it, though the pid names a live process', { skip: needsRoot('ns_last_pid and unshare') }, async () => {
    assert.ok(isRoot, 'steering pids needs root');
    const broker = await startTestBroker({ policyYaml: `listeners:\n  - name: sec\n    profiles: [anyone]\nprofiles:\n  anyone:\n    host: { read: true }\n` });
    let impostor = 0;
    try {
      // A first caller makes the broker load what identifies peers, so nothing but the accept is left to wait for.
      const warm = await RawPeer.open(broker.path);
      await warm.initialize();
      warm.close();
      await until(() => serverSockets(broker).length === 0, 'the first caller to be gone');
      const run = spawnSync('bash', ['-c', reuse, 'reuse', broker.path, process.execPath], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, `no pid could be reused: ${run.stderr}`);
      impostor = Number(run.stdout.trim());
      assert.ok(alive(impostor), 'the pid the peer had names a live process');
      // unshare may not have left the host namespace yet; the broker, though, already looked.
      await until(() => readlinkSync(`/proc/${impostor}/ns/net`) !== readlinkSync('/proc/self/ns/net'), 'the impostor to be in its own network namespace');
      let refusal;
      for (let tries = 0; tries < 100 && !refusal; tries++, await sleep(20)) {
        refusal = (await broker.auditEntries()).find((e) => e.method === '<connect>' && String(e.reason).includes(`peer process ${impostor} `));
      }
      assert.ok(refusal, `the refusal is audited: ${JSON.stringify(await broker.auditEntries())}`);
      assert.equal(refusal.decision, 'deny');
      assert.match(String(refusal.reason), new RegExp(`^PeerUnidentified: peer process ${impostor} exited before its namespace could be pinned`));
      assert.equal(serverSockets(broker).length, 0, 'no connection was admitted under the impostor');
    } finally {
      if (impostor) spawnSync('kill', [String(impostor)]);
      await broker.stop();
    }
  });
});

describe('row 40: a program replaced on disk between the check and the start', { skip: linuxOnly }, () => {
  let dir: string;
  let broker: TestBroker;
  let peer: RawPeer;
  let id = 0;
  const swapped = '#!/bin/sh\necho swapped\n';
  const scripts: Record<string, string> = {
    'tool.sh': '#!/bin/sh\necho "original script $1"\n',
    'env-tool.sh': '#!/usr/bin/env sh\necho "original via env $1"\n',
  };

  /** Replaces the program on disk right before the real Linux launch: after the open, the checks and the hash. */
  function swappingPlatform(): HostPlatform {
    const base = fakePlatform();
    return {
      ...base,
      processes: {
        ...linuxProcesses,
        async launch(spec, events) {
          writeFileSync(`${spec.path}.new`, swapped, { mode: 0o755 });
          renameSync(`${spec.path}.new`, spec.path);
          return linuxProcesses.launch(spec, events);
        },
      },
    };
  }

  async function run(path: string, args: string[]) {
    const { result, error } = await peer.request('process/start', { path, args, stream: true }, ++id);
    assert.ok(result, JSON.stringify(error));
    const waited = await peer.request('process/wait', { processId: result.Id, stream: true }, ++id);
    const output = Buffer.concat(peer.takeNotifications('process/output').filter((n) => n.processId === result.Id && n.stream === 'stdout').map((n) => Buffer.from(n.data as string, 'base64')));
    return { exitCode: waited.result.ExitCode, output: output.toString() };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-swap-'));
    copyFileSync('/usr/bin/echo', join(dir, 'tool'));
    chmodSync(join(dir, 'tool'), 0o755);
    for (const [name, text] of Object.entries(scripts)) writeFileSync(join(dir, name), text, { mode: 0o755 });
    const echoHash = createHash('sha256').update(readFileSync('/usr/bin/echo')).digest('hex');
    broker = await startTestBroker({
      platform: swappingPlatform(),
      policyYaml: `listeners:
  - name: procs
    profiles: [runner]
profiles:
  runner:
    processes:
      - path: ${dir}/tool
        args: { any: true }
        sha256: '${echoHash}'
      - path: ${dir}/tool.sh
        args: { any: true }
      - path: ${dir}/env-tool.sh
        args: { any: true }
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

  it('runs the binary that was hashed, not the file swapped in after the check', async () => {
    const { exitCode, output } = await run(join(dir, 'tool'), ['original']);
    assert.equal(readFileSync(join(dir, 'tool'), 'utf8'), swapped, 'the file was swapped before the start');
    assert.equal(output, 'original\n');
    assert.equal(exitCode, 0);
  });

  for (const name of Object.keys(scripts)) {
    it(`runs the checked #! script ${name} through its descriptor, not the file swapped in after the check`, async () => {
      const { exitCode, output } = await run(join(dir, name), ['x']);
      assert.equal(readFileSync(join(dir, name), 'utf8'), swapped, 'the file was swapped before the start');
      assert.equal(output, name === 'tool.sh' ? 'original script x\n' : 'original via env x\n');
      assert.equal(exitCode, 0);
    });
  }

  it('splits a #! line as the kernel does, and refuses lines it cannot run', () => {
    assert.equal(parseInterpreterLine(Buffer.from('\x7fELF'), '/p'), null);
    assert.equal(parseInterpreterLine(Buffer.from('#'), '/p'), null);
    assert.deepEqual(parseInterpreterLine(Buffer.from('#!/bin/sh\necho'), '/p'), { interpreter: '/bin/sh' });
    assert.deepEqual(parseInterpreterLine(Buffer.from('#!/bin/sh'), '/p'), { interpreter: '/bin/sh' });
    assert.deepEqual(parseInterpreterLine(Buffer.from('#! \t/usr/bin/env  python3 -u \t\nprint()'), '/p'), { interpreter: '/usr/bin/env', argument: 'python3 -u' });
    assert.throws(() => parseInterpreterLine(Buffer.from('#!sh\n'), '/p'), (e: Error & { data?: { reason?: string } }) => e.data?.reason === 'BadInterpreterLine' && /absolute path/.test(e.message));
    assert.throws(() => parseInterpreterLine(Buffer.from(`#!/bin/${'x'.repeat(300)}`).subarray(0, 256), '/p'), (e: Error & { data?: { reason?: string } }) => e.data?.reason === 'BadInterpreterLine');
  });
});

describe('row 44: a descendant that calls setsid', { skip: linuxOnly }, () => {
  const cgroupOf = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((line) => line.startsWith('0::'))?.slice(3) ?? '';
  const fieldsOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  };
  let dir: string;
  let broker: TestBroker;
  let peer: RawPeer;
  let id = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-setsid-'));
    broker = await startTestBroker({ policyYaml: `listeners:\n  - name: procs\n    profiles: [runner]\nprofiles:\n  runner:\n    processes:\n      - path: /usr/bin/dash\n        args: { any: true }\n` });
    peer = await RawPeer.open(broker.path);
    await peer.initialize();
  });
  after(async () => {
    peer?.close();
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a program whose child forks a grandchild that calls setsid (setsid -f) and records its pid. */
  async function startEscaping(caller: RawPeer, name: string) {
    const pidFile = join(dir, `${name}.pid`);
    const script = `setsid -f /usr/bin/dash -c 'echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; exec sleep 300' </dev/null >/dev/null 2>&1; exec sleep 300`;
    const { result, error } = await caller.request('process/start', { path: '/usr/bin/dash', args: ['-c', script] }, ++id);
    assert.ok(result, JSON.stringify(error));
    await until(() => existsSync(pidFile), 'the descendant to start');
    const escaped = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(escaped));
    const [, pgid, session] = fieldsOf(escaped);
    assert.notEqual(Number(pgid), result.Id, 'the descendant left the process group');
    assert.equal(Number(session), escaped, 'and leads its own session');
    return { started: result.Id as number, escaped };
  }

  it('holds every started process in its own cgroup, with its descendants', { skip: needsRoot('cgroup v2') }, async () => {
    assert.match(linuxProcesses.containment!(), /^one cgroup per process under /, 'cgroup v2 must be usable here');
    const { started, escaped } = await startEscaping(peer, 'held');
    const cgroup = cgroupOf(started);
    assert.match(cgroup, /\/winshost\/p-[0-9a-z]+$/);
    assert.equal(cgroupOf(escaped), cgroup, 'the descendant is in the same cgroup');
    assert.notEqual(cgroupOf(process.pid), cgroup, 'the broker left it after the start');
    await peer.request('process/stop', { processId: started, timeoutMs: 500 }, ++id);
  });

  it('is ended by process/stop with the rest of the tree, and its cgroup removed', { skip: needsRoot('cgroup v2') }, async () => {
    const { started, escaped } = await startEscaping(peer, 'stopped');
    const cgroupDir = ownCgroupDirectory(readFileSync('/proc/self/mountinfo', 'utf8'), `0::${cgroupOf(started)}`);
    assert.equal(typeof cgroupDir, 'string');
    assert.ok(existsSync(join(cgroupDir as string, 'cgroup.procs')));
    const stopped = await peer.request('process/stop', { processId: started, timeoutMs: 500 }, ++id);
    assert.equal(stopped.result.State, 'Exited');
    assert.ok(!alive(escaped), 'the descendant that called setsid is gone');
    assert.ok(!existsSync(cgroupDir as string), 'its cgroup is removed');
  });

  it('is ended when its caller disconnects', { skip: needsRoot('cgroup v2') }, async () => {
    const other = await RawPeer.open(broker.path);
    await other.initialize();
    const { escaped } = await startEscaping(other, 'disconnected');
    other.close();
    await until(() => !alive(escaped), 'the descendant to end with its caller');
  });

  it('is ended with the tree when the process that was started exits on its own', { skip: needsRoot('cgroup v2') }, async () => {
    const pidFile = join(dir, 'leftover.pid');
    const script = `setsid -f /usr/bin/dash -c 'echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; exec sleep 300' </dev/null >/dev/null 2>&1; until [ -s ${pidFile} ]; do sleep 0.05; done`;
    const { result } = await peer.request('process/start', { path: '/usr/bin/dash', args: ['-c', script] }, ++id);
    const waited = await peer.request('process/wait', { processId: result.Id, timeoutMs: 10_000 }, ++id);
    assert.equal(waited.result.State, 'Exited');
    await until(() => !alive(Number(readFileSync(pidFile, 'utf8'))), 'the leftover descendant to end');
  });

  it('is ended by a broker restarted after a SIGKILL, through the cgroup in its registry', { skip: needsRoot('cgroup v2') }, async () => {
    const home = mkdtempSync(join(tmpdir(), 'winshost-setsid-restart-'));
    const policyYaml = `listeners:\n  - name: procs\n    profiles: [runner]\nprofiles:\n  runner:\n    processes:\n      - path: /usr/bin/dash\n        args: { any: true }\n`;
    writeFileSync(join(home, 'policy.yaml'), policyYaml);
    const socket = join(home, 'b.sock');
    const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--policy', join(home, 'policy.yaml'), '--listen', socket, '--state-dir', join(home, 'state'), '--audit', join(home, 'a.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let restarted: TestBroker | undefined;
    try {
      await new Promise<void>((resolve) => child.stderr!.on('data', (chunk) => String(chunk).includes('serving') && resolve()));
      const caller = await RawPeer.open(socket);
      await caller.initialize();
      const { escaped } = await startEscaping(caller, 'orphaned');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      caller.close();
      await sleep(200);
      assert.ok(alive(escaped), 'a SIGKILLed broker stops nothing');
      restarted = await startTestBroker({ policyYaml, dir: home });
      await until(() => !alive(escaped), 'the descendant of the old run to be ended');
    } finally {
      child.kill('SIGKILL');
      await restarted?.stop();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('finds its cgroup directory from mountinfo on unified, hybrid and namespaced hosts, and says when there is none', () => {
    const unified = '30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n';
    const hybrid = '25 22 0:22 / /sys/fs/cgroup ro shared:5 - tmpfs tmpfs ro\n36 25 0:31 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw\n';
    const subtree = '40 30 0:26 /kubepods/pod1/ctr /sys/fs/cgroup ro master:4 - cgroup2 cgroup2 rw\n';
    const spaced = '30 23 0:26 / /mnt/cg\\040two rw shared:4 - cgroup2 cgroup2 rw\n';
    assert.equal(ownCgroupDirectory(unified, '0::/system.slice/winshost-broker.service\n'), '/sys/fs/cgroup/system.slice/winshost-broker.service');
    assert.equal(ownCgroupDirectory(hybrid, '1:name=systemd:/\n0::/\n'), '/sys/fs/cgroup/unified');
    assert.equal(ownCgroupDirectory(subtree, '0::/kubepods/pod1/ctr/sub\n'), '/sys/fs/cgroup/sub');
    assert.equal(ownCgroupDirectory(spaced, '0::/a\n'), '/mnt/cg two/a');
    assert.deepEqual(ownCgroupDirectory(subtree, '0::/elsewhere\n'), { unavailable: 'no cgroup2 mount shows this process\'s cgroup /elsewhere' });
    assert.deepEqual(ownCgroupDirectory(unified, '1:cpu:/\n'), { unavailable: 'this process has no cgroup v2 membership (cgroup v1 only)' });
  });
});
