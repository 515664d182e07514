// `npm run bench:session`: host sessions through WinsHost next to PowerShell's own remoting, measured in
// this run from the same warm pwsh: named-pipe remoting (`pwsh -CustomPipeName`, a runspace on
// NamedPipeConnectionInfo, both as `Invoke-Command` on a PSSession and as the bare PowerShell API) and SSH
// remoting when sshd is installed (as root it is installed from Debian packages when missing). Targets:
// round trip of `{ 1 }` ≤ 0.5× named-pipe remoting; session open < 300 ms.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const pwsh = join(repo, '.tools', 'pwsh', 'pwsh');
const bundle = join(repo, 'dist', 'broker', 'cli.js');
const rounds = Number(process.env.BENCH_SESSION_ROUNDS ?? 5);
const calls = Number(process.env.BENCH_SESSION_CALLS ?? 20);
const warmUpCalls = Number(process.env.BENCH_SESSION_WARMUP_CALLS ?? 300);

const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'winshost-session-bench-'));

/**
 * Children run in process groups of their own, ended whole: pwsh from a dotnet tool is a launcher whose dotnet
 * child outlives it (even after the launcher exited) and would keep this process waiting on its pipes.
 */
async function cleanUp(): Promise<void> {
  const ended = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => signalGroup(child, 'SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
      }),
  );
  for (const child of children) signalGroup(child, 'SIGTERM');
  // The broker writes its state until it has exited: removing the directory earlier races with that.
  await Promise.all(ended);
  rmSync(work, { recursive: true, force: true });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // The whole group is gone already.
  }
}

function waitFor(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${seen.slice(-2000)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${seen.slice(-2000)}`));
    });
  });
}

async function startBroker(): Promise<string> {
  const socket = join(work, 'broker.sock');
  const policy = join(work, 'policy.yaml');
  writeFileSync(
    policy,
    [
      'listeners:',
      '  - name: bench',
      `    path: ${socket}`,
      "    mode: '0600'",
      '    profiles: [bench]',
      'profiles:',
      '  bench:',
      '    sessions:',
      '      languageMode: FullLanguage',
      "      commands: ['*']",
      '      idleTimeoutSeconds: 0',
      '    limits: { sessions: 64 }',
      '    host: { read: true }',
      'sessionHost:',
      `  executable: ${pwsh}`,
      '  warm: 1',
      '',
    ].join('\n'),
  );
  const broker = spawn(process.execPath, [bundle, 'serve', '--policy', policy, '--state-dir', join(work, 'state'), '--audit', join(work, 'audit.log')], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(broker);
  await waitFor(broker, /serving|listening/, 'the broker');
  return socket;
}

async function startNamedPipeServer(): Promise<string> {
  const name = `winshost-bench-${process.pid}`;
  const server = spawn(pwsh, ['-NoLogo', '-NoProfile', '-CustomPipeName', name, '-Command', "'ready'; Start-Sleep 3600"], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(server);
  await waitFor(server, /ready/, 'pwsh -CustomPipeName');
  return name;
}

/** A private sshd on a loopback port with the powershell subsystem, key login for root; undefined when not possible. */
async function startSshd(): Promise<{ port: number; key: string } | { skipped: string }> {
  if (!existsSync('/usr/sbin/sshd')) {
    if (process.getuid?.() !== 0) return { skipped: 'sshd is not installed and this is not root' };
    const install = spawnSync('apt-get', ['install', '-y', '-q', 'openssh-server', 'openssh-client'], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (install.status !== 0) return { skipped: `apt-get install openssh-server failed: ${(install.stderr || install.stdout).trim().split('\n').slice(-2).join(' ')}` };
  }
  if (process.getuid?.() !== 0) return { skipped: 'SSH remoting is measured as root only' };
  const key = join(work, 'client_key');
  const hostKey = join(work, 'host_key');
  for (const file of [key, hostKey]) {
    const made = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file], { encoding: 'utf8' });
    if (made.status !== 0) return { skipped: `ssh-keygen failed: ${made.stderr}` };
  }
  writeFileSync(join(work, 'authorized_keys'), readFileSync(`${key}.pub`));
  chmodSync(join(work, 'authorized_keys'), 0o600);
  const port = 20000 + (process.pid % 20000);
  const config = join(work, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(work, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${join(work, 'sshd.pid')}`,
      `Subsystem powershell ${pwsh} -sshs -NoLogo -NoProfile`,
      '',
    ].join('\n'),
  );
  spawnSync('mkdir', ['-p', '/run/sshd']);
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(sshd);
  await waitFor(sshd, /Server listening/, 'sshd', 15_000);
  return { port, key };
}

/** The driver reports each round on stderr; a round takes seconds, so this much silence means it hangs. */
const stallMs = Number(process.env.BENCH_SESSION_STALL_SECONDS ?? 120) * 1000;

function runDriver(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(pwsh, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.push(child);
    let stdout = '';
    let stderr = '';
    let lastProgress = Date.now();
    // A remoting baseline that stops answering (seen with Invoke-Command over SSH or the named pipe) would
    // otherwise hold the bench until an outer timeout killed it without a word of where it stood.
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress < stallMs) return;
      clearInterval(watchdog);
      const lastLine = stderr.trim().split('\n').pop() ?? '(nothing yet)';
      reject(new Error(`the driver made no progress for ${stallMs / 1000} s after "${lastLine}"; run the bench again`));
    }, 1_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      lastProgress = Date.now();
      if (process.env.BENCH_VERBOSE) process.stderr.write(chunk);
    });
    child.once('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
    child.once('exit', (code) => {
      clearInterval(watchdog);
      if (code === 0) resolve(stdout);
      else reject(new Error(`the driver failed (${code}):\n${stdout}\n${stderr}`));
    });
  });
}

function ratio(ours: number, baseline: number): string {
  return (ours / baseline).toFixed(2);
}

try {
  if (!existsSync(bundle) || !existsSync(pwsh)) throw new Error('run `npm run setup` first (the broker bundle and .tools/pwsh are needed)');
  const brokerSocket = await startBroker();
  const pipeName = await startNamedPipeServer();
  console.log('broker and named-pipe server started; setting up sshd');
  const ssh = await startSshd().catch((error: Error) => ({ skipped: error.message }));
  const args = ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', join(repo, 'bench', 'session-driver.ps1'), '-ModulePath', join(repo, 'PSModule', 'WinsHost', 'WinsHost.psd1'), '-BrokerPipe', brokerSocket, '-PipeName', pipeName, '-Rounds', String(rounds), '-Calls', String(calls), '-WarmUpCalls', String(warmUpCalls)];
  if ('port' in ssh) args.push('-SshPort', String(ssh.port), '-SshKey', ssh.key);
  console.log(`measuring: ${warmUpCalls} warm-up calls of each quick operation, then ${rounds} rounds × ${calls} calls per target${'port' in ssh ? ', SSH included' : ''}`);
  // Not spawnSync: the broker's and the servers' output pipes must keep draining while the driver runs.
  const driver = await runDriver(args);
  const json = driver.trim().split('\n').pop()!;
  const results = JSON.parse(json) as Record<string, { p50: number; p90: number; n: number; rounds: number[] }>;
  console.log('session bench (milliseconds, p50 / p90 over alternating rounds, one warm pwsh as the caller)');
  for (const [name, value] of Object.entries(results)) console.log(`  ${name.padEnd(22)} ${value.p50.toFixed(2).padStart(9)} / ${value.p90.toFixed(2).padStart(9)}   n=${value.n}`);
  if ('skipped' in ssh) console.log(`  ssh: not measured (${ssh.skipped})`);
  const one = results['winshost.one'].p50;
  const gps = results['winshost.gps'].p50;
  console.log(`round trip { 1 }: WinsHost / Invoke-Command over named-pipe remoting = ${ratio(one, results['namedPipeCmdlet.one'].p50)} (target <= 0.5)`);
  // Rounds alternate targets, so each round of ours has the baseline's round beside it: their ratios show how
  // much of a run-to-run difference is the machine drifting (both move) rather than either side.
  const perRound = results['winshost.one'].rounds.map((ours, index) => ours / results['namedPipeCmdlet.one'].rounds[index]);
  const roundList = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ');
  console.log(`round trip { 1 }, per round: ${roundList(perRound)}; median ${median(perRound).toFixed(2)}`);
  console.log(`  (round medians in ms, WinsHost: ${roundList(results['winshost.one'].rounds)}; Invoke-Command: ${roundList(results['namedPipeCmdlet.one'].rounds)})`);
  console.log(`round trip { 1 }: WinsHost / bare PowerShell API over named-pipe remoting = ${ratio(one, results['namedPipeApi.one'].p50)}`);
  console.log(
    `round trip { 1 }: WinsHost's compiled connection called directly (no cmdlet) / bare PowerShell API = ${ratio(results['winshostApi.one'].p50, results['namedPipeApi.one'].p50)}; / Invoke-Command = ${ratio(results['winshostApi.one'].p50, results['namedPipeCmdlet.one'].p50)}`,
  );
  const brokerOnly = results['winshostApi.info'].p50;
  console.log(
    `where the compiled { 1 } goes: client and broker (host/info round trip) ${brokerOnly.toFixed(2)} ms, session host hop ${(results['winshostApi.one'].p50 - brokerOnly).toFixed(2)} ms, cmdlet layers ${(one - results['winshostApi.one'].p50).toFixed(2)} ms`,
  );
  console.log(`Get-Process | Select -First 50: WinsHost / Invoke-Command over named pipe = ${ratio(gps, results['namedPipeCmdlet.gps'].p50)}; / API = ${ratio(gps, results['namedPipeApi.gps'].p50)}`);
  if (results['ssh.one']) console.log(`round trip { 1 }: WinsHost / SSH remoting = ${ratio(one, results['ssh.one'].p50)}; open: SSH ${results['ssh.open'].p50.toFixed(0)} ms`);
  console.log(`session open on a warm host: WinsHost ${results['winshost.open'].p50.toFixed(0)} ms (target < 300), named-pipe runspace ${results['namedPipeApi.open'].p50.toFixed(0)} ms`);
  console.log(`session open with no warm host left (PowerShell start-up and the host's warm-up): ${results['winshost.coldOpen'].p50.toFixed(0)} ms`);
} finally {
  await cleanUp();
}
