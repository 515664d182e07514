// `npm run load [-- --callers N --requests N]`: 200 concurrent callers × 1000 mixed requests (host facts,
// file tails, inline credential specs, process lists, some adapters, a streamed process each), against the
// built broker. Requires zero errors; reports p50/p99 and the broker's RSS before, after a first and after a
// second identical round (no growth once the load has ended); then a caller that writes requests and never
// reads its socket, which must not grow the broker's memory without bound. Exits 1 on failure.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { RequestType } from 'vscode-jsonrpc/node';
import { WinsHostClient } from '../../broker/src/client/client.js';
import { ProcessOutputNotification } from '../../typings/index.js';

const { values } = parseArgs({ options: { callers: { type: 'string', default: '200' }, requests: { type: 'string', default: '1000' } } });
const CALLERS = Number(values.callers);
const REQUESTS = Number(values.requests);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'winshost-load-'));
mkdirSync(join(dir, 'logs'));
writeFileSync(join(dir, 'logs', 'app.log'), Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n');

const spec = JSON.stringify({ CmsPlugins: ['ActiveDirectory'], DomainJoinConfig: { Sid: 'S-1-5-21-1-2-3', MachineAccountName: 'Web', Guid: '56d9b575-2e8a-4c7e-9ef1-1e7a3a3b2f11', DnsTreeName: 'contoso.com', DnsName: 'contoso.com', NetBiosName: 'CONTOSO' } });
const mix: [number, string, (caller: number) => unknown][] = [
  [0.495, 'host/info', () => ({})],
  [0.2, 'file/read', (caller) => ({ path: join(dir, 'logs', 'app.log'), token: `t${caller}`, tail: 5 })],
  [0.15, 'credspec/get', () => ({ uri: `raw://${spec}` })],
  [0.15, 'process/list', () => ({})],
  // each one runs `ip`: a few keep the platform path in the mix without turning the load into process spawning
  [0.005, 'network/adapters', () => ({ defaultOnly: true })],
];

function pickRequest(r: number): [string, (caller: number) => unknown] {
  let acc = 0;
  for (const [weight, method, params] of mix) {
    acc += weight;
    if (r < acc) return [method, params];
  }
  return [mix[0][1], mix[0][2]];
}

const rss = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function round(socket: string): Promise<{ latencies: number[]; errors: string[] }> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      const client = await WinsHostClient.connect(socket, { clientName: `load-${caller}` });
      try {
        let streamed = 0;
        client.onNotification(ProcessOutputNotification.type, (params) => (streamed += Buffer.from(params.data, 'base64').length));
        const started = await client.request(new RequestType<unknown, { Id: number }, void>('process/start'), { path: '/usr/bin/seq', args: ['20000'], stream: true });
        for (let i = 0; i < REQUESTS; i++) {
          const [method, params] = pickRequest(random());
          const t = performance.now();
          try {
            await client.request(new RequestType<unknown, unknown, void>(method), params(caller));
            latencies.push(performance.now() - t);
          } catch (error) {
            errors.push(`${method}: ${(error as Error).message}`);
          }
        }
        const waited = await client.request(new RequestType<unknown, { ExitCode: number }, void>('process/wait'), { processId: started.Id, stream: true });
        const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('').length;
        if (waited.ExitCode !== 0 || streamed !== expected) errors.push(`caller ${caller}: streamed ${streamed} of ${expected} bytes, exit ${waited.ExitCode}`);
      } catch (error) {
        errors.push(`caller ${caller}: ${(error as Error).message}`);
      } finally {
        client.close();
      }
    }),
  );
  return { latencies, errors };
}

/** Writes requests without ever reading the answers; the broker must stop reading instead of buffering. */
async function neverReads(socket: string, pid: number): Promise<number> {
  const conn = connect(socket);
  await new Promise((resolve) => conn.once('connect', resolve));
  const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  conn.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { clientInfo: { name: 'silent' }, protocolVersion: 1 } })));
  conn.pause();
  const before = rss(pid);
  let peak = before;
  const message = frame(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'file/read', params: { path: join(dir, 'logs', 'app.log'), token: 's' } }));
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline) {
    if (!conn.write(message.repeat(100))) await new Promise((resolve) => setTimeout(resolve, 10));
    peak = Math.max(peak, rss(pid));
  }
  conn.destroy();
  return peak - before;
}

async function main(): Promise<number> {
  writeFileSync(
    join(dir, 'policy.yaml'),
    `listeners:\n  - name: load\n    maxConnections: ${CALLERS + 16}\n    profiles: [load]\nprofiles:\n  load:\n    host: { read: true }\n    network: { read: true }\n    files:\n      roots:\n        - path: ${join(dir, 'logs')}\n    credentialSpecs:\n      directory: ${dir}\n      allow: ['raw://']\n    processes:\n      - path: /usr/bin/seq\n        args: { pattern: '^[0-9]+$' }\n    limits: { processes: ${CALLERS + 16} }\n`,
  );
  const socket = join(dir, 'b.sock');
  const broker = spawn(process.execPath, [join(repo, 'dist', 'broker', 'cli.js'), 'serve', '--policy', join(dir, 'policy.yaml'), '--listen', socket, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'audit.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  broker.stderr!.on('data', (chunk) => (log += chunk));
  await new Promise<void>((resolve, reject) => {
    broker.stderr!.on('data', () => log.includes('serving') && resolve());
    broker.once('exit', (code) => reject(new Error(`broker exited ${code}: ${log}`)));
  });
  const failures: string[] = [];
  try {
    const before = rss(broker.pid!);
    const started = performance.now();
    const first = await round(socket);
    const seconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const afterFirst = rss(broker.pid!);
    const second = await round(socket);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const afterSecond = rss(broker.pid!);
    const errors = [...first.errors, ...second.errors];
    const latencies = [...first.latencies].sort((a, b) => a - b);
    const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    console.log(`load: ${CALLERS} callers × ${REQUESTS} mixed requests + 1 streamed process each, twice`);
    console.log(`load: ${latencies.length} requests in ${seconds.toFixed(1)} s (${(latencies.length / seconds).toFixed(0)}/s), p50 ${at(50).toFixed(2)} ms, p99 ${at(99).toFixed(2)} ms, errors ${errors.length}`);
    console.log(`load: broker RSS ${mb(before)} before, ${mb(afterFirst)} after round 1, ${mb(afterSecond)} after round 2`);
    for (const error of errors.slice(0, 5)) failures.push(error);
    // V8 sizes its heap by what it has seen, so RSS moves between identical rounds; a leak grows it by the
    // size of a round's garbage (hundreds of MB here), far past this allowance.
    const growth = afterSecond - afterFirst;
    const allowance = Math.max(64e6, afterFirst * 0.25);
    if (growth > allowance) failures.push(`RSS grew ${mb(growth)} between two identical rounds (allowance ${mb(allowance)})`);
    const silent = await neverReads(socket, broker.pid!);
    console.log(`load: a caller that never reads grew the broker by ${mb(silent)} over 4 s of writing`);
    if (silent > 64e6) failures.push(`a caller that never reads grew the broker by ${mb(silent)}`);
    if (broker.exitCode !== null) failures.push(`the broker exited: ${log.slice(-300)}`);
  } finally {
    broker.kill('SIGTERM');
    await new Promise((resolve) => broker.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
  for (const failure of failures) console.log(`load failure: ${failure}`);
  console.log(`load: ${failures.length === 0 ? 1 : 0} passed, ${failures.length === 0 ? 0 : 1} failed`);
  return failures.length ? 1 : 0;
}

process.exit(await main());
