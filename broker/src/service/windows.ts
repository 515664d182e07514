import { ServiceError, execFileRunner, type CommandResult, type CommandRunner } from './linux.js';

/**
 * `winshost-broker install-service` / `uninstall-service` on Windows: sc.exe and reg.exe, run by full path
 * with argv arrays (execFile, no shell). The argument lists are built by pure functions.
 */

export const SERVICE_NAME = 'WinsHostBroker';
export const DISPLAY_NAME = 'WinsHost broker';
export const DESCRIPTION = 'WinsHost: least-privilege host access for containers (JSON-RPC on \\\\.\\pipe\\winshost, default-deny policy, audit log).';
export const EVENT_LOG_KEY = `HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\${SERVICE_NAME}`;
/** What New-EventLog registers: the .NET Framework's generic message file. */
export const EVENT_MESSAGE_FILE = '%SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll';

/** One argument of a Windows command line, as CommandLineToArgvW and the C runtime read it back. */
export function quoteWindowsArg(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      backslashes++;
      continue;
    }
    out += ch === '"' ? `${'\\'.repeat(backslashes * 2 + 1)}"` : `${'\\'.repeat(backslashes)}${ch}`;
    backslashes = 0;
  }
  return `${out}${'\\'.repeat(backslashes * 2)}"`;
}

/**
 * The command the SCM runs: `serve --service` and the flags, so the broker answers the service control protocol
 * (service/windows-dispatcher.ts) instead of being stopped after the start timeout.
 */
export function serviceCommand(command: string[]): string[] {
  const serve = command.indexOf('serve');
  if (serve < 0) throw new Error(`the service command has no 'serve': ${command.join(' ')}`);
  if (command.includes('--service')) return [...command];
  return [...command.slice(0, serve + 1), '--service', ...command.slice(serve + 1)];
}

/** The service's binPath: node.exe, the bundle, `serve` and its flags, each quoted when needed. */
export function binPath(command: string[]): string {
  return command.map(quoteWindowsArg).join(' ');
}

export interface Invocation {
  file: string;
  args: string[];
}

function tools(systemRoot: string): { sc: string; reg: string } {
  const system32 = `${systemRoot.replace(/\\+$/, '')}\\System32`;
  return { sc: `${system32}\\sc.exe`, reg: `${system32}\\reg.exe` };
}

export function createArgs(command: string[]): string[] {
  return ['create', SERVICE_NAME, 'binPath=', binPath(serviceCommand(command)), 'start=', 'auto', 'DisplayName=', DISPLAY_NAME];
}
/** Same syntax as create, for a service that already exists (a second install). */
export function configArgs(command: string[]): string[] {
  return ['config', SERVICE_NAME, 'binPath=', binPath(serviceCommand(command)), 'start=', 'auto', 'DisplayName=', DISPLAY_NAME];
}
export const failureArgs = (): string[] => ['failure', SERVICE_NAME, 'reset=', '86400', 'actions=', 'restart/5000/restart/5000/restart/60000'];
export const descriptionArgs = (): string[] => ['description', SERVICE_NAME, DESCRIPTION];
export const eventLogArgs = (): string[][] => [
  ['add', EVENT_LOG_KEY, '/v', 'EventMessageFile', '/t', 'REG_EXPAND_SZ', '/d', EVENT_MESSAGE_FILE, '/f'],
  ['add', EVENT_LOG_KEY, '/v', 'TypesSupported', '/t', 'REG_DWORD', '/d', '7', '/f'],
];

/** Every call install-service makes, in order (the config fallback is not in it). */
export function installPlan(command: string[], systemRoot = 'C:\\Windows'): Invocation[] {
  const { sc, reg } = tools(systemRoot);
  return [
    { file: sc, args: createArgs(command) },
    { file: sc, args: failureArgs() },
    { file: sc, args: descriptionArgs() },
    ...eventLogArgs().map((args) => ({ file: reg, args })),
  ];
}

export function uninstallPlan(systemRoot = 'C:\\Windows'): Invocation[] {
  const { sc, reg } = tools(systemRoot);
  return [
    { file: sc, args: ['stop', SERVICE_NAME] },
    { file: sc, args: ['delete', SERVICE_NAME] },
    { file: reg, args: ['delete', EVENT_LOG_KEY, '/f'] },
  ];
}

// sc.exe exits with the Win32 error code.
const ERROR_ACCESS_DENIED = 5;
const ERROR_SERVICE_DOES_NOT_EXIST = 1060;
const ERROR_SERVICE_NOT_ACTIVE = 1062;
const ERROR_SERVICE_MARKED_FOR_DELETE = 1072;
const ERROR_SERVICE_EXISTS = 1073;

/** A failed sc.exe/reg.exe call as a message a person can act on. */
export function describeFailure(invocation: Invocation, result: CommandResult): string {
  const tool = invocation.file.replace(/^.*\\/, '');
  const what = `${tool} ${invocation.args[0]}`;
  const output = (result.stderr || result.stdout).replace(/\s+/g, ' ').trim();
  switch (result.code) {
    case ERROR_ACCESS_DENIED:
      return `${what}: access denied; run install-service/uninstall-service from an elevated (Administrator) prompt`;
    case ERROR_SERVICE_DOES_NOT_EXIST:
      return `${what}: the service ${SERVICE_NAME} is not installed`;
    case ERROR_SERVICE_MARKED_FOR_DELETE:
      return `${what}: the service ${SERVICE_NAME} is marked for deletion; close the Services console (services.msc) and retry`;
    case ERROR_SERVICE_EXISTS:
      return `${what}: the service ${SERVICE_NAME} already exists`;
    default:
      return `${what} failed (exit ${result.code})${output ? `: ${output}` : ''}`;
  }
}

export interface WindowsServiceContext {
  run?: CommandRunner;
  systemRoot?: string;
  log?: (line: string) => void;
}

async function call(context: WindowsServiceContext, invocation: Invocation): Promise<CommandResult> {
  return (context.run ?? execFileRunner)(invocation.file, [...invocation.args]);
}

export async function installWindowsService(command: string[], context: WindowsServiceContext = {}): Promise<void> {
  const log = context.log ?? ((line: string) => console.error(line));
  const systemRoot = context.systemRoot ?? process.env.SystemRoot ?? 'C:\\Windows';
  const [create, ...rest] = installPlan(command, systemRoot);
  let result = await call(context, create);
  if (result.code === ERROR_SERVICE_EXISTS) {
    // A second install updates the command line of the existing service.
    const config = { file: create.file, args: configArgs(command) };
    result = await call(context, config);
    if (result.code !== 0) throw new ServiceError(describeFailure(config, result));
    log(`${SERVICE_NAME}: existed, command line updated`);
  } else if (result.code !== 0) {
    throw new ServiceError(describeFailure(create, result));
  } else {
    log(`${SERVICE_NAME}: created (start= auto)`);
  }
  for (const invocation of rest) {
    result = await call(context, invocation);
    if (result.code !== 0) throw new ServiceError(describeFailure(invocation, result));
  }
  log(`${SERVICE_NAME}: restarts on failure (5 s, 5 s, 60 s; count reset after a day); event log source registered`);
  log(`binPath: ${binPath(serviceCommand(command))}`);
}

export async function uninstallWindowsService(context: WindowsServiceContext = {}): Promise<void> {
  const log = context.log ?? ((line: string) => console.error(line));
  const [stop, remove, registry] = uninstallPlan(context.systemRoot ?? process.env.SystemRoot ?? 'C:\\Windows');
  let result = await call(context, stop);
  if (result.code !== 0 && result.code !== ERROR_SERVICE_NOT_ACTIVE) throw new ServiceError(describeFailure(stop, result));
  result = await call(context, remove);
  if (result.code !== 0) throw new ServiceError(describeFailure(remove, result));
  log(`${SERVICE_NAME}: stopped and deleted`);
  result = await call(context, registry);
  // reg.exe exits 1 for a key that is not there: the source was already gone.
  if (result.code !== 0) log(`event log source: ${describeFailure(registry, result)}`);
  else log(`${SERVICE_NAME}: event log source removed`);
}
