/**
 * Session hosts on Windows. The host always runs on the host: a container session is opened by the session
 * host itself through PowerShell Direct (`containerId` in the open config), so no process has to be started
 * inside the container and the container needs no listener.
 */
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NotSupportedOnPlatformError } from '../../errors.js';
import type { ContainerRef } from '../../policy/schema.js';
import type { HostPlatformSessions, ResolvedContainer, SessionHostSpawn } from '../types.js';
import { windowsBaseEnvironment } from './processes.js';

export interface WindowsSessionDeps {
  env: NodeJS.ProcessEnv;
  exists(path: string): boolean;
  spawn(file: string, args: string[], options: SpawnOptions): ChildProcess;
}

function variable(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const upper = name.toUpperCase();
  for (const [key, value] of Object.entries(env)) if (key.toUpperCase() === upper && value) return value;
  return undefined;
}

/** PowerShell 7 where its installer puts it, else the Windows PowerShell every Windows has. */
export function defaultWindowsExecutable(env: NodeJS.ProcessEnv, exists: (path: string) => boolean): string {
  const programFiles = variable(env, 'ProgramFiles') ?? 'C:\\Program Files';
  const pwsh = path.win32.join(programFiles, 'PowerShell', '7', 'pwsh.exe');
  if (exists(pwsh)) return pwsh;
  const systemRoot = variable(env, 'SystemRoot') ?? 'C:\\Windows';
  return path.win32.join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

/** The system's locations (as for processes) and the policy's variables; nothing of the broker's own. */
export function windowsSessionEnvironment(env: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  return { ...windowsBaseEnvironment(env), ...extra };
}

export function resolveWindowsContainer(name: string, ref: ContainerRef): ResolvedContainer {
  if (ref.containerId === undefined) {
    throw new NotSupportedOnPlatformError(`container '${name}' is given by a Linux namespace, pid file or cgroup; Windows containers are named by containerId`, 'windows');
  }
  // Whether it exists and runs is for PowerShell Direct to say (openFailed ContainerUnreachable).
  return { name, openConfig: { containerId: ref.containerId }, release: () => {} };
}

/** What `spawnHost` passes to spawn: kept apart so a test can compare it whole. */
export function windowsSessionSpawn(spec: SessionHostSpawn, env: NodeJS.ProcessEnv): { file: string; args: string[]; options: SpawnOptions } {
  return {
    file: spec.executable,
    args: spec.args,
    options: {
      cwd: spec.cwd,
      env: windowsSessionEnvironment(env, spec.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      // The broker runs as a service without a desktop; a console window would flash on an interactive one.
      windowsHide: true,
    },
  };
}

export function windowsSessions(deps: Partial<WindowsSessionDeps> = {}): HostPlatformSessions {
  const env = deps.env ?? process.env;
  const exists = deps.exists ?? existsSync;
  const spawn = deps.spawn ?? nodeSpawn;
  return {
    async defaultExecutable() {
      return defaultWindowsExecutable(env, exists);
    },
    async resolveContainer(name, ref) {
      return resolveWindowsContainer(name, ref);
    },
    spawnHost(spec) {
      const { file, args, options } = windowsSessionSpawn(spec, env);
      return spawn(file, args, options);
    },
  };
}
