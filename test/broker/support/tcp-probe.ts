// Test tool for real traffic through proxy rules, run inside a network namespace.
//   serve <label> <port>...   accept on each port; answer "<label> <port> <original destination>\n"
// The original destination comes from SO_ORIGINAL_DST, which is what a transparent proxy reads after an
// nftables redirect; without a redirect it is the address that was connected to.
import koffi from 'koffi';
import { createServer, type Socket } from 'node:net';

const SOL_IP = 0;
const SO_ORIGINAL_DST = 80;

function originalDestination(socket: Socket): string {
  const libc = koffi.load('libc.so.6');
  const getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *length)');
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  const address = Buffer.alloc(16);
  // Without NAT there is no conntrack entry to ask: the destination is then the socket's own address.
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, address, [16]) !== 0) return `${socket.localAddress}:${socket.localPort}`;
  return `${address[4]}.${address[5]}.${address[6]}.${address[7]}:${address.readUInt16BE(2)}`;
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'serve') {
  const [label, ...ports] = rest;
  let listening = 0;
  for (const port of ports) {
    createServer((socket) => socket.end(`${label} ${port} ${originalDestination(socket)}\n`)).listen(Number(port), '0.0.0.0', () => {
      if (++listening === ports.length) console.log('ready');
    });
  }
} else {
  console.error('usage: tcp-probe serve <label> <port>...');
  process.exit(2);
}
