import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, fstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../typings/index.js';
import { findPwsh, linuxSessions, PWSH_FALLBACK, resolveLinuxContainer, sessionHostCommand, sessionHostEnvironment } from '../../broker/src/platform/linux/sessions.js';
import { alive, connectPeer, fakePlatform, RawPeer, sleep, startTestBroker, until, type TestBroker } from './support.js';
import { fakeSessions, type FakeSessions } from './support/fake-sessions.js';

/** The text of the fake host's `<S>` object. */
const textOf = (clixml: unknown) => /<S>(.*)<\/S>/s.exec(clixml as string)![1].replace(/&lt;/g, '<').replace(/&amp;/g, '&');



describe('host sessions through a live broker (fake session host)', () => {
  let dir: string;
  let broker: TestBroker;
  let sessions: FakeSessions;
  let main: Awaited<ReturnType<typeof connectPeer>>;

  const policy = (d: string) => `listeners:
  - name: main
    profiles: [ops]
  - name: quick
    path: ${d}/quick.sock
    profiles: [quick]
    idleTimeoutSeconds: 1
  - name: limited
    path: ${d}/limited.sock
    profiles: [limited]
  - name: plain
    path: ${d}/plain.sock
    profiles: [plain]
  - name: badcmd
    path: ${d}/badcmd.sock
    profiles: [badcmd]
profiles:
  ops:
    sessions:
      languageMode: ConstrainedLanguage
      commands: [Get-Service, { name: Restart-Service, parameters: [{ name: Name, validateSet: [Spooler] }] }]
      providers: [FileSystem]
      targets: [host, box, gone]
      maxDepth: 3
  quick:
    sessions:
      idleTimeoutSeconds: 2
      invocationTimeoutSeconds: 1
  limited:
    sessions: {}
    limits: { sessions: 2 }
  plain:
    host: { read: true }
  badcmd:
    sessions: { commands: [No-SuchCommand] }
containers:
  box: { netns: boxns }
  gone: { netns: missing }
sessionHost:
  warm: 1
  environment: { FAKE_GREETING: hello }
`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-sessions-'));
    sessions = fakeSessions();
    broker = await startTestBroker({ policyYaml: policy(dir), platform: { ...fakePlatform(), sessions }, maxMessageBytes: 64 * 1024, dir: join(dir, 'state') });
    main = await connectPeer(broker.path);
  });
  after(async () => {
    main.peer.close();
    const children = sessions.spawns.map((s) => s.child.pid!);
    await broker.stop();
    // Broker shutdown ends every session and warm host.
    await until(() => children.every((pid) => !alive(pid)), 'every session host to end at shutdown');
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens a session on a warm host, lists, invokes and removes it', async () => {
    await until(() => sessions.spawns.length >= 1, 'the warm host');
    const warmPid = sessions.spawns[0].child.pid;
    assert.equal(sessions.spawns[0].spec.env.FAKE_GREETING, 'hello');
    assert.equal(sessions.spawns[0].spec.env.DOTNET_TC_QuickJit, '0', 'hosts start with quick JIT off');
    assert.equal(sessions.spawns[0].spec.container, undefined);
    const { result: session } = await main.call('session/new', {});
    assert.match(session.Id, /^s-[0-9a-f]{8}$/);
    assert.equal(session.Name, 'Session1');
    assert.equal(session.Target, 'host');
    assert.equal(session.State, 'Opened');
    assert.equal(session.LanguageMode, 'ConstrainedLanguage');
    assert.equal(session.Location, '/');
    assert.equal(session.PSVersion, '7.9.9-fake');
    assert.equal(session.ProcessId, warmPid, 'the warm host serves the first session');
    assert.equal(session.IdleTimeoutSeconds, 900);
    assert.equal(session.Rule, 'profiles.ops.sessions');
    await until(() => sessions.spawns.length >= 2, 'the pool to be refilled');

    const { result: listed } = await main.call('session/list', {});
    assert.deepEqual(
      listed.sessions.map((s: any) => [s.Id, s.State]),
      [[session.Id, 'Opened']],
    );

    const { result } = await main.call('session/invoke', { sessionId: session.Id, script: 'emit 3' });
    assert.equal(result.state, 'Completed');
    assert.equal(result.outputCount, 3);
    assert.equal(result.timedOut, false);
    assert.equal(result.error, null);
    assert.equal(result.location, '/');
    const outputs = main.peer.takeNotifications('session/output');
    assert.deepEqual(
      outputs.map((n) => [n.sessionId, n.invocationId, n.stream, /<I32>(\d)<\/I32>/.exec(n.clixml as string)?.[1]]),
      [1, 2, 3].map((i) => [session.Id, result.invocationId, 'output', String(i)]),
    );

    const { result: removed } = await main.call('session/remove', { sessionId: session.Id });
    assert.equal(removed.Id, session.Id);
    assert.deepEqual((await main.call('session/list', {})).result.sessions, []);
    await until(() => !alive(warmPid!), 'the removed session host to exit');
  });

  it('sends the grant to the host as its open config, and the invocation as data', async () => {
    const { result: session } = await main.call('session/new', { name: 'cfg' });
    await main.call('session/invoke', { sessionId: session.Id, script: 'config' });
    const [config] = main.peer.takeNotifications('session/output');
    const sent = JSON.parse(textOf(config.clixml));
    assert.deepEqual(sent, {
      languageMode: 'ConstrainedLanguage',
      commands: ['Get-Service', { name: 'Restart-Service', parameters: [{ name: 'Name', validateSet: ['Spooler'] }] }],
      modules: [],
      providers: ['FileSystem'],
      programs: [],
      maxObjectBytes: 16 * 1024,
    });
    await main.call('session/invoke', { sessionId: session.Id, script: 'args', arguments: '<Objs/>', input: '<Objs><S>in</S></Objs>', depth: 3 });
    const [echo] = main.peer.takeNotifications('session/output');
    assert.deepEqual(JSON.parse(textOf(echo.clixml)), { arguments: '<Objs/>', input: '<Objs><S>in</S></Objs>', depth: 3 });
    await main.call('session/invoke', { sessionId: session.Id, script: 'args' });
    const [defaults] = main.peer.takeNotifications('session/output');
    assert.deepEqual(JSON.parse(textOf(defaults.clixml)), { arguments: null, input: null, depth: 1 });
    await main.call('session/remove', { sessionId: session.Id });
  });

  it('keeps the order of records across streams and reports Failed invocations', async () => {
    const { result: session } = await main.call('session/new', {});
    const { result } = await main.call('session/invoke', { sessionId: session.Id, script: 'streams' });
    assert.equal(result.outputCount, 1);
    assert.deepEqual(
      main.peer.takeNotifications('session/output').map((n) => n.stream),
      ['output', 'warning', 'verbose', 'error', 'information'],
    );
    const { result: failed } = await main.call('session/invoke', { sessionId: session.Id, script: 'fail' });
    assert.equal(failed.state, 'Failed');
    assert.match(failed.error, /WinsHost\.FakeFailure/);
    await main.call('session/remove', { sessionId: session.Id });
  });

  it('names sessions Session<N> and refuses a name in use', async () => {
    const first = (await main.call('session/new', { name: 'web' })).result;
    const conflict = await main.call('session/new', { name: 'WEB' });
    assert.equal(conflict.error.code, ErrorCodes.Conflict);
    assert.equal(conflict.error.data.reason, 'SessionNameInUse');
    // Another connection has its own names.
    const other = await connectPeer(broker.path);
    const second = (await other.call('session/new', { name: 'web' })).result;
    assert.equal(second.Name, 'web');
    const defaulted = (await other.call('session/new', {})).result;
    assert.match(defaulted.Name, /^Session\d+$/);
    other.peer.close();
    await main.call('session/remove', { sessionId: first.Id });
    await until(() => !alive(second.ProcessId) && !alive(defaulted.ProcessId), 'the other connection’s sessions to end with it');
  });

  it('treats an unknown id and another connection’s id alike: SessionNotFound', async () => {
    const other = await connectPeer(broker.path);
    const theirs = (await other.call('session/new', {})).result;
    for (const [method, params] of [
      ['session/invoke', { sessionId: theirs.Id, script: 'emit 1' }],
      ['session/remove', { sessionId: theirs.Id }],
      ['session/remove', { sessionId: 's-00000000' }],
    ] as const) {
      const { error } = await main.call(method, params);
      assert.equal(error.code, ErrorCodes.NotFound, method);
      assert.equal(error.data.reason, 'SessionNotFound');
    }
    assert.deepEqual((await main.call('session/list', {})).result.sessions, []);
    assert.equal((await other.call('session/list', {})).result.sessions.length, 1);
    await other.call('session/remove', { sessionId: theirs.Id });
    other.peer.close();
  });

  it('checks targets against the grant and containers against the policy', async () => {
    const denied = await main.call('session/new', { target: 'elsewhere' });
    assert.equal(denied.error.code, ErrorCodes.PolicyDenied);
    assert.equal(denied.error.data.reason, 'TargetNotAllowed');
    assert.equal(denied.error.data.rule, 'profiles.ops.sessions.targets');
    const deniedTemporary = await main.call('session/invoke', { target: 'elsewhere', script: 'emit 1' });
    assert.equal(deniedTemporary.error.data.reason, 'TargetNotAllowed');

    const gone = await main.call('session/new', { target: 'gone' });
    assert.equal(gone.error.code, ErrorCodes.NotFound);
    assert.equal(gone.error.data.reason, 'ContainerNotFound');

    const spawned = sessions.spawns.length;
    const { result: boxed } = await main.call('session/new', { target: 'box' });
    assert.equal(boxed.Target, 'box');
    const spawn = sessions.spawns.slice(spawned).find((s) => s.child.pid === boxed.ProcessId);
    assert.equal(spawn?.spec.container?.name, 'box', 'container sessions get a host of their own, not a warm one');
    await main.call('session/remove', { sessionId: boxed.Id });
  });

  it('passes the host’s open failure on with its reason and message', async () => {
    const bad = await connectPeer(join(dir, 'badcmd.sock'));
    const { error } = await bad.call('session/new', {});
    assert.equal(error.code, ErrorCodes.HostOperationFailed);
    assert.equal(error.data.reason, 'CommandNotFound');
    assert.match(error.message, /No-SuchCommand/);
    assert.deepEqual((await bad.call('session/list', {})).result.sessions, []);
    bad.peer.close();
  });

  it('denies all four methods to a profile without sessions', async () => {
    const plain = await connectPeer(join(dir, 'plain.sock'));
    for (const [method, params] of [
      ['session/new', {}],
      ['session/list', {}],
      ['session/remove', { sessionId: 's-00000000' }],
      ['session/invoke', { script: 'emit 1' }],
    ] as const) {
      const { error } = await plain.call(method, params);
      assert.equal(error.code, ErrorCodes.PolicyDenied, method);
      assert.equal(error.data.rule, 'profiles.plain.sessions');
    }
    plain.peer.close();
  });

  it('checks params strictly and depth against maxDepth', async () => {
    const unknown = await main.call('session/new', { name: 'x', colour: 'red' });
    assert.equal(unknown.error.code, ErrorCodes.InvalidParams);
    assert.equal(unknown.error.data.field, 'colour');
    const control = await main.call('session/new', { name: 'a\nb' });
    assert.equal(control.error.data.field, 'name');
    const tooDeep = await main.call('session/invoke', { script: 'emit 1', depth: 4 });
    assert.equal(tooDeep.error.code, ErrorCodes.InvalidParams);
    assert.equal(tooDeep.error.data.field, 'depth');
    assert.equal(tooDeep.error.data.reason, 'DepthTooLarge');
    const { result: session } = await main.call('session/new', {});
    const both = await main.call('session/invoke', { sessionId: session.Id, target: 'host', script: 'emit 1' });
    assert.equal(both.error.data.field, 'target');
    await main.call('session/remove', { sessionId: session.Id });
  });

  it('runs a temporary session around an invocation without a session id', async () => {
    const spawned = sessions.spawns.length;
    const { result } = await main.call('session/invoke', { script: 'emit 2' });
    assert.equal(result.outputCount, 2);
    assert.match(result.sessionId, /^s-/);
    assert.equal(main.peer.takeNotifications('session/output').length, 2);
    assert.deepEqual((await main.call('session/list', {})).result.sessions, []);
    // It took the warm host (which is then replaced) and that host ends.
    await until(() => sessions.spawns.length > spawned, 'the pool to be refilled');
    const used = sessions.spawns.slice(0, spawned).map((s) => s.child.pid!);
    await until(() => used.filter((pid) => alive(pid)).length <= 1, 'the temporary session host to exit');
  });

  it('survives a caller that goes away while its invocation is still streaming (found by the fuzzer)', async () => {
    // The caller stops reading, so the broker holds the host's output back; then the broker drops the
    // connection for a framing violation, which releases the held output towards a connection that is gone.
    const leaving = await connectPeer(broker.path);
    const progress = join(dir, 'progress-leaving');
    leaving.peer.socket.pause();
    leaving.peer.send({ jsonrpc: '2.0', id: 'stream', method: 'session/invoke', params: { script: `big 2000 16384 ${progress}` } });
    await until(() => existsSync(progress), 'the host to start producing');
    await sleep(500);
    leaving.peer.write('Content-Length: abc\r\n\r\n');
    leaving.peer.socket.resume();
    await sleep(1000);
    const { result } = await main.call('session/invoke', { script: 'emit 1' });
    assert.equal(result.outputCount, 1);
    main.peer.takeNotifications('session/output');
    leaving.peer.close();
  });

  it('refuses a second invocation while one runs: SessionBusy', async () => {
    const { result: session } = await main.call('session/new', {});
    main.peer.send({ jsonrpc: '2.0', id: 'busy-1', method: 'session/invoke', params: { sessionId: session.Id, script: 'sleep' } });
    await sleep(200);
    const listed = (await main.call('session/list', {})).result.sessions;
    assert.equal(listed[0].State, 'Busy');
    const busy = await main.call('session/invoke', { sessionId: session.Id, script: 'emit 1' });
    assert.equal(busy.error.code, ErrorCodes.Conflict);
    assert.equal(busy.error.data.reason, 'SessionBusy');
    main.peer.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'busy-1' } });
    const cancelled = await main.peer.response('busy-1');
    assert.equal(cancelled.error.code, ErrorCodes.RequestCancelled);
    assert.equal(cancelled.error.data.reason, 'Cancelled');
    // The pipeline stopped, the session lives on.
    const after = await main.call('session/invoke', { sessionId: session.Id, script: 'emit 1' });
    assert.equal(after.result.state, 'Completed');
    assert.equal((await main.call('session/list', {})).result.sessions[0].State, 'Opened');
    await main.call('session/remove', { sessionId: session.Id });
  });

  it('stops an invocation at its timeout, the smaller of the caller’s and the profile’s', async () => {
    const { result: session } = await main.call('session/new', {});
    const { result } = await main.call('session/invoke', { sessionId: session.Id, script: 'sleep', timeoutSeconds: 1 });
    assert.equal(result.state, 'Stopped');
    assert.equal(result.timedOut, true);
    assert.equal((await main.call('session/invoke', { sessionId: session.Id, script: 'emit 1' })).result.state, 'Completed');
    await main.call('session/remove', { sessionId: session.Id });

    const quick = await connectPeer(join(dir, 'quick.sock'));
    const capped = await quick.call('session/invoke', { script: 'sleep', timeoutSeconds: 3600 });
    assert.equal(capped.result.state, 'Stopped');
    assert.equal(capped.result.timedOut, true);
    quick.peer.close();
  });

  it('kills a host that does not stop when cancelled, and lists the session as Broken', async () => {
    const { result: session } = await main.call('session/new', {});
    main.peer.send({ jsonrpc: '2.0', id: 'stubborn', method: 'session/invoke', params: { sessionId: session.Id, script: 'sleep-ignore-stop' } });
    await sleep(200);
    main.peer.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'stubborn' } });
    const cancelled = await main.peer.response('stubborn', 20_000);
    assert.equal(cancelled.error.code, ErrorCodes.RequestCancelled);
    await until(() => !alive(session.ProcessId), 'the stubborn host to be killed');
    const [listed] = (await main.call('session/list', {})).result.sessions;
    assert.equal(listed.State, 'Broken');
    const again = await main.call('session/invoke', { sessionId: session.Id, script: 'emit 1' });
    assert.equal(again.error.code, ErrorCodes.HostOperationFailed);
    assert.equal(again.error.data.reason, 'SessionBroken');
    await main.call('session/remove', { sessionId: session.Id });
  });

  it('reports a host that exits mid-invocation as SessionHostExited and the session as Broken', async () => {
    main.peer.takeNotifications('session/output');
    const { result: session } = await main.call('session/new', {});
    const crashed = await main.call('session/invoke', { sessionId: session.Id, script: 'crash' });
    assert.equal(crashed.error.code, ErrorCodes.HostOperationFailed);
    assert.equal(crashed.error.data.reason, 'SessionHostExited');
    assert.match(crashed.error.message, /exit code 7/);
    assert.equal(main.peer.takeNotifications('session/output').length, 1, 'what came before the crash was sent');
    assert.equal((await main.call('session/list', {})).result.sessions[0].State, 'Broken');
    assert.equal((await main.call('session/remove', { sessionId: session.Id })).result.Id, session.Id);
    assert.deepEqual((await main.call('session/list', {})).result.sessions, []);
  });

  it('kills a host that writes a line over the limit, and survives garbage from a host', async () => {
    const { result: session } = await main.call('session/new', {});
    const garbage = await main.call('session/invoke', { sessionId: session.Id, script: 'garbage' });
    assert.equal(garbage.result.outputCount, 1);
    assert.deepEqual(
      main.peer.takeNotifications('session/output').map((n) => n.clixml),
      ['<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S>survived</S></Objs>'],
    );
    const refused = await main.call('session/invoke', { sessionId: session.Id, script: 'refuse' });
    assert.equal(refused.error.data.reason, 'SessionHostProtocolError');
    // maxMessageBytes is 64 KiB here, so a host line may be 128 KiB.
    const long = await main.call('session/invoke', { sessionId: session.Id, script: 'longline 200000' });
    assert.equal(long.error.code, ErrorCodes.HostOperationFailed);
    assert.equal(long.error.data.reason, 'SessionHostExited');
    assert.match(long.error.message, /longer than 131072 bytes/);
    assert.equal((await main.call('session/list', {})).result.sessions[0].State, 'Broken');
    await main.call('session/remove', { sessionId: session.Id });
  });

  it('counts sessions per profile across its callers: SessionLimit', async () => {
    const a = await connectPeer(join(dir, 'limited.sock'));
    const b = await connectPeer(join(dir, 'limited.sock'));
    const first = (await a.call('session/new', {})).result;
    const second = (await b.call('session/new', {})).result;
    const third = await a.call('session/new', {});
    assert.equal(third.error.code, ErrorCodes.LimitExceeded);
    assert.equal(third.error.data.reason, 'SessionLimit');
    assert.equal(third.error.data.rule, 'profiles.limited.limits.sessions');
    assert.equal(third.error.data.limit, 2);
    const temporary = await b.call('session/invoke', { script: 'emit 1' });
    assert.equal(temporary.error.data.reason, 'SessionLimit', 'a temporary session counts too');
    await a.call('session/remove', { sessionId: first.Id });
    assert.equal((await b.call('session/invoke', { script: 'emit 1' })).result.state, 'Completed');
    a.peer.close();
    b.peer.close();
    await until(() => !alive(second.ProcessId), 'the sessions of a closed connection to end');
  });

  it('pauses the host while the caller does not read, and delivers everything once it does', async () => {
    const reader = await connectPeer(broker.path);
    const { result: session } = await reader.call('session/new', {});
    const progress = join(dir, 'progress');
    const count = 2000;
    const size = 16 * 1024;
    reader.peer.socket.pause();
    reader.peer.send({ jsonrpc: '2.0', id: 'big', method: 'session/invoke', params: { sessionId: session.Id, script: `big ${count} ${size} ${progress}` } });
    await until(() => existsSync(progress), 'the host to start producing');
    await sleep(1500);
    const produced = Number(readFileSync(progress, 'utf8'));
    assert.ok(produced < count / 4, `the host produced ${produced} of ${count} objects (${(produced * size) >> 20} MiB) although nobody read`);
    reader.peer.socket.resume();
    const done = await reader.peer.response('big', 60_000);
    assert.equal(done.result.outputCount, count);
    assert.equal(reader.peer.takeNotifications('session/output').length, count);
    await reader.call('session/remove', { sessionId: session.Id });
    reader.peer.close();
  });

  it('keeps a connection with a session open past the listener idle timeout, and closes an idle session on its own clock', async () => {
    const quick = await connectPeer(join(dir, 'quick.sock'));
    const { result: session } = await quick.call('session/new', {});
    assert.equal(session.IdleTimeoutSeconds, 2);
    // The listener closes idle connections after 1 s; the session (idle after 2 s) keeps this one.
    await sleep(1500);
    assert.equal(quick.peer.closed, false);
    await until(() => !alive(session.ProcessId), 'the idle session host to be closed', 10_000);
    await quick.peer.closedByBroker();
    const entries = await broker.auditEntries();
    const idle = entries.find((e) => e.method === '<idle>' && e.reason === 'SessionIdleTimeout');
    assert.ok(idle, 'the idle session is audited');
    assert.equal(idle.rule, 'profiles.quick.sessions.idleTimeoutSeconds');
    assert.equal(idle.profile, 'quick');
    assert.equal(idle.listener, 'quick');
    assert.equal(idle.peer.pid, process.pid);
  });
});

describe('the warm session host pool', () => {
  const policy = (environment: string, warm = 1, grant = 'sessions: {}') => `listeners:
  - name: main
    profiles: [p]
profiles:
  p:
    ${grant}
sessionHost:
  warm: ${warm}
  environment: { ${environment} }
`;

  it('is not started when no profile grants sessions', async () => {
    const sessions = fakeSessions();
    const broker = await startTestBroker({ policyYaml: policy('', 2, 'host: { read: true }'), platform: { ...fakePlatform(), sessions } });
    await sleep(300);
    assert.equal(sessions.spawns.length, 0);
    await broker.stop();
  });

  it('starts sessionHost.warm hosts', async () => {
    const sessions = fakeSessions();
    const broker = await startTestBroker({ policyYaml: policy('', 2), platform: { ...fakePlatform(), sessions } });
    await until(() => sessions.spawns.length === 2, 'two warm hosts');
    await sleep(300);
    assert.equal(sessions.spawns.length, 2);
    const pids = sessions.spawns.map((s) => s.child.pid!);
    await broker.stop();
    assert.ok(pids.every((pid) => !alive(pid)), 'shutdown ends warm hosts');
  });

  it('replaces hosts that die while warm with back-off, not in a tight loop', async () => {
    const sessions = fakeSessions();
    const log: string[] = [];
    const broker = await startTestBroker({ policyYaml: policy('FAKE_HOST_MODE: die-after-ready'), platform: { ...fakePlatform(), sessions }, log: (m) => log.push(m) });
    await sleep(3000);
    // Each fake dies 0.1 s after ready; without back-off there would be dozens by now.
    assert.ok(sessions.spawns.length >= 2 && sessions.spawns.length <= 5, `${sessions.spawns.length} hosts started in 3 s`);
    assert.ok(log.some((m) => /warm session host: it ended while waiting .* starting another in/.test(m)), log.join('\n'));
    await broker.stop();
  });

  it('lets sessionHost.environment override the runtime settings the broker starts hosts with', async () => {
    const sessions = fakeSessions();
    const broker = await startTestBroker({ policyYaml: policy("DOTNET_TC_QuickJit: '1'"), platform: { ...fakePlatform(), sessions } });
    await until(() => sessions.spawns.length === 1, 'the warm host');
    assert.equal(sessions.spawns[0].spec.env.DOTNET_TC_QuickJit, '1');
    await broker.stop();
  });

  it('reports a host that fails to start as SessionHostStartFailed with its stderr', async () => {
    const sessions = fakeSessions();
    const broker = await startTestBroker({ policyYaml: policy('FAKE_HOST_MODE: exit-before-ready', 0), platform: { ...fakePlatform(), sessions } });
    const { call, peer } = await connectPeer(broker.path);
    const { error } = await call('session/new', {});
    assert.equal(error.code, ErrorCodes.HostOperationFailed);
    assert.equal(error.data.reason, 'SessionHostStartFailed');
    assert.match(error.message, /exit code 3.*cannot load System\.Management\.Automation/s);
    assert.deepEqual((await call('session/list', {})).result.sessions, []);
    peer.close();
    await broker.stop();
  });

  it('reports a missing PowerShell executable as PowerShellNotFound', async () => {
    const broker = await startTestBroker({
      policyYaml: `listeners:\n  - name: main\n    profiles: [p]\nprofiles:\n  p:\n    sessions: {}\nsessionHost:\n  warm: 0\n  executable: /nonexistent/pwsh\n`,
      platform: { ...fakePlatform(), sessions: linuxSessions },
    });
    const { call, peer } = await connectPeer(broker.path);
    const { error } = await call('session/new', {});
    assert.equal(error.code, ErrorCodes.HostOperationFailed);
    assert.equal(error.data.reason, 'PowerShellNotFound');
    peer.close();
    await broker.stop();
  });
});

describe('the Linux session host platform', () => {
  it('runs pwsh directly for the host, through nsenter with the namespaces as fds 3-5 for a container', () => {
    const base = { executable: '/usr/bin/pwsh', args: ['-File', '/x/session-host.ps1'], env: {}, cwd: '/var/lib/winshost' };
    assert.deepEqual(sessionHostCommand(base), { file: '/usr/bin/pwsh', args: ['-File', '/x/session-host.ps1'], fds: [] });
    const all = { name: 'c', namespaces: { net: 21, uts: 22, ipc: 23 }, openConfig: {}, release() {} };
    assert.deepEqual(sessionHostCommand({ ...base, container: all }), {
      file: 'nsenter',
      args: ['--net=/proc/self/fd/3', '--uts=/proc/self/fd/4', '--ipc=/proc/self/fd/5', '--', '/usr/bin/pwsh', '-File', '/x/session-host.ps1'],
      fds: [21, 22, 23],
    });
    const netOnly = { name: 'n', namespaces: { net: 30 }, openConfig: {}, release() {} };
    assert.deepEqual(sessionHostCommand({ ...base, container: netOnly }).args.slice(0, 2), ['--net=/proc/self/fd/3', '--']);
  });

  it('gives the host PATH, HOME, LANG, DOTNET_* and TERM=dumb, then the policy’s variables, and nothing else', () => {
    const env = sessionHostEnvironment(
      { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'en_US.UTF-8', DOTNET_ROOT: '/opt/dotnet', DOTNET_gcServer: '0', AWS_SECRET_ACCESS_KEY: 'x', NODE_OPTIONS: '--inspect' },
      { PSModulePath: '/opt/modules' },
    );
    assert.deepEqual(env, { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'en_US.UTF-8', TERM: 'dumb', DOTNET_ROOT: '/opt/dotnet', DOTNET_gcServer: '0', PSModulePath: '/opt/modules' });
  });

  it('finds pwsh on PATH, then at the package location', () => {
    assert.equal(findPwsh('relative:/a:/b', (p) => p === '/b/pwsh' || p === 'relative/pwsh'), '/b/pwsh');
    assert.equal(findPwsh('/a', (p) => p === PWSH_FALLBACK), PWSH_FALLBACK);
    assert.equal(findPwsh(undefined, () => false), undefined);
  });

  it('finds a container by pid file or cgroup and opens its net, uts and ipc namespaces', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-containers-'));
    try {
      writeFileSync(join(dir, 'app.pid'), `${process.pid}\n`);
      writeFileSync(join(dir, 'cgroup.procs'), `\n${process.pid}\n1\n`);
      for (const ref of [{ pidFile: join(dir, 'app.pid') }, { cgroup: dir }]) {
        const resolved = await resolveLinuxContainer('app', ref);
        const { net, uts, ipc } = resolved.namespaces!;
        assert.equal(readlinkSync(`/proc/self/fd/${net}`), readlinkSync('/proc/self/ns/net'));
        assert.equal(readlinkSync(`/proc/self/fd/${uts!}`), readlinkSync('/proc/self/ns/uts'));
        assert.equal(readlinkSync(`/proc/self/fd/${ipc!}`), readlinkSync('/proc/self/ns/ipc'));
        resolved.release();
        assert.throws(() => fstatSync(net), /EBADF/);
      }
      writeFileSync(join(dir, 'stale.pid'), '999999999');
      writeFileSync(join(dir, 'empty.pid'), '');
      for (const ref of [{ pidFile: join(dir, 'stale.pid') }, { pidFile: join(dir, 'empty.pid') }, { pidFile: join(dir, 'none.pid') }, { netns: `winshost-no-such-${process.pid}` }]) {
        await assert.rejects(resolveLinuxContainer('app', ref), (e: any) => e.data.reason === 'ContainerNotFound' && e.data.container === 'app', JSON.stringify(ref));
      }
      await assert.rejects(resolveLinuxContainer('win', { containerId: '3f9c2a1b' }), (e: any) => e.data.reason === 'NotSupported');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// The real session host (broker/src/sessions/session-host.ps1) under the real Linux platform.

const repo = fileURLToPath(new URL('../../', import.meta.url));
const pwsh = join(repo, '.tools/pwsh/pwsh');
const hostScript = join(repo, 'broker/src/sessions/session-host.ps1');
const ci = process.env.CI === 'true';
const realMissing = !existsSync(pwsh) ? `${pwsh} is missing` : !existsSync(hostScript) ? `${hostScript} is missing` : undefined;
if (realMissing && ci) throw new Error(`real session host tests cannot run in CI: ${realMissing}`);
const isRoot = process.getuid?.() === 0;
if (!isRoot && ci) throw new Error('the container session test needs root in CI');

const clixmlOf = (n: Record<string, unknown>) => n.clixml as string;

describe('host sessions with the real session host', { skip: realMissing ? `skipped: ${realMissing}` : false }, () => {
  let dir: string;
  let broker: TestBroker;
  let peer: RawPeer;
  let call: Awaited<ReturnType<typeof connectPeer>>['call'];
  const netns = `wh-sess-${process.pid}`;
  const boxAddress = '10.251.77.1';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-real-sessions-'));
    if (isRoot) {
      execFileSync('ip', ['netns', 'add', netns]);
      // The namespace's own loopback carries its address: no device outside it to clean up.
      execFileSync('ip', ['-n', netns, 'addr', 'add', `${boxAddress}/32`, 'dev', 'lo']);
      execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    }
    broker = await startTestBroker({
      policyYaml: `listeners:
  - name: main
    profiles: [full]
  - name: restricted
    path: ${dir}/restricted.sock
    profiles: [restricted]
profiles:
  full:
    sessions:
      languageMode: FullLanguage
      commands: ['*']
      targets: [host${isRoot ? ', box' : ''}]
      idleTimeoutSeconds: 3
  restricted:
    sessions:
      languageMode: NoLanguage
      commands: [Get-Date]
${isRoot ? `containers:\n  box: { netns: ${netns} }\n` : ''}sessionHost:
  executable: ${pwsh}
  warm: 1
`,
      platform: { ...fakePlatform(), sessions: linuxSessions },
      dir: join(dir, 'state'),
    });
    ({ peer, call } = await connectPeer(broker.path));
  });
  after(async () => {
    peer?.close();
    await broker?.stop();
    if (isRoot) spawnSync('ip', ['netns', 'del', netns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens, lists, invokes { 1 } and removes a session', async () => {
    const { result: session, error } = await call('session/new', { name: 'real' }, 60_000);
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(session.LanguageMode, 'FullLanguage');
    assert.match(session.PSVersion, /^7\./);
    assert.ok(alive(session.ProcessId));
    assert.equal((await call('session/list', {})).result.sessions[0].Id, session.Id);
    const { result } = await call('session/invoke', { sessionId: session.Id, script: '1' }, 30_000);
    assert.equal(result.state, 'Completed');
    assert.equal(result.outputCount, 1);
    const [one] = peer.takeNotifications('session/output');
    assert.match(clixmlOf(one), /<I32>1<\/I32>/);
    await call('session/remove', { sessionId: session.Id });
    await until(() => !alive(session.ProcessId), 'the session host to exit');
  });

  it('keeps object fidelity and error ids, cancels Start-Sleep and stays usable', async () => {
    const { result: session } = await call('session/new', {}, 60_000);
    const { result } = await call('session/invoke', { sessionId: session.Id, script: 'Get-Process -Id $PID' }, 30_000);
    assert.equal(result.state, 'Completed');
    const [process] = peer.takeNotifications('session/output');
    assert.match(clixmlOf(process), /<T>System\.Diagnostics\.Process<\/T>/);
    assert.match(clixmlOf(process), new RegExp(`<I32 N="Id">${session.ProcessId}</I32>`));

    await call('session/invoke', { sessionId: session.Id, script: 'Get-Item /nonexistent' }, 30_000);
    const errors = peer.takeNotifications('session/output').filter((n) => n.stream === 'error');
    assert.equal(errors.length, 1);
    assert.match(clixmlOf(errors[0]), /PathNotFound,Microsoft\.PowerShell\.Commands\.GetItemCommand/);

    peer.send({ jsonrpc: '2.0', id: 'sleep60', method: 'session/invoke', params: { sessionId: session.Id, script: 'Start-Sleep 60' } });
    await sleep(500);
    peer.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'sleep60' } });
    const cancelled = await peer.response('sleep60', 15_000);
    assert.equal(cancelled.error.code, ErrorCodes.RequestCancelled);
    const started = Date.now();
    const again = await call('session/invoke', { sessionId: session.Id, script: '2' }, 15_000);
    assert.equal(again.result.state, 'Completed');
    assert.ok(Date.now() - started < 5000, 'the session answers again within a few seconds');
    await call('session/remove', { sessionId: session.Id });
  });

  it('closes an idle session after idleTimeoutSeconds', async () => {
    const { result: session } = await call('session/new', {}, 60_000);
    await until(() => !alive(session.ProcessId), 'the idle session to be closed', 15_000);
    assert.deepEqual((await call('session/list', {})).result.sessions, []);
    assert.ok((await broker.auditEntries()).some((e) => e.method === '<idle>' && e.reason === 'SessionIdleTimeout' && e.rule === 'profiles.full.sessions.idleTimeoutSeconds'));
  });

  it('denies a target the profile does not grant, and restricts a NoLanguage session', async () => {
    const denied = await call('session/new', { target: 'nowhere' });
    assert.equal(denied.error.code, ErrorCodes.PolicyDenied);
    assert.equal(denied.error.data.reason, 'TargetNotAllowed');
    const restricted = await connectPeer(join(dir, 'restricted.sock'));
    const { result: session, error } = await restricted.call('session/new', {}, 60_000);
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(session.LanguageMode, 'NoLanguage');
    const { result } = await restricted.call('session/invoke', { sessionId: session.Id, script: 'Get-Process' }, 30_000);
    const errors = restricted.peer.takeNotifications('session/output').filter((n) => n.stream === 'error');
    assert.ok(result.state === 'Failed' || errors.length > 0, 'Get-Process is not visible in the restricted session');
    restricted.peer.close();
  });

  it('runs a container session in the target’s network namespace', { skip: isRoot ? false : 'skipped: needs root for ip netns' }, async () => {
    const hostAddresses = (JSON.parse(execFileSync('ip', ['-j', 'addr']).toString()) as { addr_info: { local: string }[] }[]).flatMap((l) => l.addr_info.map((a) => a.local)).filter((a) => a && a !== '127.0.0.1' && a !== '::1');
    const { result: session, error } = await call('session/new', { target: 'box' }, 60_000);
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(session.Target, 'box');
    const script = '[System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces() | ForEach-Object { $_.GetIPProperties().UnicastAddresses } | ForEach-Object { $_.Address.ToString() }';
    const { result } = await call('session/invoke', { sessionId: session.Id, script }, 30_000);
    assert.equal(result.state, 'Completed');
    const seen = peer.takeNotifications('session/output').map((n) => /<S>([^<]*)<\/S>/.exec(clixmlOf(n))?.[1]);
    assert.ok(seen.includes(boxAddress), `the container's address is seen: ${seen.join(', ')}`);
    for (const address of hostAddresses) assert.ok(!seen.includes(address), `the host's ${address} is not seen`);
    await call('session/remove', { sessionId: session.Id });
  });
});
