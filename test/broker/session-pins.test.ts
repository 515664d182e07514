// Container targets found by pid are pinned with a pidfd, so a pid reused while the namespaces are opened is
// refused; and what session hosts leave in their cgroups is ended by the next broker after a crash.
// Real processes, real network namespaces, real cgroups (root), pid reuse steered through ns_last_pid.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ownCgroupDirectory, SESSION_CGROUP_PARENT } from '../../broker/src/platform/linux/cgroups.js';
import { linuxSessionHosts, resolveLinuxContainer, SESSION_REGISTRY_FILE } from '../../broker/src/platform/linux/sessions.js';
import { alive, connectPeer, sleep, until } from './support.js';
import { fullSessionsPolicy } from './support/session-host-driver.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const pwsh = join(repo, '.tools/pwsh/pwsh');
const hostScript = join(repo, 'broker/src/sessions/session-host.ps1');
const cli = join(repo, 'broker/src/cli.ts');
const isLinux = process.platform === 'linux';
const isRoot = process.getuid?.() === 0;
const inCi = process.env.CI === 'true';
/** Root-only tests run (and fail without root) in CI; elsewhere they are skipped with the reason. */
const needsRoot = (what: string) => (isRoot || inCi ? false : `needs root (${what}); npm test runs it as root in CI`);

const home = isLinux ? ownCgroupDirectory(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8')) : { unavailable: 'Linux only' };
const noCgroupV2 = typeof home === 'string' ? undefined : home.unavailable;
if (noCgroupV2 && isLinux && isRoot && inCi) throw new Error(`cgroup v2 tests cannot run in CI: ${noCgroupV2}`);
const cgroupHome = home as string;

const GONE_MS = 20_000;

const netnsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/net`);
const fdCount = () => readdirSync('/proc/self/fd').length;
const fdTarget = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`);
const namedNetns = (name: string) => `net:[${statSync(`/run/netns/${name}`).ino}]`;

function killQuietly(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** `sleep 1000` in the network namespace `netns`, once it is there (ip netns exec execs it in place). */
async function sleeperIn(netns: string): Promise<ChildProcess & { pid: number }> {
  const child = spawn('ip', ['netns', 'exec', netns, 'sleep', '1000'], { stdio: 'ignore' });
  assert.ok(child.pid, 'the sleeper started');
  const expected = namedNetns(netns);
  await until(() => {
    try {
      return netnsOf(child.pid!) === expected;
    } catch {
      return false;
    }
  }, `process ${child.pid} to enter ${netns}`);
  return child as ChildProcess & { pid: number };
}

/** Ends a child of this process and waits until it is reaped, so its pid is free for the next fork. */
async function killAndReap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * Hands `pid` (free by now) to a new process in a fresh network namespace, through ns_last_pid. Another
 * process on the host may fork first and take it: then the impostor has another pid and the caller tries
 * again. spawnSync blocks this process meanwhile, so no resolution step runs in between.
 */
function reusePid(pid: number): number {
  const script = `echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid
unshare --net sleep 120 </dev/null >/dev/null 2>&1 &
echo $!`;
  const run = spawnSync('bash', ['-c', script, 'reuse', String(pid)], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(run.status, 0, `steering the pid failed: ${run.stderr}`);
  return Number(run.stdout.trim());
}

describe('container targets found by pid: the pid is pinned while the namespaces are opened', { skip: !isLinux ? 'Linux only' : false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-pins-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a pid file whose process has exited', async () => {
    // A pid another process took meanwhile would be found; retried until this one stays free.
    for (let attempt = 0; ; attempt++) {
      const short = spawn('true', { stdio: 'ignore' });
      await once(short, 'exit');
      const pid = short.pid!;
      writeFileSync(join(dir, 'exited.pid'), `${pid}\n`);
      const resolving = resolveLinuxContainer('gone', { pidFile: join(dir, 'exited.pid') });
      const outcome = await resolving.then(
        (resolved) => ({ resolved }),
        (error: any) => ({ error }),
      );
      if ('resolved' in outcome) {
        outcome.resolved.release();
        if (attempt < 5 && existsSync(`/proc/${pid}`)) continue;
        assert.fail(`process ${pid} had exited, yet its pid file resolved`);
      }
      assert.equal(outcome.error.data.reason, 'ContainerNotFound');
      assert.equal(outcome.error.data.container, 'gone');
      assert.match(outcome.error.message, new RegExp(`process ${pid} is not running`));
      return;
    }
  });

  describe('with a real process in a real network namespace', { skip: needsRoot('ip netns, cgroups and ns_last_pid') || noCgroupV2 || false }, () => {
    const netns = `wh-pins-${process.pid}`;
    const cgroup = join(cgroupHome ?? '/', `wh-pins-test-${process.pid}`);
    const started: ChildProcess[] = [];
    const impostors: number[] = [];

    before(() => {
      execFileSync('ip', ['netns', 'add', netns]);
      mkdirSync(cgroup);
    });
    after(async () => {
      killQuietly(impostors);
      for (const child of started) await killAndReap(child);
      await until(() => readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim() === '', 'the test cgroup to empty');
      rmdirSync(cgroup);
      spawnSync('ip', ['netns', 'del', netns]);
    });

    async function containerProcess(): Promise<ChildProcess & { pid: number }> {
      const child = await sleeperIn(netns);
      started.push(child);
      writeFileSync(join(cgroup, 'cgroup.procs'), String(child.pid));
      writeFileSync(join(dir, 'box.pid'), `${child.pid}\n`);
      return child;
    }

    it('opens the namespaces of the process a pid file or a cgroup names', async () => {
      const box = await containerProcess();
      for (const ref of [{ pidFile: join(dir, 'box.pid') }, { cgroup }]) {
        const resolved = await resolveLinuxContainer('box', ref);
        try {
          const { net, uts, ipc } = resolved.namespaces!;
          assert.equal(fdTarget(net), namedNetns(netns), JSON.stringify(ref));
          assert.equal(fdTarget(uts!), readlinkSync(`/proc/${box.pid}/ns/uts`));
          assert.equal(fdTarget(ipc!), readlinkSync(`/proc/${box.pid}/ns/ipc`));
        } finally {
          resolved.release();
        }
      }
      await killAndReap(box);
    });

    /**
     * Resolves `ref` while `step` plays the race: the container's process is killed and its pid handed to an
     * impostor in another network namespace. Returns the impostor's pid and what the resolution did, or
     * undefined when another process took the pid first (the caller tries again).
     */
    async function race(step: 'afterPidRead' | 'afterPin', ref: (box: { pid: number }) => object) {
      const box = await containerProcess();
      let impostor = 0;
      const hooks = {
        [step]: async (pid: number) => {
          assert.equal(pid, box.pid);
          await killAndReap(box);
          impostor = reusePid(pid);
          impostors.push(impostor);
        },
      };
      const outcome = await resolveLinuxContainer('box', ref(box) as never, hooks).then(
        (resolved) => ({ resolved, error: undefined }),
        (error: any) => ({ resolved: undefined, error }),
      );
      if (outcome.error instanceof assert.AssertionError) throw outcome.error;
      if (impostor !== box.pid) {
        outcome.resolved?.release();
        killQuietly([impostor]);
        return undefined;
      }
      return { pid: box.pid, outcome };
    }

    async function raceUntilReused(step: 'afterPidRead' | 'afterPin', ref: (box: { pid: number }) => object) {
      for (let attempt = 1; attempt <= 8; attempt++) {
        const result = await race(step, ref);
        if (result) return result;
      }
      assert.fail('no pid could be reused in 8 attempts: other processes kept taking it');
    }

    it('refuses a pid file whose process exits, and whose pid is reused, after the pin and before the namespaces are opened', async () => {
      const { pid, outcome } = await raceUntilReused('afterPin', () => ({ pidFile: join(dir, 'box.pid') }));
      outcome.resolved?.release();
      assert.ok(alive(pid), `the pid ${pid} names a live process again: the impostor`);
      assert.notEqual(netnsOf(pid), namedNetns(netns), 'which is not in the container’s namespace');
      assert.ok(outcome.error, 'the resolution is refused');
      assert.equal(outcome.error.data.reason, 'ContainerNotFound');
      assert.equal(outcome.error.message, `container 'box' was not found: process ${pid} exited while its namespaces were being opened`);
    });

    it('refuses a cgroup whose process exits, and whose pid is reused outside it, between the read and the pin', async () => {
      const { pid, outcome } = await raceUntilReused('afterPidRead', () => ({ cgroup }));
      outcome.resolved?.release();
      assert.ok(alive(pid), `the pid ${pid} names a live process again: the impostor`);
      assert.ok(outcome.error, 'the resolution is refused');
      assert.equal(outcome.error.data.reason, 'ContainerNotFound');
      assert.equal(outcome.error.message, `container 'box' was not found: process ${pid} left ${cgroup} while its namespaces were being opened`);
    });

    it('closes every descriptor it opened when it refuses', async () => {
      const before = fdCount();
      const { outcome } = await raceUntilReused('afterPin', () => ({ pidFile: join(dir, 'box.pid') }));
      assert.ok(outcome.error);
      assert.equal(fdCount(), before, 'no namespace or pidfd descriptor is left open');
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// sessions.json: the cgroups of live session hosts, ended by the next broker after a crash.

const registryOf = (stateDir: string) => JSON.parse(readFileSync(join(stateDir, SESSION_REGISTRY_FILE), 'utf8')) as { version: number; cgroups: string[] };
const cgroupPathOf = (pid: number) => {
  const relative = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((line) => line.startsWith('0::'))?.slice(3) ?? '';
  return ownCgroupDirectory(readFileSync('/proc/self/mountinfo', 'utf8'), `0::${relative}`) as string;
};

/** A sleep that left its parent's session, in `cgroup`. */
async function setsidSleepIn(cgroup: string): Promise<number> {
  // Not detached: setsid forks when it already leads a group, and this pid must be the sleep's.
  const child = spawn('setsid', ['sleep', '1000'], { stdio: 'ignore' });
  child.unref();
  assert.ok(child.pid);
  writeFileSync(join(cgroup, 'cgroup.procs'), String(child.pid));
  return child.pid;
}

describe('session cgroups listed in sessions.json (cgroup v2)', { skip: !isLinux ? 'Linux only' : needsRoot('cgroup v2') || noCgroupV2 || false }, () => {
  let dir: string;
  const started: number[] = [];
  const made: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-session-registry-'));
  });
  after(async () => {
    killQuietly(started);
    for (const cgroup of made.reverse()) {
      if (!existsSync(cgroup)) continue;
      await until(() => readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim() === '', `${cgroup} to empty`);
      rmdirSync(cgroup);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function makeCgroup(path: string): string {
    mkdirSync(path, { recursive: true });
    made.push(path);
    return path;
  }

  it('lists a host’s cgroup from before it starts until the cgroup is removed', async () => {
    const stateDir = join(dir, 'listing');
    const sessions = linuxSessionHosts();
    assert.equal(sessions.restore(stateDir, () => {}), 0);
    assert.deepEqual(registryOf(stateDir).cgroups, []);
    const host = sessions.spawnHost({ executable: '/bin/sh', args: ['-c', 'read line; echo $$'], env: {}, cwd: stateDir });
    const [cgroup] = registryOf(stateDir).cgroups;
    assert.match(cgroup, new RegExp(`/${SESSION_CGROUP_PARENT}/s-[0-9a-z]+$`));
    assert.equal(cgroupPathOf(host.pid!), cgroup, 'the listed cgroup is the host’s');
    host.stdin!.end('\n');
    await once(host, 'exit');
    await until(() => !existsSync(cgroup), 'the host’s cgroup to be removed');
    await until(() => registryOf(stateDir).cgroups.length === 0, 'the cgroup to be unlisted');
  });

  it('does not start a host whose cgroup cannot be listed, and leaves no cgroup behind', async () => {
    const stateDir = join(dir, 'unwritable');
    const sessions = linuxSessionHosts();
    sessions.restore(stateDir, () => {});
    // The registry's temp file cannot be created where a directory of that name is.
    mkdirSync(join(stateDir, `${SESSION_REGISTRY_FILE}.${process.pid}.tmp`));
    const before = readdirOrEmpty(join(cgroupHome, SESSION_CGROUP_PARENT));
    assert.throws(() => sessions.spawnHost({ executable: '/bin/sh', args: ['-c', 'sleep 1000'], env: {}, cwd: stateDir }), /EISDIR/);
    assert.deepEqual(readdirOrEmpty(join(cgroupHome, SESSION_CGROUP_PARENT)), before, 'the cgroup made for it is removed');
    assert.deepEqual(sessions.registry.cgroups(), []);
  });

  it('at start, ends and removes the listed session cgroups and nothing else', async () => {
    const stateDir = join(dir, 'sweep');
    mkdirSync(stateDir, { recursive: true });
    const orphan = makeCgroup(join(cgroupHome, SESSION_CGROUP_PARENT, `s-pintest${process.pid.toString(36)}`));
    const orphanSleep = await setsidSleepIn(orphan);
    // A cgroup of the broker's home that is not a session's, and paths that only look like one: all left alone.
    const decoy = makeCgroup(join(cgroupHome, `wh-decoy-${process.pid}`));
    const decoySleep = await setsidSleepIn(decoy);
    makeCgroup(join(decoy, SESSION_CGROUP_PARENT));
    const nested = makeCgroup(join(decoy, SESSION_CGROUP_PARENT, 's-nested'));
    const nestedSleep = await setsidSleepIn(nested);
    started.push(orphanSleep, decoySleep, nestedSleep);
    const gone = join(cgroupHome, SESSION_CGROUP_PARENT, 's-alreadygone');
    const listed = [orphan, decoy, nested, `${join(cgroupHome, SESSION_CGROUP_PARENT)}/../wh-decoy-${process.pid}`, 'relative/s-x', gone, 42];
    writeFileSync(join(stateDir, SESSION_REGISTRY_FILE), JSON.stringify({ version: 1, cgroups: listed }));

    const notes: string[] = [];
    const sessions = linuxSessionHosts();
    assert.equal(sessions.restore(stateDir, (m) => notes.push(m)), 1, 'one cgroup was stopped');
    await until(() => !alive(orphanSleep), 'the process in the listed session cgroup to be killed', GONE_MS);
    await until(() => !existsSync(orphan), 'the orphaned cgroup to be removed', GONE_MS);
    await until(() => registryOf(stateDir).cgroups.length === 0, 'the registry to be empty');
    assert.ok(alive(decoySleep), 'a listed cgroup that is not a session cgroup of this broker is left alone');
    assert.ok(alive(nestedSleep), 'so is one that only has the shape of one, elsewhere');
    assert.ok(existsSync(decoy) && existsSync(nested));
    for (const refused of [decoy, nested, 'relative/s-x', '42']) assert.ok(notes.some((n) => n.includes(refused) && n.includes('left alone')), `${refused} is reported: ${notes.join('\n')}`);
  });
});

function readdirOrEmpty(path: string): string[] {
  try {
    return readdirSync(path).filter((name) => name.startsWith('s-')).sort();
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------------------
// The real thing: a broker process SIGKILLed with a session open, and the next one on its state directory.

const realMissing = !existsSync(pwsh) ? `${pwsh} is missing` : !existsSync(hostScript) ? `${hostScript} is missing` : undefined;
if (realMissing && isLinux && inCi) throw new Error(`the broker crash test cannot run in CI: ${realMissing}`);

/** A session's pwsh starts in seconds on a quiet machine; this machine is shared. */
const START_MS = 90_000;

function serve(dir: string, socket: string): ChildProcess {
  const broker = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', '--policy', join(dir, 'policy.yaml'), '--listen', socket, '--state-dir', join(dir, 'state'), '--audit', '-'], {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  broker.stderr!.on('data', (chunk) => (stderr += chunk));
  (broker as ChildProcess & { stderrText: () => string }).stderrText = () => stderr;
  return broker;
}

async function connectWhenListening(socket: string, broker: ChildProcess) {
  const stderrText = () => (broker as ChildProcess & { stderrText?: () => string }).stderrText?.() ?? '';
  await until(() => existsSync(socket) || broker.exitCode !== null, 'the broker to listen', 60_000);
  assert.equal(broker.exitCode, null, `the broker exited: ${stderrText()}`);
  return connectPeer(socket);
}

describe('a broker SIGKILLed with a session open', { skip: !isLinux ? 'Linux only' : realMissing ?? (needsRoot('cgroup v2') || noCgroupV2 || false) }, () => {
  let dir: string;
  const brokers: ChildProcess[] = [];
  const started: number[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-broker-crash-'));
    writeFileSync(join(dir, 'policy.yaml'), fullSessionsPolicy());
  });
  after(async () => {
    killQuietly(started);
    for (const broker of brokers) await killAndReap(broker);
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves what the session started to the next broker on the state directory, which ends it before serving', async () => {
    const first = serve(dir, join(dir, 'first.sock'));
    brokers.push(first);
    const caller = await connectWhenListening(join(dir, 'first.sock'), first);
    const opened = await caller.call('session/new', {}, START_MS);
    assert.equal(opened.error, undefined, JSON.stringify(opened.error));
    const invoked = await caller.call('session/invoke', { sessionId: opened.result.Id, script: `sh -c 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!'` }, 60_000);
    assert.equal(invoked.error, undefined, JSON.stringify(invoked.error));
    const printed = caller.peer.takeNotifications('session/output').map((n) => /<(?:S|I32)>(\d+)<\/(?:S|I32)>/.exec(n.clixml as string)?.[1]).find(Boolean);
    const escaped = Number(printed);
    assert.ok(escaped > 1 && alive(escaped), `the setsid sleep runs (${printed})`);
    started.push(escaped);
    const cgroup = cgroupPathOf(escaped);
    assert.deepEqual(registryOf(join(dir, 'state')).cgroups, [cgroup], 'its cgroup is listed');

    caller.peer.close();
    await killAndReap(first);
    // The host sees its stdin close and exits; nobody is left to end what it started.
    await until(() => !alive(opened.result.ProcessId), 'the orphaned session host to exit');
    await sleep(200);
    assert.ok(alive(escaped), 'the setsid sleep outlives the broker and its host');
    assert.ok(existsSync(cgroup));

    const second = serve(dir, join(dir, 'second.sock'));
    brokers.push(second);
    const next = await connectWhenListening(join(dir, 'second.sock'), second);
    next.peer.close();
    await until(() => !alive(escaped), 'the setsid sleep to be ended by the next broker', GONE_MS);
    await until(() => !existsSync(cgroup), 'its cgroup to be removed', GONE_MS);
    await until(() => registryOf(join(dir, 'state')).cgroups.length === 0, 'the registry to be empty', GONE_MS);
    assert.match((second as ChildProcess & { stderrText: () => string }).stderrText(), /previous run: ended what 1 session host\(s\) left behind/);
  });
});
