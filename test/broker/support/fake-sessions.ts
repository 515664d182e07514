import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BrokerError } from '../../../broker/src/errors.js';
import type { HostPlatformSessions, SessionHostSpawn } from '../../../broker/src/platform/types.js';

export const FAKE_SESSION_HOST = fileURLToPath(new URL('./fake-session-host.mjs', import.meta.url));

export interface FakeSessions extends HostPlatformSessions {
  /** Every host started, in order, with the process that was spawned for it. */
  spawns: { spec: SessionHostSpawn; child: ChildProcess }[];
}

/**
 * Session hosts played by fake-session-host.mjs under this Node. Containers: a `netns` or `pidFile` named
 * `missing` is not found; anything else resolves and is recorded on the spawn.
 */
export function fakeSessions(): FakeSessions {
  const spawns: FakeSessions['spawns'] = [];
  return {
    spawns,
    async defaultExecutable() {
      return process.execPath;
    },
    async resolveContainer(name, ref) {
      if (ref.netns === 'missing' || ref.pidFile === 'missing') throw new BrokerError('NotFound', `container '${name}' was not found`, { reason: 'ContainerNotFound', container: name });
      return { name, openConfig: ref.containerId ? { containerId: ref.containerId } : {}, release() {} };
    },
    spawnHost(spec) {
      const child = spawn(process.execPath, [FAKE_SESSION_HOST], { cwd: spec.cwd, env: { ...spec.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      spawns.push({ spec, child });
      return child;
    },
  };
}
