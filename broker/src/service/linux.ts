import { execFile } from 'node:child_process';
import { accessSync, constants, lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';

/** `winshost-broker install-service` / `uninstall-service` on Linux: a systemd unit, written by pure code. */

export const UNIT_NAME = 'winshost-broker.service';
/** The first line of every unit WinsHost writes; a unit without it is never overwritten or removed. */
export const UNIT_MARKER = '# winshost-broker install-service: written by WinsHost; uninstall-service removes it.';

/** A clear, expected failure: the CLI prints the message and exits 1. */
export class ServiceError extends Error {}

export interface UnitOptions {
  /** The full command line: node, its flags, the bundle (or cli), `serve` and its flags. Absolute paths. */
  command: string[];
  /** Directories the broker writes: state dir, audit dir, socket dirs. /run/winshost is always added. */
  writablePaths: string[];
}

const RUNTIME_DIR = '/run/winshost';
const CAPABILITIES = ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_KILL', 'CAP_CHOWN', 'CAP_FOWNER'];

function checkLine(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new ServiceError(`a path or argument for the unit contains a line break or NUL: ${JSON.stringify(value)}`);
  return value;
}

/** One word of a systemd setting: `%` is a specifier, quotes keep spaces together, `\` escapes. */
export function quoteSystemdWord(value: string, exec = false): string {
  let text = checkLine(value).replace(/%/g, '%%');
  if (exec) text = text.replace(/\$/g, '$$$$');
  if (text !== '' && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(text)) return text;
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function buildUnit(options: UnitOptions): string {
  if (options.command.length < 2) throw new ServiceError('the service command needs at least node and the broker script');
  const writable = [...new Set([...options.writablePaths.map((path) => resolve(path)), RUNTIME_DIR])].sort();
  const caps = CAPABILITIES.join(' ');
  return [
    UNIT_MARKER,
    '# Re-run install-service to change it; for local additions use `systemctl edit winshost-broker` (a drop-in).',
    '[Unit]',
    'Description=WinsHost broker: least-privilege host access for containers',
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${options.command.map((word) => quoteSystemdWord(word, true)).join(' ')}`,
    '# The broker re-reads its --policy file on SIGHUP and keeps the old policy when the new one is invalid.',
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    'RestartSec=5s',
    '# Only the broker gets SIGTERM: it stops the programs tied to callers itself, and detached host',
    '# processes must outlive it (the next run adopts them from the state dir).',
    'KillMode=process',
    '# The socket directory that containers mount. Kept across restarts: a new directory would leave the',
    '# bind mounts of running containers pointing at the deleted one.',
    'RuntimeDirectory=winshost',
    'RuntimeDirectoryMode=0755',
    'RuntimeDirectoryPreserve=yes',
    '',
    '# Runs as root, but holds only these capabilities (the ambient set hands the same ones to ip, nft and',
    '# nsenter, which it runs):',
    '#   CAP_NET_ADMIN   proxy policies are nftables rules written into the caller\'s network namespace',
    '#   CAP_SYS_ADMIN   setns(2) into that namespace (nsenter --net=/proc/self/fd/3 nft ...); no other use',
    '#   CAP_SYS_PTRACE  opening /proc/<pid>/ns/net and a pidfd\'s fdinfo of a caller under another uid is a',
    '#                   ptrace-access check; without it callers that are not root are refused',
    '#   CAP_KILL        Stop-HostProcess signals a started program that switched to another uid',
    '#   CAP_CHOWN       a listener socket gets the owner/group the policy names',
    '#   CAP_FOWNER      chmod to the policy\'s mode of a socket (or state file) that belongs to another uid',
    '# Without CAP_DAC_OVERRIDE even root cannot read or write files that are not its own and not open to it.',
    `CapabilityBoundingSet=${caps}`,
    `AmbientCapabilities=${caps}`,
    'NoNewPrivileges=yes',
    '# The whole file system is read-only except the state dir, the audit dir and the socket dirs.',
    'ProtectSystem=strict',
    `ReadWritePaths=${writable.map((path) => quoteSystemdWord(path)).join(' ')}`,
    '# /home, /root and /run/user are invisible, also to the programs it starts and to Get-HostContent.',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'ProtectKernelModules=yes',
    '# /proc/sys and /sys read-only: ip and nft talk netlink and never write a sysctl.',
    'ProtectKernelTunables=yes',
    'ProtectKernelLogs=yes',
    '# Every program it starts gets its own cgroup under the broker\'s (winshost/p-...), so Stop-HostProcess',
    '# and a caller\'s disconnect end descendants that left the process group (setsid). That needs the',
    '# subtree delegated and the cgroup file system writable: ProtectControlGroups=yes would make it',
    '# read-only and the broker would fall back to process groups. It writes only below its own cgroup.',
    'Delegate=yes',
    '# AF_UNIX: its sockets; AF_NETLINK: ip and nft; AF_INET/AF_INET6: address queries and child programs.',
    'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    '# Deliberately off: V8\'s JIT needs writable-executable memory. Also not set on purpose:',
    '# RestrictNamespaces (setns into callers\' network namespaces), PrivateNetwork (it reports and edits',
    '# the host\'s networks), ProtectProc/ProcSubset (it reads /proc/<pid> of every caller).',
    'MemoryDenyWriteExecute=no',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export function unitPath(root: string): string {
  return join(resolve(root), 'etc/systemd/system', UNIT_NAME);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}
/** Runs a program with an argv array, never through a shell. */
export type CommandRunner = (file: string, args: string[]) => Promise<CommandResult>;

export const execFileRunner: CommandRunner = (file, args) =>
  new Promise((done) => {
    execFile(file, args, { timeout: 120_000, windowsHide: true }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : -1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr || (error && code === -1 ? error.message : '')) });
    });
  });

/** The full path of an executable on PATH, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface LinuxServiceContext {
  root: string;
  run?: CommandRunner;
  /** Where systemctl is; undefined when it is not installed. Defaults to a PATH search. */
  systemctl?: string | null;
  log?: (line: string) => void;
}

/** Is there a unit at the path, and did WinsHost write it? A symlink (a masked unit) is never ours. */
function existingUnit(file: string): 'none' | 'ours' {
  let stat;
  try {
    stat = lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw new ServiceError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (stat.isFile() && readFileSync(file, 'utf8').split('\n', 1)[0] === UNIT_MARKER) return 'ours';
  throw new ServiceError(
    `${file} exists and was not written by winshost-broker install-service (its first line is not the marker '${UNIT_MARKER}'); ` +
      'refusing to overwrite or remove it. Remove it yourself, or install with another --root.',
  );
}

function isRealRoot(root: string): boolean {
  return resolve(root) === '/';
}

async function systemctl(context: LinuxServiceContext, systemctlPath: string, args: string[]): Promise<CommandResult> {
  const result = await (context.run ?? execFileRunner)(systemctlPath, args);
  return result;
}

function resolveSystemctl(context: LinuxServiceContext): string | undefined {
  if (context.systemctl === null) return undefined;
  return context.systemctl ?? findOnPath('systemctl');
}

export async function installLinuxService(options: UnitOptions, context: LinuxServiceContext): Promise<void> {
  const log = context.log ?? ((line: string) => console.error(line));
  const file = unitPath(context.root);
  const text = buildUnit(options);
  const previous = existingUnit(file);
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temporary = `${file}.tmp-${process.pid}`;
    writeFileSync(temporary, text, { mode: 0o644 });
    renameSync(temporary, file);
  } catch (error) {
    throw new ServiceError(`cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  log(`${file}: ${previous === 'ours' ? 'replaced' : 'written'}`);
  if (!isRealRoot(context.root)) {
    log(`--root is ${resolve(context.root)}, not /: only the unit file was written; systemctl was not run.`);
    return;
  }
  // ProtectSystem=strict bind-mounts ReadWritePaths; a missing one fails the start, so create them now.
  for (const dir of options.writablePaths) mkdirSync(resolve(dir), { recursive: true, mode: 0o750 });
  const systemctlPath = resolveSystemctl(context);
  if (!systemctlPath) {
    log('systemctl was not found: the unit is written but not enabled or started.');
    return;
  }
  for (const args of [['daemon-reload'], ['enable', '--now', UNIT_NAME]]) {
    const result = await systemctl(context, systemctlPath, args);
    if (result.code !== 0) throw new ServiceError(`systemctl ${args.join(' ')} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`);
  }
  log(`systemctl enable --now ${UNIT_NAME}: done (reload the policy with systemctl reload winshost-broker)`);
}

export async function uninstallLinuxService(context: LinuxServiceContext): Promise<void> {
  const log = context.log ?? ((line: string) => console.error(line));
  const file = unitPath(context.root);
  if (existingUnit(file) === 'none') {
    log(`${file}: not installed, nothing to remove`);
    return;
  }
  const real = isRealRoot(context.root);
  const systemctlPath = real ? resolveSystemctl(context) : undefined;
  if (systemctlPath) {
    const result = await systemctl(context, systemctlPath, ['disable', '--now', UNIT_NAME]);
    if (result.code !== 0) log(`systemctl disable --now ${UNIT_NAME} failed (exit ${result.code}), removing the unit anyway: ${(result.stderr || result.stdout).trim()}`);
  }
  try {
    unlinkSync(file);
  } catch (error) {
    throw new ServiceError(`cannot remove ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  log(`${file}: removed`);
  if (systemctlPath) {
    const result = await systemctl(context, systemctlPath, ['daemon-reload']);
    if (result.code !== 0) throw new ServiceError(`systemctl daemon-reload failed (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`);
  } else if (!real) {
    log(`--root is ${resolve(context.root)}, not /: only the unit file was removed; systemctl was not run.`);
  } else {
    log('systemctl was not found: the unit file is removed, nothing else was done.');
  }
}
