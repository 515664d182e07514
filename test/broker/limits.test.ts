import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy, PolicyError } from '../../broker/src/policy/load.js';
import { TokenBucket } from '../../broker/src/server/limits.js';
import { ErrorCodes } from '../../typings/index.js';
import { fakeAdapters, fakePlatform, frame, RawPeer, startTestBroker } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const policy = (listenerExtra = '', profileExtra = '', topExtra = '') => `listeners:
  - name: test
    mode: '0600'
    profiles: [reader]
${listenerExtra}profiles:
  reader:
    host: { read: true }
    network: { read: true }
${profileExtra}${topExtra}`;

describe('listeners[].maxConnections', () => {
  it('answers the connection over the limit with -32005, closes it, audits it, and admits again once one closes', async () => {
    const broker = await startTestBroker({ policyYaml: policy('    maxConnections: 2\n') });
    try {
      const first = await RawPeer.open(broker.path);
      const second = await RawPeer.open(broker.path);
      assert.ok((await first.initialize()).result);
      assert.ok((await second.initialize()).result);

      const third = await RawPeer.open(broker.path);
      const { error } = await third.initialize();
      assert.equal(error.code, ErrorCodes.LimitExceeded);
      assert.equal(error.data.reason, 'TooManyConnections');
      assert.equal(error.data.limit, 2);
      assert.equal(error.data.rule, 'listeners.test.maxConnections');
      await third.closedByBroker();

      const connect = (await broker.auditEntries()).find((e) => e.method === '<connect>');
      assert.equal(connect?.decision, 'deny');
      assert.equal(connect?.reason, 'TooManyConnections');
      assert.equal(connect?.rule, 'listeners.test.maxConnections');
      assert.equal(connect?.peer.pid, process.pid);

      // A refused connection does not count: with one of the two closed, a new one is served.
      first.close();
      await sleep(100);
      const fourth = await RawPeer.open(broker.path);
      assert.equal((await fourth.initialize()).result.caller.profile, 'reader');
      second.close();
      fourth.close();
    } finally {
      await broker.stop();
    }
  });
});

describe('profiles.<name>.limits.requestsPerSecond', () => {
  it('shares one bucket across the profile\'s connections, does not count initialize, and refills', async () => {
    const broker = await startTestBroker({ policyYaml: policy('', '    limits: { requestsPerSecond: 1 }\n') });
    try {
      const a = await RawPeer.open(broker.path);
      const b = await RawPeer.open(broker.path);
      // Were initialize counted, the second one would already be refused.
      assert.ok((await a.initialize()).result);
      assert.ok((await b.initialize()).result);
      assert.equal((await a.request('host/info', {}, 1)).result.HostName, 'fakehost');
      const { error } = await b.request('host/info', {}, 2);
      assert.equal(error.code, ErrorCodes.LimitExceeded);
      assert.equal(error.data.reason, 'RateLimited');
      assert.equal(error.data.rule, 'profiles.reader.limits.requestsPerSecond');
      assert.equal(error.data.limit, 1);
      await sleep(1100);
      assert.equal((await b.request('host/info', {}, 3)).result.HostName, 'fakehost');

      const limited = (await broker.auditEntries()).filter((e) => e.reason === 'RateLimited');
      assert.equal(limited.length, 1);
      assert.equal(limited[0].decision, 'deny');
      assert.equal(limited[0].method, 'host/info');
      assert.equal(limited[0].resultCode, ErrorCodes.LimitExceeded);
      assert.equal(limited[0].rule, 'profiles.reader.limits.requestsPerSecond');
      a.close();
      b.close();
    } finally {
      await broker.stop();
    }
  });

  it('token bucket: bursts up to the rate, then one token per 1/rate seconds', () => {
    let now = 0;
    const bucket = new TokenBucket(5, () => now);
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true, `burst ${i}`);
    assert.equal(bucket.take(), false);
    now += 199;
    assert.equal(bucket.take(), false);
    now += 2;
    assert.equal(bucket.take(), true);
    now += 60_000;
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true);
    assert.equal(bucket.take(), false, 'a long pause buys no more than one burst');
    const slow = new TokenBucket(0.5, () => now);
    assert.equal(slow.take(), true, 'a rate below 1 still admits a request');
    assert.equal(slow.take(), false);
    now += 2000;
    assert.equal(slow.take(), true);
  });
});

describe('listeners[].idleTimeoutSeconds', () => {
  it('closes a connection idle that long and audits <idle>, but not one with a request in flight', async () => {
    const broker = await startTestBroker({
      policyYaml: policy('    idleTimeoutSeconds: 1\n'),
      platform: fakePlatform({
        async adapters() {
          await sleep(2500);
          return { adapters: structuredClone(fakeAdapters), defaultInterfaceIndex: 7 };
        },
      }),
    });
    try {
      const idle = await RawPeer.open(broker.path);
      const busy = await RawPeer.open(broker.path);
      await idle.initialize();
      await busy.initialize();
      const started = Date.now();
      const slow = busy.request('network/adapters', {}, 1);
      await idle.closedByBroker();
      assert.ok(Date.now() - started >= 900, 'not closed before the timeout');
      const { result } = await slow;
      assert.equal(result.adapters.length, 2);
      assert.equal(busy.closed, false, 'a request in flight keeps the connection');
      // Idle again after the answer: closed a timeout later.
      await busy.closedByBroker();

      const entries = (await broker.auditEntries()).filter((e) => e.method === '<idle>');
      assert.equal(entries.length, 2);
      assert.equal(entries[0].reason, 'IdleTimeout');
      assert.equal(entries[0].rule, 'listeners.test.idleTimeoutSeconds');
      assert.equal(entries[0].peer.pid, process.pid);
    } finally {
      await broker.stop();
    }
  });

  it('0 means never', async () => {
    const broker = await startTestBroker({ policyYaml: policy('    idleTimeoutSeconds: 0\n') });
    try {
      const peer = await RawPeer.open(broker.path);
      await peer.initialize();
      await sleep(1200);
      assert.equal(peer.closed, false);
      assert.equal((await peer.request('host/info', {}, 1)).result.HostName, 'fakehost');
      peer.close();
    } finally {
      await broker.stop();
    }
  });
});

describe('limits.maxMessageBytes from the policy', () => {
  it('closes a connection whose message is over the policy\'s limit, and serves one under it', async () => {
    const broker = await startTestBroker({ policyYaml: policy('', '', 'limits:\n  maxMessageBytes: 2048\n') });
    try {
      const small = await RawPeer.open(broker.path);
      await small.initialize();
      const { result } = await small.request('network/adapters', { name: 'eth0' }, 1);
      assert.equal(result.adapters.length, 1);
      small.write(frame({ jsonrpc: '2.0', id: 2, method: 'host/info', params: {}, pad: 'x'.repeat(1500) }));
      assert.ok((await small.response(2)).result, 'a message under the limit is served');

      const big = await RawPeer.open(broker.path);
      await big.initialize();
      // 3000 bytes pass the built-in 4 MiB limit: only the policy's 2048 refuses them.
      big.write(frame({ jsonrpc: '2.0', id: 1, method: 'host/info', params: {}, pad: 'x'.repeat(3000) }));
      await big.closedByBroker();
      small.close();
    } finally {
      await broker.stop();
    }
  });
});

describe('limit settings in the policy schema', () => {
  const problems = (yaml: string) => {
    try {
      parsePolicy(yaml, 'p.yaml');
    } catch (error) {
      assert.ok(error instanceof PolicyError);
      return error.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
    }
    return [];
  };

  it('accepts them and locates bad values', () => {
    assert.deepEqual(problems(policy('    maxConnections: 10\n    idleTimeoutSeconds: 0\n', '    limits: { requestsPerSecond: 2.5 }\n', 'audit: { path: /tmp/a.log, failOpen: true }\n')), []);
    const bad = problems(policy('    maxConnections: 0\n    idleTimeoutSeconds: -1\n', '    limits: { requestsPerSecond: 0 }\n', 'audit: { path: /tmp/a.log, failopen: true }\n'));
    assert.equal(bad.length, 4, bad.join('\n'));
    assert.match(bad[0], /^5:21: listeners\.0\.maxConnections: /);
    assert.match(bad[1], /^6:25: listeners\.0\.idleTimeoutSeconds: /);
    assert.match(bad[2], /^11:34: profiles\.reader\.limits\.requestsPerSecond: /);
    assert.match(bad[3], /^12:28: audit: unknown key 'failopen'/);
  });
});
