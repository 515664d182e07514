// `npm run bench:process`: relay throughput of a host process writing 1 GiB to stdout through the broker
// (policy, audit, base64 notifications, back-pressure) to a caller, next to the same program writing to
// /dev/null in the same run; and the broker's peak RSS (VmHWM) over the relay.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WinsHostClient } from '../broker/src/client/client.js';
import { ProcessOutputNotification, ProcessStartRequest, ProcessWaitRequest } from '../typings/index.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const BYTES = Number(process.env.BENCH_RELAY_BYTES ?? 1024 ** 3);
const program = ['/usr/bin/head', ['-c', String(BYTES), '/dev/zero']] as const;

function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

async function baseline(): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(program[0], [...program[1]], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
  return BYTES / ((performance.now() - started) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), 'winshost-bench-proc-'));
writeFileSync(
  join(dir, 'policy.yaml'),
  `listeners:\n  - name: bench\n    profiles: [bench]\nprofiles:\n  bench:\n    processes:\n      - path: ${program[0]}\n        args: { exact: ${JSON.stringify(program[1])} }\n`,
);
const socket = join(dir, 'b.sock');
const broker = spawn(process.execPath, [join(repo, 'dist', 'broker', 'cli.js'), 'serve', '--policy', join(dir, 'policy.yaml'), '--listen', socket, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'audit.log')], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
await new Promise<void>((resolve, reject) => {
  broker.stderr!.on('data', (chunk) => String(chunk).includes('serving') && resolve());
  broker.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
});
try {
  const rssBefore = peakRss(broker.pid!);
  const floor = await baseline();
  const client = await WinsHostClient.connect(socket);
  let received = 0;
  client.onNotification(ProcessOutputNotification.type, (params) => {
    // Decoded length without decoding: 3 bytes per 4 characters, less the padding.
    const data = params.data;
    received += (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
  });
  const started = performance.now();
  const info = await client.request(ProcessStartRequest.type, { path: program[0], args: [...program[1]], stream: true });
  const done = await client.request(ProcessWaitRequest.type, { processId: info.Id, stream: true });
  const seconds = (performance.now() - started) / 1000;
  client.close();
  if (done.ExitCode !== 0 || received !== BYTES) throw new Error(`relay incomplete: exit ${done.ExitCode}, ${received} of ${BYTES} bytes`);
  const relay = BYTES / seconds;
  const peak = peakRss(broker.pid!);
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  console.log(`\nWinsHost process output relay (${mb(BYTES)} MB from ${program[0]} ${program[1].join(' ')})`);
  console.log(`through the broker to a caller   ${mb(relay)} MB/s   (target ≥ 200 MB/s: ${relay >= 200e6 ? 'met' : 'MISSED'})`);
  console.log(`same program to /dev/null        ${mb(floor)} MB/s   (ratio ${(relay / floor).toFixed(3)})`);
  console.log(`broker peak RSS                  ${mb(peak)} MB (${mb(rssBefore)} MB before the relay; target < 150 MB: ${peak < 150e6 ? 'met' : 'MISSED'})`);
} finally {
  broker.kill('SIGTERM');
  await new Promise((resolve) => broker.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}
