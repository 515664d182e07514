import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes } from '../../typings/index.js';
import { FramingError, HardenedMessageReader, type RejectedMessage } from '../../broker/src/server/framing.js';
import { frame, RawPeer, startTestBroker, type TestBroker } from './support.js';
import type { Socket } from 'node:net';

/** Drives the reader without a socket: returns what it delivered, rejected and why it stopped. */
function feed(chunks: (string | Buffer)[], limits = { maxHeaderBytes: 8192, maxMessageBytes: 1024 * 1024 }) {
  const delivered: unknown[] = [];
  const rejected: RejectedMessage[] = [];
  let violation: FramingError | undefined;
  const reader = new HardenedMessageReader({} as Socket, limits, (r) => rejected.push(r), (v) => (violation = v));
  (reader as unknown as { callback: (m: unknown) => void }).callback = (m) => delivered.push(m);
  for (const chunk of chunks) reader.onData(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'));
  return { delivered, rejected, violation };
}

const request = { jsonrpc: '2.0', id: 1, method: 'host/info', params: {} };

describe('HardenedMessageReader', () => {
  const violations: [string, (string | Buffer)[], string][] = [
    ['missing Content-Length', ['Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}'], 'MissingContentLength'],
    ['non-numeric Content-Length', ['Content-Length: abc\r\n\r\n{}'], 'InvalidContentLength'],
    ['negative Content-Length', ['Content-Length: -5\r\n\r\n{}'], 'InvalidContentLength'],
    ['Content-Length with a sign', ['Content-Length: +5\r\n\r\n{}'], 'InvalidContentLength'],
    ['fractional Content-Length', ['Content-Length: 2.0\r\n\r\n{}'], 'InvalidContentLength'],
    ['huge Content-Length', ['Content-Length: 99999999999999999999\r\n\r\n'], 'InvalidContentLength'],
    ['Content-Length over the limit', ['Content-Length: 2000000\r\n\r\n'], 'MessageTooLarge'],
    ['duplicate Content-Length', ['Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}'], 'DuplicateContentLength'],
    ['header line without a colon', ['Content-Length 2\r\n\r\n{}'], 'MalformedHeader'],
    ['empty header name', [': 2\r\nContent-Length: 2\r\n\r\n{}'], 'MalformedHeader'],
    ['unknown header', ['X-Evil: 1\r\nContent-Length: 2\r\n\r\n{}'], 'UnknownHeader'],
    ['unsupported charset', ['Content-Length: 2\r\nContent-Type: application/json; charset=utf-16\r\n\r\n{}'], 'UnsupportedCharset'],
    ['oversized header without end', ['X'.repeat(9000)], 'HeaderTooLarge'],
    ['oversized header in small pieces', Array.from({ length: 100 }, () => 'Content-Type: x\r\n'.repeat(6)), 'HeaderTooLarge'],
  ];
  for (const [name, chunks, reason] of violations) {
    it(`stops on ${name}`, () => {
      const { delivered, violation } = feed(chunks);
      assert.equal(violation?.reason, reason);
      assert.equal(delivered.length, 0);
    });
  }

  it('ignores everything after a violation, even a valid message', () => {
    const { delivered, violation } = feed(['Content-Length: x\r\n\r\n', frame(request)]);
    assert.equal(violation?.reason, 'InvalidContentLength');
    assert.equal(delivered.length, 0);
  });

  const rejections: [string, string | Buffer, number][] = [
    ['invalid JSON', '{"jsonrpc":', ErrorCodes.ParseError],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), ErrorCodes.ParseError],
    ['an empty body', '', ErrorCodes.ParseError],
    ['JSON that is not an object', '42', ErrorCodes.InvalidRequest],
    ['a string', '"hello"', ErrorCodes.InvalidRequest],
    ['null', 'null', ErrorCodes.InvalidRequest],
    ['a batch array', JSON.stringify([request, request]), ErrorCodes.InvalidRequest],
    ['a missing jsonrpc version', JSON.stringify({ id: 1, method: 'x' }), ErrorCodes.InvalidRequest],
    ['a wrong jsonrpc version', JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'x' }), ErrorCodes.InvalidRequest],
    ['a missing method', JSON.stringify({ jsonrpc: '2.0', id: 1 }), ErrorCodes.InvalidRequest],
    ['a numeric method', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 5 }), ErrorCodes.InvalidRequest],
    ['an object id', JSON.stringify({ jsonrpc: '2.0', id: {}, method: 'x' }), ErrorCodes.InvalidRequest],
    ['a null id', JSON.stringify({ jsonrpc: '2.0', id: null, method: 'x' }), ErrorCodes.InvalidRequest],
    ['string params', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: 'p' }), ErrorCodes.InvalidRequest],
    ['a response object', JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }), ErrorCodes.InvalidRequest],
  ];
  for (const [name, body, code] of rejections) {
    it(`answers ${code} to ${name} and keeps reading`, () => {
      const { delivered, rejected, violation } = feed([frame(body), frame(request)]);
      assert.equal(violation, undefined);
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0].code, code);
      assert.deepEqual(delivered, [request]);
    });
  }

  it('keeps the id of an invalid request when it is usable', () => {
    const { rejected } = feed([frame({ jsonrpc: '1.0', id: 17, method: 'x' })]);
    assert.equal(rejected[0].id, 17);
  });

  it('reassembles a message split into single bytes', () => {
    const bytes = frame(request);
    const { delivered } = feed(Array.from(bytes, (b) => Buffer.from([b])));
    assert.deepEqual(delivered, [request]);
  });

  it('takes many messages from one write, in order', () => {
    const messages = Array.from({ length: 50 }, (_, i) => ({ ...request, id: i }));
    const { delivered } = feed([Buffer.concat(messages.map((m) => frame(m)))]);
    assert.deepEqual(delivered, messages);
  });

  it('accepts Content-Type with utf-8, and header names in any case', () => {
    const body = JSON.stringify(request);
    const { delivered, violation } = feed([`content-length: ${body.length}\r\nContent-Type: application/vscode-jsonrpc; charset=UTF-8\r\n\r\n${body}`]);
    assert.equal(violation, undefined);
    assert.deepEqual(delivered, [request]);
  });

  it('reads a body of exactly the maximum size and multibyte text by bytes', () => {
    const text = 'é'.repeat(100);
    const message = { ...request, params: { text } };
    const { delivered } = feed([frame(message)], { maxHeaderBytes: 8192, maxMessageBytes: Buffer.byteLength(JSON.stringify(message)) });
    assert.deepEqual(delivered, [message]);
  });
});

describe('broker connections under bad bytes', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ maxMessageBytes: 64 * 1024 });
  });
  after(() => broker.stop());

  it('closes only the offending connection and keeps serving the others', async () => {
    const good = await RawPeer.open(broker.path);
    await good.initialize();
    const bad = await RawPeer.open(broker.path);
    bad.write('Content-Length: 12abc\r\n\r\n');
    await bad.closedByBroker();
    assert.equal(bad.received(), 0, 'nothing is written after a framing violation');
    const reply = await good.request('host/info', {}, 2);
    assert.equal(reply.result.HostName, 'fakehost');
    good.close();
  });

  it('closes a connection that declares more than the maximum message size', async () => {
    const peer = await RawPeer.open(broker.path);
    peer.write(`Content-Length: ${64 * 1024 + 1}\r\n\r\n`);
    await peer.closedByBroker();
  });

  it('answers -32700 with a null id for malformed JSON and goes on', async () => {
    const peer = await RawPeer.open(broker.path);
    peer.write(frame('{not json'));
    const error = await peer.response(null);
    assert.equal(error.error.code, ErrorCodes.ParseError);
    assert.equal((await peer.initialize()).result.protocolVersion, 1);
    peer.close();
  });

  it('answers -32600 to a batch', async () => {
    const peer = await RawPeer.open(broker.path);
    peer.write(frame([{ jsonrpc: '2.0', id: 1, method: 'initialize' }]));
    assert.equal((await peer.response(null)).error.code, ErrorCodes.InvalidRequest);
    peer.close();
  });

  it('survives random garbage from many connections and still answers a good client', async () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const peers = await Promise.all(Array.from({ length: 20 }, () => RawPeer.open(broker.path)));
    for (const peer of peers) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 4000) }, () => Math.floor(random() * 256)));
      peer.write(random() < 0.5 ? bytes : Buffer.concat([Buffer.from('Content-Length: 10\r\n\r\n'), bytes]));
    }
    const good = await RawPeer.open(broker.path);
    await good.initialize();
    assert.equal((await good.request('network/adapters', { defaultOnly: true }, 5)).result.adapters[0].Name, 'eth0');
    for (const peer of peers) peer.close();
    good.close();
  });
});
