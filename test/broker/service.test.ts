import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildUnit, findOnPath, installLinuxService, quoteSystemdWord, ServiceError, uninstallLinuxService, UNIT_MARKER, unitPath, type CommandRunner } from '../../broker/src/service/linux.js';
import { binPath, installPlan, installWindowsService, quoteWindowsArg, serviceCommand, uninstallPlan, uninstallWindowsService } from '../../broker/src/service/windows.js';

const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });

const CAPS = 'CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_KILL CAP_CHOWN CAP_FOWNER';
const options = {
  command: ['/usr/bin/node', '/opt/winshost/dist/broker/cli.js', 'serve', '--policy', '/etc/winshost/policy.yaml', '--state-dir', '/var/lib/winshost', '--audit', '/var/log/winshost/audit.log'],
  writablePaths: ['/var/lib/winshost', '/var/log/winshost', '/run/winshost'],
};
const settings = (unit: string) => unit.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

describe('systemd unit', () => {
  it('has exactly these settings, every sandboxing line and capability among them', () => {
    const unit = buildUnit(options);
    assert.equal(unit.split('\n')[0], UNIT_MARKER);
    assert.ok(unit.endsWith('WantedBy=multi-user.target\n'));
    assert.deepEqual(settings(unit), [
      '[Unit]',
      'Description=WinsHost broker: least-privilege host access for containers',
      'After=network.target',
      '[Service]',
      'Type=simple',
      'ExecStart=/usr/bin/node /opt/winshost/dist/broker/cli.js serve --policy /etc/winshost/policy.yaml --state-dir /var/lib/winshost --audit /var/log/winshost/audit.log',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'Restart=on-failure',
      'RestartSec=5s',
      'KillMode=process',
      'RuntimeDirectory=winshost',
      'RuntimeDirectoryMode=0755',
      'RuntimeDirectoryPreserve=yes',
      `CapabilityBoundingSet=${CAPS}`,
      `AmbientCapabilities=${CAPS}`,
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/run/winshost /var/lib/winshost /var/log/winshost',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'ProtectKernelModules=yes',
      'ProtectKernelTunables=yes',
      'ProtectKernelLogs=yes',
      'Delegate=yes',
      'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6',
      'RestrictRealtime=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'SystemCallArchitectures=native',
      'MemoryDenyWriteExecute=no',
      '[Install]',
      'WantedBy=multi-user.target',
    ]);
  });

  it('justifies every capability in a comment', () => {
    const unit = buildUnit(options);
    for (const cap of CAPS.split(' ')) assert.match(unit, new RegExp(`^#\\s+${cap}\\s+\\S`, 'm'), cap);
  });

  it('quotes paths with spaces, % and $ for systemd', () => {
    assert.equal(quoteSystemdWord('/opt/win host/cli.js', true), '"/opt/win host/cli.js"');
    assert.equal(quoteSystemdWord('/a%b$c', true), '/a%%b$$c');
    assert.equal(quoteSystemdWord('/a"b\\c d'), '"/a\\"b\\\\c d"');
    assert.throws(() => quoteSystemdWord('/a\nExecStartPre=/bin/evil'), ServiceError);
    const unit = buildUnit({ command: ['/usr/bin/node', '/opt/win host/cli.js', 'serve'], writablePaths: ['/var/lib/win host'] });
    assert.ok(unit.includes('\nExecStart=/usr/bin/node "/opt/win host/cli.js" serve\n'));
    assert.ok(unit.includes('\nReadWritePaths=/run/winshost "/var/lib/win host"\n'));
  });
});

describe('install-service / uninstall-service on Linux (library)', () => {
  const calls: string[][] = [];
  const runner: CommandRunner = async (file, args) => {
    calls.push([file, ...args]);
    return { code: 0, stdout: '', stderr: '' };
  };

  it('with another --root writes only the unit, runs no systemctl, overwrites its own unit, and removes it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'winshost-svc-'));
    const lines: string[] = [];
    const context = { root, run: runner, systemctl: '/bin/systemctl', log: (line: string) => lines.push(line) };
    await installLinuxService(options, context);
    assert.equal(readFileSync(unitPath(root), 'utf8'), buildUnit(options));
    assert.ok(lines.some((line) => /systemctl was not run/.test(line)), lines.join('\n'));
    const second = { ...options, writablePaths: ['/srv/state'] };
    await installLinuxService(second, context);
    assert.equal(readFileSync(unitPath(root), 'utf8'), buildUnit(second));
    await uninstallLinuxService(context);
    assert.equal(existsSync(unitPath(root)), false);
    assert.deepEqual(calls, []);
  });

  it('refuses a unit it did not write, and leaves it alone', async () => {
    const root = mkdtempSync(join(tmpdir(), 'winshost-svc-'));
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(unitPath(root), '[Service]\nExecStart=/usr/bin/other\n');
    await assert.rejects(installLinuxService(options, { root, log: () => {} }), (error: Error) => error instanceof ServiceError && /not written by winshost-broker/.test(error.message));
    await assert.rejects(uninstallLinuxService({ root, log: () => {} }), ServiceError);
    assert.equal(readFileSync(unitPath(root), 'utf8'), '[Service]\nExecStart=/usr/bin/other\n');
  });

  it('systemd-analyze verify accepts the unit', (t) => {
    const analyze = findOnPath('systemd-analyze');
    if (!analyze) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'winshost-svc-'));
    const file = join(dir, 'winshost-broker.service');
    // verify checks that ExecStart's program exists: use this node and this CLI.
    writeFileSync(file, buildUnit({ ...options, command: [process.execPath, cli, 'serve'] }));
    const result = spawnSync(analyze, ['verify', file], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    // verify exits 0 on settings it ignores; it names the file and line for each of them.
    assert.doesNotMatch(result.stderr, /winshost-broker\.service:\d+/, result.stderr);
  });
});

describe('Windows service (argument lists)', () => {
  const node = 'C:\\Program Files\\nodejs\\node.exe';
  const command = [node, 'C:\\winshost\\dist\\broker\\cli.js', 'serve', '--policy', 'C:\\ProgramData\\WinsHost\\policy.yaml', '--state-dir', 'C:\\ProgramData\\WinsHost'];

  it('quotes binPath for paths with spaces, quotes and trailing backslashes', () => {
    assert.equal(quoteWindowsArg('C:\\plain\\node.exe'), 'C:\\plain\\node.exe');
    assert.equal(quoteWindowsArg(node), '"C:\\Program Files\\nodejs\\node.exe"');
    assert.equal(quoteWindowsArg('C:\\Data Dir\\'), '"C:\\Data Dir\\\\"');
    assert.equal(quoteWindowsArg('a"b'), '"a\\"b"');
    assert.equal(quoteWindowsArg(''), '""');
    assert.equal(binPath(command), '"C:\\Program Files\\nodejs\\node.exe" C:\\winshost\\dist\\broker\\cli.js serve --policy C:\\ProgramData\\WinsHost\\policy.yaml --state-dir C:\\ProgramData\\WinsHost');
  });

  it('runs serve --service, so the broker answers the service control manager', () => {
    assert.deepEqual(serviceCommand(command), [node, 'C:\\winshost\\dist\\broker\\cli.js', 'serve', '--service', '--policy', 'C:\\ProgramData\\WinsHost\\policy.yaml', '--state-dir', 'C:\\ProgramData\\WinsHost']);
    assert.deepEqual(serviceCommand(serviceCommand(command)), serviceCommand(command));
    assert.throws(() => serviceCommand([node, 'cli.js']), /has no 'serve'/);
  });

  it('install and uninstall plans are golden', () => {
    const key = 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\WinsHostBroker';
    const servicePath = '"C:\\Program Files\\nodejs\\node.exe" C:\\winshost\\dist\\broker\\cli.js serve --service --policy C:\\ProgramData\\WinsHost\\policy.yaml --state-dir C:\\ProgramData\\WinsHost';
    assert.deepEqual(installPlan(command, 'C:\\Windows'), [
      { file: 'C:\\Windows\\System32\\sc.exe', args: ['create', 'WinsHostBroker', 'binPath=', servicePath, 'start=', 'auto', 'DisplayName=', 'WinsHost broker'] },
      { file: 'C:\\Windows\\System32\\sc.exe', args: ['failure', 'WinsHostBroker', 'reset=', '86400', 'actions=', 'restart/5000/restart/5000/restart/60000'] },
      { file: 'C:\\Windows\\System32\\sc.exe', args: ['description', 'WinsHostBroker', 'WinsHost: least-privilege host access for containers (JSON-RPC on \\\\.\\pipe\\winshost, default-deny policy, audit log).'] },
      { file: 'C:\\Windows\\System32\\reg.exe', args: ['add', key, '/v', 'EventMessageFile', '/t', 'REG_EXPAND_SZ', '/d', '%SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll', '/f'] },
      { file: 'C:\\Windows\\System32\\reg.exe', args: ['add', key, '/v', 'TypesSupported', '/t', 'REG_DWORD', '/d', '7', '/f'] },
    ]);
    assert.deepEqual(uninstallPlan('D:\\Win\\'), [
      { file: 'D:\\Win\\System32\\sc.exe', args: ['stop', 'WinsHostBroker'] },
      { file: 'D:\\Win\\System32\\sc.exe', args: ['delete', 'WinsHostBroker'] },
      { file: 'D:\\Win\\System32\\reg.exe', args: ['delete', key, '/f'] },
    ]);
  });

  it('the runner gets argv arrays, in plan order; an existing service is reconfigured', async () => {
    const calls: { file: string; args: unknown }[] = [];
    await installWindowsService(command, {
      systemRoot: 'C:\\Windows',
      log: () => {},
      run: async (file, args) => {
        calls.push({ file, args });
        return { code: args[0] === 'create' ? 1073 : 0, stdout: '', stderr: '' };
      },
    });
    for (const call of calls) assert.ok(Array.isArray(call.args) && (call.args as unknown[]).every((arg) => typeof arg === 'string'));
    assert.deepEqual(calls.map((call) => (call.args as string[])[0]), ['create', 'config', 'failure', 'description', 'add', 'add']);
    assert.equal((calls[1].args as string[])[3], binPath(serviceCommand(command)));
  });

  it('maps sc.exe errors to clear messages', async () => {
    const failing = (code: number, stdout = '') => ({ log: () => {}, systemRoot: 'C:\\Windows', run: async () => ({ code, stdout, stderr: '' }) });
    await assert.rejects(installWindowsService(command, failing(5)), /sc\.exe create: access denied; run .* elevated \(Administrator\) prompt/);
    await assert.rejects(uninstallWindowsService(failing(1060)), /sc\.exe stop: the service WinsHostBroker is not installed/);
    await assert.rejects(installWindowsService(command, failing(1639, '[SC] CreateService FAILED 1639:\r\n\r\nInvalid command line.')), /sc\.exe create failed \(exit 1639\): \[SC\] CreateService FAILED 1639: Invalid command line\./);
    const calls: string[] = [];
    await uninstallWindowsService({
      log: () => {},
      run: async (_file, args) => {
        calls.push(args[0]);
        return { code: args[0] === 'stop' ? 1062 : 0, stdout: '', stderr: '' };
      },
    });
    assert.deepEqual(calls, ['stop', 'delete', 'delete']);
  });
});

describe('winshost-broker install-service / uninstall-service (CLI)', () => {
  it('installs into --root, overwrites its own unit, refuses a foreign one and uninstalls', () => {
    const root = mkdtempSync(join(tmpdir(), 'winshost-svc-cli-'));
    const file = join(root, 'etc/systemd/system/winshost-broker.service');
    const install = run('install-service', '--root', root, '--state-dir', '/srv/wh state', '--audit', '/var/log/winshost/audit.log', '--listen', '/run/wh/x.sock');
    assert.equal(install.status, 0, install.stderr);
    assert.match(install.stderr, /systemctl was not run/);
    const unit = readFileSync(file, 'utf8');
    const execStart = unit.split('\n').find((line) => line.startsWith('ExecStart='));
    assert.equal(execStart, `ExecStart=${process.execPath} --import ${import.meta.resolve('tsx')} ${cli} serve --state-dir "/srv/wh state" --audit /var/log/winshost/audit.log --listen /run/wh/x.sock`);
    assert.ok(unit.includes('\nReadWritePaths=/run/wh /run/winshost "/srv/wh state" /var/log/winshost\n'), unit);
    const again = run('install-service', '--root', root);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /replaced/);
    assert.ok(readFileSync(file, 'utf8').includes(' serve --state-dir /var/lib/winshost\n'));
    const uninstall = run('uninstall-service', '--root', root);
    assert.equal(uninstall.status, 0, uninstall.stderr);
    assert.equal(existsSync(file), false);
    writeFileSync(file, '[Service]\nExecStart=/bin/true\n');
    const foreign = run('install-service', '--root', root);
    assert.equal(foreign.status, 1);
    assert.match(foreign.stderr, /not written by winshost-broker install-service/);
    assert.equal(run('uninstall-service', '--root', root).status, 1);
    assert.equal(readFileSync(file, 'utf8'), '[Service]\nExecStart=/bin/true\n');
  });

  it('refuses an invalid policy before writing anything', () => {
    const root = mkdtempSync(join(tmpdir(), 'winshost-svc-cli-'));
    const policy = join(root, 'bad.yaml');
    writeFileSync(policy, 'listeners: []\nprofiles:\n  p:\n    hots: {}\n');
    const result = run('install-service', '--root', root, '--policy', policy);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /bad\.yaml:4:5: /);
    assert.equal(existsSync(join(root, 'etc')), false);
  });
});
