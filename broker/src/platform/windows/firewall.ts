import { execFile } from 'node:child_process';
import path from 'node:path';
import { HostOperationFailedError, InvalidParamsError } from '../../errors.js';
import type { HostPlatformProcesses } from '../types.js';

/**
 * Windows Firewall rules for ports a process exposes, made with the NetSecurity cmdlets.
 *
 * wins built its rules by pasting values into PowerShell text. Here the script is a constant and every value
 * (rule name, protocol, port) travels as data: JSON, base64-encoded into one environment variable, decoded and
 * parsed inside the script. Nothing a caller influences is ever part of the text PowerShell parses, so no
 * value can end a string or start a command, whatever quotes, `$( )`, semicolons or newlines it holds.
 *
 * Why not node-powershell (installed, v5): it runs `powershell -Command -` and writes commands to its stdin,
 * where PowerShell reads line by line as at a prompt (a multi-line try/catch needs a blank line to run); it
 * calls an invocation failed when anything appears on stderr and never sees the exit code; the executable is
 * taken from NODE_POWERSHELL ahead of any path given, else looked up by bare name; its `$` template tag pastes
 * values into the command unescaped (the trap this file exists to avoid); and the environment, our only data
 * channel, is fixed when its shell starts, so each call would need a new shell anyway. One powershell.exe per
 * call, started by full path with the script as -EncodedCommand (UTF-16LE base64: no command-line quoting
 * between us and the parser), does all of that directly.
 */

export const FIREWALL_DATA_VARIABLE = 'WINSHOST_FIREWALL_DATA';
/** The rule group: our rules are looked up only inside it. */
export const FIREWALL_RULE_GROUP = 'WinsHost';
/** Marks the script's one result line on stdout, base64 of UTF-8 JSON, so no console code page can garble it. */
export const RESULT_MARKER = 'WINSHOST-RESULT ';

/**
 * Both scripts share everything but the action. Failures come back on stdout, not stderr: with
 * -EncodedCommand and a redirected stderr, Windows PowerShell writes error records there as CLIXML.
 * Rules are found by listing the group and comparing DisplayName exactly (`-ceq`), because the cmdlets'
 * -DisplayName parameter takes wildcards: a name containing `*` or `[` would match other owners' rules.
 */
function firewallScript(action: string[]): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    'function Write-WinsHostResult([hashtable] $Result) {',
    '  $json = ConvertTo-Json -InputObject $Result -Compress',
    `  [Console]::Out.WriteLine('${RESULT_MARKER}' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json)))`,
    '}',
    'try {',
    `  $data = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($env:${FIREWALL_DATA_VARIABLE})) | ConvertFrom-Json`,
    `  $rules = @(Get-NetFirewallRule -Group '${FIREWALL_RULE_GROUP}' -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName -ceq $data.name })`,
    ...action.map((line) => `  ${line}`),
    '  Write-WinsHostResult @{ ok = $true }',
    '} catch {',
    '  Write-WinsHostResult @{ ok = $false; error = $_.Exception.Message }',
    '  exit 1',
    '}',
    'exit 0',
  ].join('\n');
}

/** Adds the rule unless one of that name is already in the group, so exposing twice leaves one rule. */
export const ADD_RULE_SCRIPT = firewallScript([
  'if ($rules.Count -eq 0) {',
  `  $null = New-NetFirewallRule -DisplayName $data.name -Group '${FIREWALL_RULE_GROUP}' -Direction Inbound -Action Allow -Protocol $data.protocol -LocalPort $data.port`,
  '}',
]);

/** Removes every rule of that name in the group; none is not an error. */
export const REMOVE_RULE_SCRIPT = firewallScript(['if ($rules.Count -gt 0) { $rules | Remove-NetFirewallRule }']);

export interface FirewallPort {
  protocol: 'tcp' | 'udp';
  port: number;
}

/** What the script receives, before encoding. */
export interface FirewallData {
  name: string;
  protocol: 'TCP' | 'UDP';
  port: number;
}

export function firewallRuleName(port: FirewallPort, owner: string): string {
  return `WinsHost ${owner} ${port.protocol}/${port.port}`;
}

function checked(port: FirewallPort, owner: string): FirewallData {
  if (port.protocol !== 'tcp' && port.protocol !== 'udp') throw new InvalidParamsError(`unknown protocol ${String(port.protocol)}`, 'protocol');
  if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65_535) throw new InvalidParamsError(`port ${String(port.port)} is not 1-65535`, 'port');
  if (typeof owner !== 'string' || owner.length === 0) throw new InvalidParamsError('a firewall rule needs an owner', 'owner');
  return { name: firewallRuleName(port, owner), protocol: port.protocol === 'tcp' ? 'TCP' : 'UDP', port: port.port };
}

/** The value of WINSHOST_FIREWALL_DATA: base64 of the UTF-8 JSON, i.e. only [A-Za-z0-9+/=]. */
export function encodeFirewallData(data: FirewallData): string {
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64');
}

/** powershell.exe's -EncodedCommand form: base64 of the UTF-16LE text. */
export function encodeCommand(script: string): string {
  return Buffer.from(script, 'utf16le').toString('base64');
}

export interface PowerShellResult {
  /** The exit code; null when the process was killed (timeout) or never started. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Set when the process did not start or was killed. */
  error?: Error;
}

/** Runs one constant script with extra environment variables. Injected so tests need no PowerShell. */
export type PowerShellRunner = (script: string, env: Record<string, string>) => Promise<PowerShellResult>;

export type ExecFileFn = (
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; windowsHide: boolean; timeout: number; maxBuffer: number; encoding: 'utf8' },
  callback: (error: (Error & { code?: unknown }) | null, stdout: string, stderr: string) => void,
) => unknown;

export const POWERSHELL_TIMEOUT_MS = 120_000;

export function powerShellPath(systemRoot = process.env.SystemRoot ?? 'C:\\Windows'): string {
  // By full path: a bare name would be searched for in the working directory and PATH first.
  return path.win32.join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

export function powerShellArgs(script: string): string[] {
  return ['-NoLogo', '-NoProfile', '-NonInteractive', '-EncodedCommand', encodeCommand(script)];
}

export function powerShellRunner(options: { execFile?: ExecFileFn; executable?: string; baseEnv?: NodeJS.ProcessEnv } = {}): PowerShellRunner {
  const run = options.execFile ?? (execFile as unknown as ExecFileFn);
  const executable = options.executable ?? powerShellPath();
  return (script, extra) =>
    new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = {};
      // Windows names are case-insensitive: drop any spelling of ours from the inherited set.
      const ours = new Set(Object.keys(extra).map((name) => name.toUpperCase()));
      for (const [name, value] of Object.entries(options.baseEnv ?? process.env)) {
        if (!ours.has(name.toUpperCase())) env[name] = value;
      }
      Object.assign(env, extra);
      run(
        executable,
        powerShellArgs(script),
        { env, windowsHide: true, timeout: POWERSHELL_TIMEOUT_MS, maxBuffer: 1024 * 1024, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (!error) return resolve({ exitCode: 0, stdout, stderr });
          resolve({ exitCode: typeof error.code === 'number' ? error.code : null, stdout: stdout ?? '', stderr: stderr ?? '', error });
        },
      );
    });
}

/** `_xHHHH_` escapes and XML entities of CLIXML strings. */
function decodeCliXmlString(text: string): string {
  return text
    .replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(/&(lt|gt|quot|apos|amp);/g, (_, name: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[name] ?? '');
}

/** PowerShell's own stderr as text: the error strings out of `#< CLIXML` when it is that. */
export function stderrText(stderr: string): string {
  const trimmed = stderr.trim();
  if (!trimmed.startsWith('#< CLIXML')) return trimmed;
  const parts = [...trimmed.matchAll(/<S S="Error">([\s\S]*?)<\/S>/g)].map((match) => decodeCliXmlString(match[1]));
  return parts.join('').trim();
}

/** The script's verdict: its result line if it wrote one, else whatever PowerShell or the start failure said. */
export function firewallOutcome(result: PowerShellResult): { ok: true } | { ok: false; message: string } {
  const line = result.stdout.split(/\r?\n/).find((text) => text.startsWith(RESULT_MARKER));
  if (line) {
    try {
      const parsed = JSON.parse(Buffer.from(line.slice(RESULT_MARKER.length).trim(), 'base64').toString('utf8')) as { ok?: unknown; error?: unknown };
      if (parsed.ok === true && result.exitCode === 0) return { ok: true };
      if (parsed.ok === false) return { ok: false, message: typeof parsed.error === 'string' && parsed.error ? parsed.error : 'unknown error' };
    } catch {
      // An unreadable result line is reported like a missing one, below.
    }
  }
  const detail = stderrText(result.stderr) || result.error?.message || `powershell.exe exited with code ${String(result.exitCode)}`;
  return { ok: false, message: detail };
}

export function windowsFirewall(run: PowerShellRunner): Pick<HostPlatformProcesses, 'exposePort' | 'closePort'> {
  // One change at a time: two adds of the same name racing past the existence check would make two rules.
  let queue: Promise<unknown> = Promise.resolve();

  function change(script: string, verb: string, port: FirewallPort, owner: string): Promise<void> {
    let data: FirewallData;
    try {
      data = checked(port, owner);
    } catch (error) {
      return Promise.reject(error);
    }
    const next = queue.then(async () => {
      let result: PowerShellResult;
      try {
        result = await run(script, { [FIREWALL_DATA_VARIABLE]: encodeFirewallData(data) });
      } catch (error) {
        throw new HostOperationFailedError(`${verb} firewall rule "${data.name}" failed: PowerShell did not run`, { cause: error, reason: 'FirewallFailed' });
      }
      const outcome = firewallOutcome(result);
      if (!outcome.ok) {
        throw new HostOperationFailedError(`${verb} firewall rule "${data.name}" failed: ${outcome.message}`, { cause: result.error, reason: 'FirewallFailed' });
      }
    });
    queue = next.catch(() => undefined);
    return next;
  }

  return {
    exposePort: (port, owner) => change(ADD_RULE_SCRIPT, 'adding', port, owner),
    closePort: (port, owner) => change(REMOVE_RULE_SCRIPT, 'removing', port, owner),
  };
}
