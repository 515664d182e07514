import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AuditLog } from './audit.js';
import { loadBuiltInPolicy } from './policy/default.js';
import { loadPolicyFile, parsePolicy, PolicyError, type LoadedPolicy } from './policy/load.js';
import { loadWinsConfigFile } from './policy/wins.js';
import { currentPlatform } from './platform/index.js';
import { FixtureError, fixturePlatform, loadFixtureFile, recordFixture, writeFixtureFile } from './platform/fixture.js';
import { Broker } from './server/broker.js';
import { isWindows } from './server/listener.js';
import { installLinuxService, ServiceError, uninstallLinuxService } from './service/linux.js';
import { installWindowsService, uninstallWindowsService } from './service/windows.js';
import { runAsService, type ServiceLifecycle } from './service/windows-dispatcher.js';
import { stringify } from 'yaml';

// Both broker/src/cli.ts and the bundle dist/broker/cli.js sit two folders below package.json.
export const brokerVersion: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

const USAGE = `winshost-broker ${brokerVersion}: the WinsHost host broker

Usage:
  winshost-broker serve [--policy FILE] [--listen PATH] [--state-dir DIR] [--audit FILE|-] [--max-message-bytes N] [--service] [--fixture FILE]
  winshost-broker check-policy FILE
  winshost-broker check-policy --from-wins WINS_CONFIG [--out FILE]
  winshost-broker install-service [--root DIR] [--policy FILE] [--state-dir DIR] [--audit FILE] [--listen PATH]
  winshost-broker uninstall-service [--root DIR]
  winshost-broker record-fixture [--out FILE]
  winshost-broker --version | --help

serve         listen for callers; without --policy the built-in policy grants host and network reading only
              --service: run under the Windows service control manager (install-service sets it)
              --fixture: a test host from a JSON fixture instead of this one: its host facts, adapters and
              routes, scripted programs (nothing is executed), proxy policies kept in memory; files and
              credential specs stay real (for WinsHost.Testing's Start-WinsHostTestBroker)
check-policy  validate a policy file and print every problem as file:line:column: message
              --from-wins: convert a rancher/wins config (white_list) to a policy, notes to stderr,
              the policy to stdout or --out FILE
install-service    run serve with these flags at boot: a systemd unit (Linux; with --root other than /
                   only <root>/etc/systemd/system/winshost-broker.service is written) or the Windows
                   service WinsHostBroker (auto start, restart on failure, event log source)
uninstall-service  stop and remove it
record-fixture     write this host's facts, adapters and routes as a fixture for serve --fixture
                   (to stdout, or --out FILE); add scripted programs under "processes" by hand
`;

const defaultStateDir = isWindows ? join(process.env.ProgramData ?? 'C:\\ProgramData', 'WinsHost') : '/var/lib/winshost';

class UsageError extends Error {}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: 'string' },
      listen: { type: 'string' },
      'state-dir': { type: 'string' },
      audit: { type: 'string' },
      'max-message-bytes': { type: 'string' },
      fixture: { type: 'string' },
      service: { type: 'boolean' },
    },
    strict: true,
  });
  const { service, ...flags } = values;
  if (service) {
    if (!isWindows) throw new UsageError('--service is for the Windows service control manager; on Linux run serve under systemd (install-service)');
    // The SCM is told the exit code main() gives the same failure.
    return runAsService((lifecycle) => serveWith(flags, lifecycle), { exitCodeOf: (error) => (error instanceof UsageError ? 2 : error instanceof PolicyError || error instanceof FixtureError ? 1 : 70) });
  }
  return serveWith(flags);
}

type ServeFlags = { [flag in 'policy' | 'listen' | 'state-dir' | 'audit' | 'max-message-bytes' | 'fixture']?: string };

/** `serve` itself; under the SCM `service` is told when the listeners are open and says when to stop. */
async function serveWith(values: ServeFlags, service?: ServiceLifecycle): Promise<number> {
  let maxMessageBytes: number | undefined;
  if (values['max-message-bytes'] !== undefined) {
    maxMessageBytes = Number(values['max-message-bytes']);
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024) throw new UsageError('--max-message-bytes must be a whole number of at least 1024');
  }
  const loaded: LoadedPolicy = values.policy ? loadPolicyFile(values.policy) : loadBuiltInPolicy();
  const fixtureFile = values.fixture;
  const fixture = fixtureFile === undefined ? undefined : loadFixtureFile(fixtureFile);
  let audit: AuditLog;
  try {
    audit = AuditLog.open(values.audit ?? loaded.policy.audit?.path ?? '-');
  } catch (error) {
    console.error(`winshost-broker: cannot open the audit log: ${(error as Error).message}`);
    return 3;
  }
  const broker = new Broker({
    policy: loaded,
    platform: fixture === undefined ? await currentPlatform() : fixturePlatform(fixture, await currentPlatform(), fixtureFile),
    audit,
    stateDir: values['state-dir'] ?? defaultStateDir,
    brokerVersion,
    listenPath: values.listen,
    maxMessageBytes,
  });
  let listeners;
  try {
    listeners = await broker.start();
  } catch (error) {
    await audit.close();
    console.error(`winshost-broker: ${(error as Error).message}`);
    return 3;
  }
  printBanner(loaded.source, audit.target, listeners);
  service?.running();
  if (fixtureFile !== undefined) console.error(`  platform: fixture ${fixtureFile} (host ${fixture!.host.HostName}; scripted programs, proxy in memory)`);
  const policyFile = values.policy;
  // A bad edit must not take a running broker down or leave it without a policy: keep the old one and say why.
  const reload = () => {
    if (!policyFile) {
      console.error('winshost-broker: SIGHUP: no --policy file to reload; the built-in policy stays');
      return;
    }
    let next: LoadedPolicy;
    try {
      next = loadPolicyFile(policyFile);
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      // PolicyError's message is its problems, one `file:line:column: message` a line.
      console.error(`winshost-broker: SIGHUP: ${policyFile} is invalid; keeping the current policy\n${error.message}`);
      return;
    }
    const notes = broker.reload(next);
    console.error(`winshost-broker: SIGHUP: policy reloaded from ${policyFile} (${next.policy.listeners.length} listener(s), ${Object.keys(next.policy.profiles).length} profile(s)); new connections use it`);
    for (const note of notes) console.error(`winshost-broker:   ${note}`);
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void service?.stopRequested.then(stop);
  });
  process.off('SIGHUP', reload);
  await broker.stop();
  await audit.close();
  console.error('winshost-broker: stopped');
  return 0;
}

function printBanner(source: string, auditTarget: string, listeners: { name: string; path: string; profiles: string[] }[]): void {
  const lines = [`winshost-broker ${brokerVersion} serving (policy ${source}, audit ${auditTarget})`];
  for (const listener of listeners) lines.push(`  listener ${listener.name}: ${listener.path} (profiles: ${listener.profiles.join(', ')})`);
  const first = listeners[0].path;
  lines.push('Connect from PowerShell:', `  Import-Module ./PSModule/WinsHost; Get-HostNetwork -Pipe '${first}'`);
  if (isWindows) {
    lines.push('Mount into a container:', `  docker run -v ${first}:${first} ...`);
  } else {
    const dir = first.slice(0, first.lastIndexOf('/')) || '/';
    lines.push('Mount into a container:', `  docker run -v ${dir}:${dir} -e WINSHOST_PIPE=${first} ...`);
  }
  lines.push('Stop with Ctrl+C (SIGINT) or SIGTERM.');
  console.error(lines.join('\n'));
}

function checkPolicy(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { 'from-wins': { type: 'string' }, out: { type: 'string' } },
  });
  const winsFile = values['from-wins'];
  if (winsFile !== undefined) {
    if (positionals.length !== 0) throw new UsageError('check-policy --from-wins takes no other FILE');
    const { policy, notes } = loadWinsConfigFile(winsFile);
    const text = `# Converted from the wins config ${winsFile} by winshost-broker check-policy --from-wins.\n${stringify(policy)}`;
    // The result goes through the same loader as any policy file, so what is written is known to load.
    parsePolicy(text, values.out ?? '<converted>');
    for (const note of notes) console.error(note);
    if (values.out === undefined) {
      process.stdout.write(text);
      return 0;
    }
    try {
      writeFileSync(values.out, text);
    } catch (error) {
      console.error(`winshost-broker: cannot write ${values.out} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return 1;
    }
    console.error(`${values.out}: written (${policy.profiles.wins?.processes?.length ?? 0} process rule(s))`);
    return 0;
  }
  if (values.out !== undefined) throw new UsageError('--out is only for check-policy --from-wins');
  if (positionals.length !== 1) throw new UsageError('check-policy takes exactly one FILE');
  const { policy, source } = loadPolicyFile(positionals[0]);
  console.log(`${source}: ok (${policy.listeners.length} listener(s), ${Object.keys(policy.profiles).length} profile(s))`);
  return 0;
}

async function installService(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { root: { type: 'string' }, policy: { type: 'string' }, 'state-dir': { type: 'string' }, audit: { type: 'string' }, listen: { type: 'string' } },
  });
  if (isWindows && values.root !== undefined) throw new UsageError('--root is for Linux (systemd) only');
  // The service does not start in this directory: every path becomes absolute, and the policy must load now.
  const policyFile = values.policy === undefined ? undefined : resolve(values.policy);
  const loaded = policyFile === undefined ? loadBuiltInPolicy() : loadPolicyFile(policyFile);
  const stateDir = resolve(values['state-dir'] ?? defaultStateDir);
  const audit = values.audit === undefined || values.audit === '-' ? values.audit : resolve(values.audit);
  const listen = values.listen === undefined || isWindows ? values.listen : resolve(values.listen);
  const script = fileURLToPath(import.meta.url);
  // Run from the sources (tsx), the service needs the same loader; the bundle needs nothing.
  const nodeArgs = script.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];
  const command = [process.execPath, ...nodeArgs, script, 'serve'];
  if (policyFile !== undefined) command.push('--policy', policyFile);
  command.push('--state-dir', stateDir);
  if (audit !== undefined) command.push('--audit', audit);
  if (listen !== undefined) command.push('--listen', listen);
  if (isWindows) {
    await installWindowsService(command);
    return 0;
  }
  const auditFile = audit ?? loaded.policy.audit?.path;
  const sockets = loaded.policy.listeners.map((listener, i) => (i === 0 && listen !== undefined ? listen : resolve(listener.path ?? `/run/winshost/${listener.name}.sock`)));
  const writablePaths = [stateDir, ...(auditFile && auditFile !== '-' ? [dirname(resolve(auditFile))] : []), ...sockets.map((socket) => dirname(socket))];
  await installLinuxService({ command, writablePaths }, { root: values.root ?? '/' });
  return 0;
}

async function recordFixtureCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: { out: { type: 'string' } } });
  const fixture = await recordFixture(await currentPlatform());
  if (values.out === undefined) {
    process.stdout.write(`${JSON.stringify(fixture, null, 2)}\n`);
    return 0;
  }
  try {
    writeFixtureFile(values.out, fixture);
  } catch (error) {
    console.error(`winshost-broker: cannot write ${values.out} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return 1;
  }
  console.error(`${values.out}: written (${fixture.network.adapters.length} adapter(s), ${fixture.network.routes.length} route(s))`);
  return 0;
}

async function uninstallService(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: { root: { type: 'string' } } });
  if (isWindows && values.root !== undefined) throw new UsageError('--root is for Linux (systemd) only');
  if (isWindows) await uninstallWindowsService();
  else await uninstallLinuxService({ root: values.root ?? '/' });
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'check-policy':
        return checkPolicy(rest);
      case 'install-service':
        return await installService(rest);
      case 'uninstall-service':
        return await uninstallService(rest);
      case 'record-fixture':
        return await recordFixtureCommand(rest);
      case '--version':
      case '-v':
        console.log(brokerVersion);
        return 0;
      case '--help':
      case '-h':
      case 'help':
        console.log(USAGE);
        return 0;
      default:
        throw new UsageError(command === undefined ? 'a command is required' : `unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof ServiceError) {
      console.error(`winshost-broker: ${error.message}`);
      return 1;
    }
    if (error instanceof PolicyError || error instanceof FixtureError) {
      console.error(error.message);
      return 1;
    }
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`winshost-broker: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`winshost-broker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(70);
  },
);
