// `npm run bench:proxy`: time to apply a proxy policy with 50 port and 50 address exceptions through the
// broker (policy, audit, store, nsenter + nft), next to `nft -f` of the same ruleset run directly in the
// same namespace, in the same run. Needs root (a network namespace) and nft.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WinsHostClient } from '../broker/src/client/client.js';
import { proxyRuleset } from '../broker/src/platform/linux/proxy.js';
import { ProxyAddRequest, ProxyRemoveRequest, type ProxyPolicySettings } from '../typings/index.js';
import { median } from './stats.js';

const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? 20);
const settings: ProxyPolicySettings = {
  InboundProxyPort: 15006,
  OutboundProxyPort: 15001,
  OutboundExceptions: {
    Ports: Array.from({ length: 50 }, (_, i) => 20000 + i),
    IpAddresses: Array.from({ length: 50 }, (_, i) => `198.18.${i}.0/24`),
  },
  ExemptUser: 'uid:1337',
};

function nftDirect(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft exited ${code}`))));
    child.stdin.end(script);
  });
}

/** Runs inside the namespace: both measurements, alternating, printed as JSON. */
async function inside(socket: string): Promise<void> {
  const client = await WinsHostClient.connect(socket);
  const viaBroker: number[] = [];
  const direct: number[] = [];
  const script = proxyRuleset([{ ...settings, Id: 'bench', Target: 'bench', Applied: true, Created: new Date().toISOString() }]).script;
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    await client.request(ProxyAddRequest.type, { policy: settings });
    viaBroker.push(performance.now() - started);
    await client.request(ProxyRemoveRequest.type, { all: true });
    started = performance.now();
    await nftDirect(script);
    direct.push(performance.now() - started);
    await nftDirect(proxyRuleset([]).script);
  }
  client.close();
  console.log(JSON.stringify({ viaBroker: median(viaBroker), direct: median(direct) }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--inside') return inside(process.argv[3]);
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const namespace = `whbench${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'winshost-bench-proxy-'));
  writeFileSync(join(dir, 'policy.yaml'), `listeners:\n  - name: bench\n    profiles: [bench]\nprofiles:\n  bench:\n    proxy: { ports: [15001, 15006], exemptUsers: ['uid:1337'] }\n`);
  if (spawnSync('ip', ['netns', 'add', namespace]).status !== 0) throw new Error('cannot create a network namespace: run as root');
  const socket = join(dir, 'b.sock');
  const broker = spawn(process.execPath, [join(repo, 'dist', 'broker', 'cli.js'), 'serve', '--policy', join(dir, 'policy.yaml'), '--listen', socket, '--state-dir', join(dir, 'state'), '--audit', join(dir, 'audit.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      broker.stderr!.on('data', (chunk) => String(chunk).includes('serving') && resolve());
      broker.once('exit', (code) => reject(new Error(`broker exited ${code}`)));
    });
    const run = spawnSync('ip', ['netns', 'exec', namespace, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--inside', socket], { encoding: 'utf8', cwd: repo });
    if (run.status !== 0) throw new Error(run.stderr);
    const { viaBroker, direct } = JSON.parse(run.stdout.trim().split('\n').pop()!) as { viaBroker: number; direct: number };
    const ratio = viaBroker / direct;
    console.log(`\nWinsHost proxy policy apply (50 port + 50 address exceptions, median of ${ROUNDS})`);
    console.log(`Add-ProxyPolicy through the broker   ${viaBroker.toFixed(1)} ms`);
    console.log(`nft -f of the same ruleset           ${direct.toFixed(1)} ms`);
    console.log(`ratio                                ${ratio.toFixed(2)}   (target ≤ 2.00: ${ratio <= 2 ? 'met' : 'MISSED'})`);
  } finally {
    broker.kill('SIGTERM');
    spawnSync('ip', ['netns', 'del', namespace]);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
