// The floor for bench/rpc.bench.ts: a Unix-socket server with the broker's framing (Content-Length
// headers, a JSON body) that answers each request with its params, and does nothing else.
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';

const path = process.argv[2];
rmSync(path, { force: true });
const HEADER_END = Buffer.from('\r\n\r\n');

createServer((socket) => {
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      const end = buffer.indexOf(HEADER_END);
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, end).toString('latin1'))[1]);
      if (buffer.length < end + 4 + length) return;
      const request = JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString('utf8'));
      buffer = buffer.subarray(end + 4 + length);
      const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: request.params ?? null }), 'utf8');
      socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
    }
  });
  socket.on('error', () => socket.destroy());
}).listen(path, () => console.log('ready'));
