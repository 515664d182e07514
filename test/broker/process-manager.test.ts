import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ProcessManager } from '../../broker/src/handlers/process-manager.js';
import type { HostPlatformProcesses, LaunchedProcess, ProcessEvents, ProcessLaunch } from '../../broker/src/platform/types.js';
import { sleep } from './support.js';


describe('ProcessManager', () => {
  it('stops a program whose caller went away while it was starting (no orphan, no notify to a closed caller)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-pm-'));
    let launched: LaunchedProcess | undefined;
    let stopped = false;
    const platform = {
      baseEnvironment: () => ({}),
      instanceOf: async () => null,
      stopOrphanTree: async () => {},
      exposePort: async () => {},
      closePort: async () => {},
      // A slow start: the caller's connection closes in the middle of it.
      launch: async (_spec: ProcessLaunch, events: ProcessEvents) => {
        await sleep(200);
        const child = spawn('sleep', ['30'], { stdio: ['ignore', 'pipe', 'pipe'] });
        child.once('exit', (code, signal) => events.close(code, signal));
        launched = {
          child,
          pid: child.pid!,
          instance: 'test',
          stopTree: async () => {
            stopped = true;
            child.kill('SIGKILL');
          },
          release: () => {},
        };
        return launched;
      },
    } as unknown as HostPlatformProcesses;
    const manager = new ProcessManager(platform, dir, () => {});
    try {
      const starting = manager.start(
        { path: '/usr/bin/sleep', args: ['30'], env: {}, cwd: '/', stdin: false, detach: false },
        { exposes: [], rule: 'profiles.p.processes.0', owner: { connectionId: 7, uid: 0, profile: 'p', listener: 'l' } },
      );
      await sleep(50);
      await manager.connectionClosed(7);
      await starting;
      assert.equal(stopped, true, 'the program started for a caller that had gone is stopped');
      assert.deepEqual(manager.visible({ connectionId: 7, uid: 0, profile: 'p', listener: 'l' }).filter((p) => p.State === 'Running'), []);
    } finally {
      launched?.child.kill('SIGKILL');
      await manager.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
