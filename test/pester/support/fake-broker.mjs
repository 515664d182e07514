// A scriptable stand-in for the WinsHost broker, for testing the PowerShell module's JSON-RPC client.
// Node builtins only. Usage: node fake-broker.mjs <unix socket path>
//
// Speaks LSP framing (Content-Length) and answers `initialize` like the broker. Test methods drive the
// cases the client must handle:
//   test/echo              -> { id, params, connection, initialize }  (initialize = that connection's params)
//   test/notify            -> 2 `test/progress` notifications, then { sent: 2 }; the second notification and the
//                             response go out in one write, so the client must keep bytes past a message end
//   test/split {size?}     -> a response cut into pieces (mid-header, mid-UTF-8 character) written with delays;
//                             size pads the body with that many bytes, to exceed the client's read buffer
//   test/error {code,message,data} -> that JSON-RPC error
//   test/closeAfterReply   -> { ok: true }, then the connection is closed
//   test/dropWithoutReply  -> the connection is closed without a response
//   test/badLength, test/hugeHeader, test/badJson, test/unknownHeader -> framing violations
//   test/wrongId           -> a response with another id
//   test/serverRequest     -> sends the client a request, then answers { clientReply } with what it got back
//   test/respondWith {method, result?, error?} -> from now on, answer `method` with that result or error
//                             (neither: back to the default answer)
//   test/stats             -> { connections, initializes, calls: {method: count} }
//   test/shutdown          -> { ok: true }, then every connection and the listener close and the process exits
// host/info, network/adapters and network/routes answer with canned data unless overridden by test/respondWith.
// Prints "listening <path>" on stdout once the socket accepts connections.

import net from 'node:net';
import fs from 'node:fs';

const socketPath = process.argv[2];
if (!socketPath) {
  console.error('usage: node fake-broker.mjs <socket path>');
  process.exit(2);
}

const stats = { connections: 0, initializes: 0, calls: {} };
const overrides = new Map();
const sockets = new Set();

const canned = {
  'host/info': {
    HostName: 'fake-host',
    Platform: 'linux',
    OSName: 'Fake Linux',
    OSVersion: '1.0',
    OSBuild: '1.0',
    KernelVersion: '6.1.0-fake',
    Architecture: 'x64',
    UptimeSeconds: 3600,
    BootTime: '2024-05-01T10:00:00.000Z',
    BrokerVersion: '9.9.9',
  },
  'network/adapters': {
    adapters: [
      {
        InterfaceIndex: 1, GatewayAddress: null, SubnetCIDR: '127.0.0.0/8', HostName: 'fake-host',
        AddressCIDR: '127.0.0.1/8', Name: 'lo', Description: 'loopback', MacAddress: null, Mtu: 65536,
        Status: 'Up', Type: 'loopback', IsDefault: false,
        IPv4Addresses: [{ Address: '127.0.0.1', PrefixLength: 8, AddressCIDR: '127.0.0.1/8', SubnetCIDR: '127.0.0.0/8' }],
        IPv6Addresses: [{ Address: '::1', PrefixLength: 128, AddressCIDR: '::1/128', SubnetCIDR: '::1/128', Scope: 'host' }],
        IPv6GatewayAddress: null,
      },
      {
        InterfaceIndex: 2, GatewayAddress: '10.170.0.1', SubnetCIDR: '10.170.0.0/20', HostName: 'fake-host',
        AddressCIDR: '10.170.15.229/20', Name: 'eth0', Description: 'virtio', MacAddress: '00:15:5d:01:02:03',
        Mtu: 1500, Status: 'Up', Type: 'ethernet', IsDefault: true,
        IPv4Addresses: [{ Address: '10.170.15.229', PrefixLength: 20, AddressCIDR: '10.170.15.229/20', SubnetCIDR: '10.170.0.0/20' }],
        IPv6Addresses: [],
        IPv6GatewayAddress: null,
      },
    ],
    defaultInterfaceIndex: 2,
  },
  'network/routes': {
    routes: [
      {
        AddressFamily: 'IPv4', DestinationPrefix: '0.0.0.0/0', NextHop: '10.170.0.1', InterfaceIndex: 2,
        InterfaceAlias: 'eth0', RouteMetric: 100, Protocol: 'dhcp', Scope: 'universe', IsDefault: true,
      },
    ],
  },
};

function frame(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function handleConnection(socket) {
  stats.connections += 1;
  const connection = stats.connections;
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  // A client that lost track of the stream waits forever for a response; closing idle connections turns
  // that hang into a failing test.
  socket.setTimeout(10000, () => socket.destroy());

  let buffer = Buffer.alloc(0);
  let initializeParams = null;
  let awaitingClient = null;
  // Requests are answered one after another, like the client sends them.
  let queue = Promise.resolve();

  const send = (message) => socket.write(frame(message));
  const reply = (id, result) => send({ jsonrpc: '2.0', id, result });
  const fail = (id, code, message, data) => send({ jsonrpc: '2.0', id, error: { code, message, data } });

  async function dispatch(request) {
    const { id, method } = request;
    const params = request.params ?? {};
    stats.calls[method] = (stats.calls[method] ?? 0) + 1;

    if (method === 'initialize') {
      stats.initializes += 1;
      initializeParams = params;
      return reply(id, {
        serverInfo: { name: 'fake-broker', version: '9.9.9', platform: 'linux' },
        protocolVersion: 1,
        capabilities: { methods: ['host/info', 'network/adapters', 'network/routes'] },
        caller: { listener: 'fake', profile: 'test', pid: 4242, uid: 1000, gid: 1000, netns: 'net:[4026531840]' },
      });
    }
    if (initializeParams === null) {
      return fail(id, -32002, 'initialize first', { reason: 'NotInitialized' });
    }
    if (overrides.has(method)) {
      const override = overrides.get(method);
      if (override.error) return send({ jsonrpc: '2.0', id, error: override.error });
      return reply(id, override.result ?? null);
    }

    switch (method) {
      case 'test/echo':
        return reply(id, { id, params, connection, initialize: initializeParams });
      case 'test/notify': {
        socket.write(frame({ jsonrpc: '2.0', method: 'test/progress', params: { seq: 1 } }));
        await sleep(30);
        const rest = Buffer.concat([
          frame({ jsonrpc: '2.0', method: 'test/progress', params: { seq: 2 } }),
          frame({ jsonrpc: '2.0', id, result: { sent: 2 } }),
        ]);
        return socket.write(rest);
      }
      case 'test/split': {
        const size = Number(params.size ?? 0);
        const text = 'h\u00e9llo \u2713 \u00fcber';
        const bytes = frame({ jsonrpc: '2.0', id, result: { text, padding: 'x'.repeat(size) } });
        const headerEnd = bytes.indexOf('\r\n\r\n') + 4;
        const multiByte = bytes.indexOf(Buffer.from('\u2713', 'utf8')) + 1; // inside the 3-byte check mark
        const cuts = [7, headerEnd - 1, headerEnd + 5, multiByte, bytes.length];
        let start = 0;
        for (const cut of cuts) {
          if (cut <= start) continue;
          socket.write(bytes.subarray(start, cut));
          start = cut;
          await sleep(40);
        }
        return undefined;
      }
      case 'test/error':
        return fail(id, params.code, params.message, params.data);
      case 'test/closeAfterReply':
        socket.write(frame({ jsonrpc: '2.0', id, result: { ok: true } }), () => socket.destroy());
        return undefined;
      case 'test/dropWithoutReply':
        socket.destroy();
        return undefined;
      case 'test/badLength':
        return socket.write('Content-Length: 12a\r\n\r\n{"jsonrpc":"2.0"}');
      case 'test/hugeHeader':
        return socket.write(`X-Padding: ${'a'.repeat(9000)}\r\n\r\n`);
      case 'test/badJson': {
        const body = Buffer.from('{"jsonrpc":"2.0","id":', 'utf8');
        return socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
      }
      case 'test/unknownHeader': {
        const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, result: {} }), 'utf8');
        return socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\nX-Extra: 1\r\n\r\n`), body]));
      }
      case 'test/serverRequest': {
        const answer = new Promise((resolve) => {
          awaitingClient = resolve;
        });
        send({ jsonrpc: '2.0', id: 'srv-1', method: 'client/ping', params: {} });
        const clientReply = await answer;
        return reply(id, { clientReply });
      }
      case 'test/wrongId':
        return reply(id + 1000, { ok: true });
      case 'test/respondWith':
        if (params.result === undefined && params.error === undefined) overrides.delete(params.method);
        else overrides.set(params.method, { result: params.result, error: params.error });
        return reply(id, { ok: true });
      case 'test/stats':
        return reply(id, stats);
      case 'test/shutdown':
        reply(id, { ok: true });
        setTimeout(() => {
          for (const s of sockets) s.destroy();
          server.close(() => process.exit(0));
        }, 20);
        return undefined;
      case 'network/adapters': {
        // Selectors combine with AND, as in typings/network.ts.
        const adapters = canned[method].adapters.filter(
          (a) =>
            (params.defaultOnly !== true || a.IsDefault) &&
            (params.interfaceIndex === undefined || a.InterfaceIndex === params.interfaceIndex) &&
            (params.name === undefined || a.Name === params.name),
        );
        return reply(id, { adapters, defaultInterfaceIndex: canned[method].defaultInterfaceIndex });
      }
      default:
        if (Object.prototype.hasOwnProperty.call(canned, method)) return reply(id, canned[method]);
        return fail(id, -32601, `Unknown method ${method}`, { reason: 'MethodNotFound' });
    }
  }

  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const headerEnd = buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const match = /Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString('ascii'));
      if (!match) {
        socket.destroy();
        return;
      }
      const length = Number(match[1]);
      if (buffer.length < headerEnd + 4 + length) return;
      const body = buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      buffer = buffer.subarray(headerEnd + 4 + length);
      let message;
      try {
        message = JSON.parse(body);
      } catch {
        send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error', data: { reason: 'ParseError' } } });
        continue;
      }
      if (message.id === undefined) continue; // a notification from the client
      if (message.method === undefined) {
        // The client's answer to a request of ours (test/serverRequest).
        if (awaitingClient) awaitingClient(message);
        awaitingClient = null;
        continue;
      }
      queue = queue.then(() => dispatch(message)).catch((error) => console.error(error));
    }
  });
}

try {
  fs.unlinkSync(socketPath);
} catch {
  // not there: fine
}
const server = net.createServer(handleConnection);
server.listen(socketPath, () => {
  process.stdout.write(`listening ${socketPath}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
