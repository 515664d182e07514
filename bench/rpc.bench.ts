// `npm run bench`: the broker's request path (policy and audit included) next to the floor, a raw
// Unix-socket echo with the same framing, both measured in this run with the same client; then
// Get-HostNetwork per call from a warm pwsh. Ratios, not absolute numbers, are what the targets are about.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, NullLogger, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { connect } from 'node:net';
import { HostInfoRequest } from '../typings/index.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const ROUND_TRIPS = Number(process.env.BENCH_ROUND_TRIPS ?? 5000);
const CLIENTS = 64;
const REQUESTS_PER_CLIENT = Number(process.env.BENCH_REQUESTS_PER_CLIENT ?? 300);
const PWSH_CALLS = Number(process.env.BENCH_PWSH_CALLS ?? 200);

function startProcess(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      if (/ready|serving/.test(chunk.toString())) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

async function open(path: string, initialize: boolean): Promise<MessageConnection> {
  const socket = await new Promise<ReturnType<typeof connect>>((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const connection = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket), NullLogger);
  connection.listen();
  if (initialize) await connection.sendRequest('initialize', { clientInfo: { name: 'bench' }, protocolVersion: 1 });
  return connection;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const ROUNDS = 10;

/**
 * Sequential round trips, alternating between the two targets in rounds so that whatever else this shared
 * machine is doing weighs on both alike.
 */
async function roundTrips(targets: MessageConnection[]): Promise<{ p50: number; p99: number }[]> {
  const samples: number[][] = targets.map(() => []);
  for (const connection of targets) for (let i = 0; i < 500; i++) await connection.sendRequest(HostInfoRequest.type, {});
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, connection] of targets.entries()) {
      for (let i = 0; i < ROUND_TRIPS / ROUNDS; i++) {
        const started = performance.now();
        await connection.sendRequest(HostInfoRequest.type, {});
        samples[index].push((performance.now() - started) * 1000);
      }
    }
  }
  return samples.map((list) => {
    list.sort((a, b) => a - b);
    return { p50: percentile(list, 50), p99: percentile(list, 99) };
  });
}

async function throughputOnce(path: string, initialize: boolean): Promise<number> {
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => open(path, initialize)));
  await Promise.all(connections.map(async (c) => { for (let i = 0; i < 20; i++) await c.sendRequest(HostInfoRequest.type, {}); }));
  const started = performance.now();
  await Promise.all(connections.map(async (c) => { for (let i = 0; i < REQUESTS_PER_CLIENT; i++) await c.sendRequest(HostInfoRequest.type, {}); }));
  const seconds = (performance.now() - started) / 1000;
  for (const c of connections) c.dispose();
  return (CLIENTS * REQUESTS_PER_CLIENT) / seconds;
}

/** Median of three alternating runs per target. */
async function throughput(targets: { path: string; initialize: boolean }[]): Promise<number[]> {
  const runs: number[][] = targets.map(() => []);
  for (let round = 0; round < 3; round++) {
    for (const [index, target] of targets.entries()) runs[index].push(await throughputOnce(target.path, target.initialize));
  }
  return runs.map((list) => list.sort((a, b) => a - b)[1]);
}

function pwshPerCall(socket: string): number | string {
  const pwsh = join(repo, '.tools', 'pwsh', 'pwsh');
  const script = `
$ErrorActionPreference = 'Stop'
Import-Module '${join(repo, 'PSModule', 'WinsHost', 'WinsHost.psd1')}'
Connect-HostBroker -Pipe $env:WINSHOST_PIPE
1..20 | ForEach-Object { $null = Get-HostNetwork }
$watch = [Diagnostics.Stopwatch]::StartNew()
1..${PWSH_CALLS} | ForEach-Object { $null = Get-HostNetwork }
$watch.Stop()
[Math]::Round($watch.Elapsed.TotalMilliseconds / ${PWSH_CALLS}, 3)`;
  const result = spawnSync(pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', script], {
    encoding: 'utf8',
    env: { ...process.env, WINSHOST_PIPE: socket, POWERSHELL_TELEMETRY_OPTOUT: '1' },
  });
  if (result.status !== 0) return `failed: ${(result.stderr || result.stdout).trim().split('\n').pop()}`;
  return Number(result.stdout.trim());
}

const dir = mkdtempSync(join(tmpdir(), 'winshost-bench-'));
const echoPath = join(dir, 'echo.sock');
const brokerPath = join(dir, 'broker.sock');
const echo = await startProcess([join(repo, 'bench', 'echo-server.mjs'), echoPath]);
const broker = await startProcess([join(repo, 'dist', 'broker', 'cli.js'), 'serve', '--listen', brokerPath, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'audit.log')]);
try {
  const floorConnection = await open(echoPath, false);
  const brokerConnection = await open(brokerPath, true);
  const [brokerRtt, floorRtt] = await roundTrips([brokerConnection, floorConnection]);
  floorConnection.dispose();
  brokerConnection.dispose();
  const [brokerRps, floorRps] = await throughput([
    { path: brokerPath, initialize: true },
    { path: echoPath, initialize: false },
  ]);
  const perCall = pwshPerCall(brokerPath);

  const rows: [string, string, string, string, string][] = [
    ['host/info round trip p50 (µs)', brokerRtt.p50.toFixed(1), floorRtt.p50.toFixed(1), (brokerRtt.p50 / floorRtt.p50).toFixed(2), `≤ 2.00 ${brokerRtt.p50 / floorRtt.p50 <= 2 ? 'met' : 'MISSED'}`],
    ['host/info round trip p99 (µs)', brokerRtt.p99.toFixed(1), floorRtt.p99.toFixed(1), (brokerRtt.p99 / floorRtt.p99).toFixed(2), ''],
    [`throughput, ${CLIENTS} clients (req/s)`, brokerRps.toFixed(0), floorRps.toFixed(0), (brokerRps / floorRps).toFixed(2), `≥ 0.50 ${brokerRps / floorRps >= 0.5 ? 'met' : 'MISSED'}`],
    ['Get-HostNetwork per call, warm pwsh (ms)', String(perCall), '', '', ''],
  ];
  const header: [string, string, string, string, string] = ['measure', 'broker', 'floor (echo)', 'ratio', 'target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(`\nWinsHost broker benchmark (${ROUND_TRIPS} sequential round trips in ${ROUNDS} alternating rounds; median of 3 runs of ${CLIENTS}×${REQUESTS_PER_CLIENT} requests; policy + audit file in the path)`);
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
} finally {
  echo.kill('SIGTERM');
  broker.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 200));
  rmSync(dir, { recursive: true, force: true });
}
