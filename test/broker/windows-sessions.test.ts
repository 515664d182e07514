import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditLog } from '../../broker/src/audit.js';
import { SessionManager } from '../../broker/src/handlers/session-manager.js';
import { parsePolicy } from '../../broker/src/policy/load.js';
import { defaultWindowsExecutable, resolveWindowsContainer, windowsSessions, windowsSessionSpawn } from '../../broker/src/platform/windows/sessions.js';
import { sessionHostArgs } from '../../broker/src/sessions/session-host.js';
import { FAKE_SESSION_HOST } from './support/fake-sessions.js';

const serviceEnv = {
  SystemRoot: 'C:\\Windows',
  ProgramFiles: 'C:\\Program Files',
  ProgramData: 'C:\\ProgramData',
  TEMP: 'C:\\Windows\\TEMP',
  USERPROFILE: 'C:\\Windows\\system32\\config\\systemprofile',
  // The broker's own configuration is not passed on.
  WINSHOST_SECRET: 'do-not-pass',
  NODE_OPTIONS: '--inspect',
};

describe('Windows session hosts', () => {
  it('prefers PowerShell 7 where its installer puts it, else Windows PowerShell', () => {
    assert.equal(defaultWindowsExecutable(serviceEnv, (p) => p === 'C:\\Program Files\\PowerShell\\7\\pwsh.exe'), 'C:\\Program Files\\PowerShell\\7\\pwsh.exe');
    assert.equal(defaultWindowsExecutable(serviceEnv, () => false), 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    assert.equal(defaultWindowsExecutable({ systemroot: 'D:\\Win', programfiles: 'D:\\PF' }, (p) => p.startsWith('D:\\PF')), 'D:\\PF\\PowerShell\\7\\pwsh.exe');
  });

  it('spawns exactly this: the executable, the -File argv, the system environment plus the policy’s, hidden', () => {
    const spawned = windowsSessionSpawn(
      {
        executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
        args: sessionHostArgs('C:\\Program Files\\WinsHost\\broker\\session-host.ps1'),
        env: { PSModulePath: 'C:\\Modules', HTTP_PROXY: 'http://proxy:3128' },
        cwd: 'C:\\ProgramData\\WinsHost\\state',
      },
      serviceEnv,
    );
    assert.deepEqual(spawned, {
      file: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      args: ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', 'C:\\Program Files\\WinsHost\\broker\\session-host.ps1'],
      options: {
        cwd: 'C:\\ProgramData\\WinsHost\\state',
        env: {
          SystemRoot: 'C:\\Windows',
          windir: 'C:\\Windows',
          PATH: 'C:\\Windows\\System32;C:\\Windows;C:\\Windows\\System32\\Wbem;C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
          PATHEXT: '.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC',
          ComSpec: 'C:\\Windows\\System32\\cmd.exe',
          TEMP: 'C:\\Windows\\TEMP',
          ProgramData: 'C:\\ProgramData',
          ProgramFiles: 'C:\\Program Files',
          USERPROFILE: 'C:\\Windows\\system32\\config\\systemprofile',
          PSModulePath: 'C:\\Modules',
          HTTP_PROXY: 'http://proxy:3128',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      },
    });
  });

  it('resolves a container to its id for PowerShell Direct, and refuses Linux container kinds', () => {
    const resolved = resolveWindowsContainer('web', { containerId: '3f9c2a1b-0000-4000-8000-00000000abcd' });
    assert.equal(resolved.name, 'web');
    assert.deepEqual(resolved.openConfig, { containerId: '3f9c2a1b-0000-4000-8000-00000000abcd' });
    assert.equal(resolved.namespaces, undefined);
    assert.throws(() => resolveWindowsContainer('ns', { netns: 'blue' }), (e: any) => e.data.reason === 'NotSupported' && e.data.platform === 'windows');
  });

  describe('through the session manager', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-winsessions-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('opens a container session on a host started on the host, with containerId in the open config', async () => {
      const calls: { file: string; args: string[]; options: SpawnOptions }[] = [];
      const platform = windowsSessions({
        env: serviceEnv,
        exists: () => true,
        // The recorded call is what Windows would run; the fake host plays the part here.
        spawn: (file, args, options): ChildProcess => {
          calls.push({ file, args, options });
          return spawn(process.execPath, [FAKE_SESSION_HOST], { stdio: ['pipe', 'pipe', 'pipe'] });
        },
      });
      const policy = parsePolicy(
        `listeners:\n  - name: main\n    profiles: [p]\nprofiles:\n  p:\n    sessions: { targets: [web], languageMode: ConstrainedLanguage }\ncontainers:\n  web: { containerId: 3f9c2a1b-0000-4000-8000-00000000abcd }\n`,
        'test.yaml',
      );
      const audit = AuditLog.open(join(dir, 'audit.log'));
      const manager = new SessionManager({ platform, audit, stateDir: join(dir, 'state'), policy: () => policy, maxMessageBytes: () => 4 * 1024 * 1024, log: () => {} });
      manager.start();
      const owner = { connectionId: 1, caller: { listener: 'main', profile: 'p' }, profileName: 'p', profile: policy.profiles.p };
      const info = await manager.open(owner, { target: 'web' });
      assert.equal(info.Target, 'web');
      assert.equal(calls.length, 1, 'no warm host: the profile grants no host sessions');
      assert.equal(calls[0].file, 'C:\\Program Files\\PowerShell\\7\\pwsh.exe');
      assert.deepEqual(calls[0].args.slice(0, 6), ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File']);
      assert.match(calls[0].args[6], /session-host\.ps1$/);
      assert.equal(calls[0].options.windowsHide, true);
      const outputs: string[] = [];
      await manager.invoke(owner, { sessionId: info.Id, script: 'config' }, { notify: (n) => outputs.push(n.clixml), congested: () => false, drained: async () => {}, token: { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) } as never });
      const config = JSON.parse(/<S>(.*)<\/S>/s.exec(outputs[0])![1]);
      assert.equal(config.containerId, '3f9c2a1b-0000-4000-8000-00000000abcd');
      assert.equal(config.languageMode, 'ConstrainedLanguage');
      await manager.shutdown();
      await audit.close();
    });
  });
});
