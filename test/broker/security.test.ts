// Tests for rows of docs/SECURITY.md that no other test covered.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { identifyLinuxPeer, PeerIdentityError } from '../../broker/src/server/peer.js';
import { ErrorCodes } from '../../typings/index.js';
import { fakeAdapters, fakePlatform, frame, RawPeer, startTestBroker } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const policy = (mode: string) => `listeners:
  - name: sec
    mode: '${mode}'
    profiles: [reader]
profiles:
  reader:
    host: { read: true }
    network: { read: true }
`;

describe('security: who can reach the socket', () => {
  for (const mode of ['0600', '0660']) {
    it(`creates the listener socket with the policy's mode ${mode}`, async () => {
      const broker = await startTestBroker({ policyYaml: policy(mode) });
      try {
        assert.equal(lstatSync(broker.path).mode & 0o777, parseInt(mode, 8));
      } finally {
        await broker.stop();
      }
    });
  }
});

describe('security: caller identity', () => {
  it('refuses to identify a peer whose process is gone before its namespace is pinned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-sec-'));
    const path = join(dir, 'peer.sock');
    // pauseOnConnect: the server never reads, so the accepted socket (and its fd) stays while the client dies
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer({ pauseOnConnect: true }, (socket) => {
        server.close();
        resolve(socket);
      });
      server.listen(path);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const client = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(path)}, () => process.exit(0))`], { stdio: 'ignore' });
    const socket = await accepted;
    await new Promise((resolve) => client.once('exit', resolve));
    await sleep(50); // reaped: /proc/<pid> is gone
    try {
      await assert.rejects(identifyLinuxPeer(socket), (error: unknown) => {
        assert.ok(error instanceof PeerIdentityError, String(error));
        assert.match((error as Error).message, new RegExp(`peer process ${client.pid}`));
        return true;
      });
    } finally {
      socket.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('security: a caller that floods requests', () => {
  it('stops reading with 64 requests in flight and reads on once they finish', async () => {
    let calls = 0;
    let released = false;
    const waiting: (() => void)[] = [];
    const platform = fakePlatform({
      async adapters() {
        calls++;
        if (!released) await new Promise<void>((resolve) => waiting.push(resolve));
        return { adapters: structuredClone(fakeAdapters), defaultInterfaceIndex: 7 };
      },
    });
    const broker = await startTestBroker({ policyYaml: policy('0600'), platform });
    const peer = await RawPeer.open(broker.path);
    try {
      await peer.initialize();
      // One write per request, each after the broker had a chance to read the one before.
      for (let id = 1; id <= 100; id++) {
        peer.send({ jsonrpc: '2.0', id, method: 'network/adapters', params: {} });
        await sleep(2);
      }
      await sleep(200);
      assert.equal(calls, 64, 'the broker stopped reading at 64 requests in flight');
      released = true;
      while (waiting.length) waiting.shift()!();
      for (let id = 1; id <= 100; id++) {
        const response = await peer.response(id);
        assert.ok(response.result, JSON.stringify(response));
      }
      assert.equal(calls, 100);
    } finally {
      released = true;
      while (waiting.length) waiting.shift()!();
      peer.close();
      await broker.stop();
    }
  });
});

describe('security: JSON bombs', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('answers a deeply nested body that is not a request with -32600 and keeps the connection', async () => {
    const broker = await startTestBroker({ policyYaml: policy('0600') });
    const peer = await RawPeer.open(broker.path);
    try {
      await peer.initialize();
      peer.write(frame(nested(1_000_000)));
      assert.equal((await peer.response(null)).error.code, ErrorCodes.InvalidRequest);
      assert.ok((await peer.request('host/info', {}, 2)).result);
    } finally {
      peer.close();
      await broker.stop();
    }
  });

  it('answers deeply nested params without leaking text, audits the request, and keeps the connection usable', async () => {
    const broker = await startTestBroker({ policyYaml: policy('0600') });
    const peer = await RawPeer.open(broker.path);
    try {
      await peer.initialize();
      peer.write(frame(`{"jsonrpc":"2.0","id":1,"method":"host/info","params":{"a":${nested(1_000_000)}}}`));
      const { error } = await peer.response(1);
      assert.equal(error.code, ErrorCodes.InvalidParams);
      assert.doesNotMatch(error.message, /call stack/);
      assert.ok((await peer.request('host/info', {}, 2)).result);
      const audited = (await broker.auditEntries()).filter((e) => e.method === 'host/info');
      assert.equal(audited.length, 2, 'both requests are audited');
    } finally {
      peer.close();
      await broker.stop();
    }
  });
});
