// build.ps1 Build, Package and Install on this repository, into temporary folders: what the zips and the
// .nupkg files hold, that the Linux zip's broker runs from where it was unpacked (koffi's native binary
// found beside it), that PSResourceGet installs the .nupkg, and that Install puts things where it is told.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WinsHostClient } from '../../broker/src/client/client.js';
import { hostPlatform, readZip, writeZip } from '../../scripts/package.mjs';
import { moduleVersionOf, packageVersion, pwshPath, repoRoot, stampManifest } from '../../scripts/setup.mjs';

const version = packageVersion();
const { moduleVersion, nugetVersion } = moduleVersionOf(version);
const work = mkdtempSync(join(tmpdir(), 'winshost-package-'));
const out = join(work, 'packages');
const canRun = existsSync(pwshPath) && hostPlatform === 'linux-x64';

/** Runs build.ps1 in the repository's PowerShell; -Command, because -File passes "Build," as one string. */
function buildPs1(parameters: string, cwd = work): { status: number | null; output: string } {
  const result = spawnSync(pwshPath, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', `$PSStyle.OutputRendering = 'PlainText'; & '${join(repoRoot, 'build.ps1')}' ${parameters}`], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 120_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function unzipTo(zipPath: string, target: string): void {
  for (const [name, entry] of readZip(zipPath)) {
    const destination = join(target, ...name.split('/'));
    mkdirSync(dirname(destination), { recursive: true });
    writeFileSync(destination, entry.data);
    if (entry.mode !== undefined) chmodSync(destination, entry.mode);
  }
}

function names(zipPath: string): string[] {
  return [...readZip(zipPath).keys()];
}

describe('build.ps1 -Task Build, Package', { skip: !canRun && 'needs .tools/pwsh (npm run setup) on linux-x64', timeout: 180_000 }, () => {
  before(() => {
    const { status, output } = buildPs1(`-Task Build, Package -OutputPath '${out}' -Platform linux-x64, win32-x64`);
    assert.equal(status, 0, output);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('writes a zip per platform asked for and a .nupkg per module', () => {
    const files = readdirSync(out).sort();
    assert.ok(files.includes(`winshost-${version}-linux-x64.zip`), files.join(', '));
    assert.ok(files.includes(`winshost-${version}-win32-x64.zip`), files.join(', '));
    assert.ok(files.includes(`WinsHost.${nugetVersion}.nupkg`), files.join(', '));
    assert.ok(!files.some((file) => file.endsWith('.tmp')), 'no half-written package is left');
  });

  it('builds the typings as .d.ts and stamps the staged manifest, not the source', () => {
    for (const file of ['index.d.ts', 'protocol.d.ts', 'session.d.ts']) assert.ok(existsSync(join(repoRoot, 'dist', 'typings', file)), file);
    assert.match(readFileSync(join(repoRoot, 'dist', 'typings', 'index.d.ts'), 'utf8'), /export /);
    const staged = readFileSync(join(repoRoot, 'dist', 'module', 'WinsHost', 'WinsHost.psd1'), 'utf8');
    assert.match(staged, new RegExp(`ModuleVersion\\s*=\\s*'${moduleVersion.replace(/\./g, '\\.')}'`));
    assert.ok(existsSync(join(repoRoot, 'PSModule', 'WinsHost', 'WinsHost.psd1')));
  });

  it('puts the broker, koffi with the platform binary, the modules and the notices in each zip', () => {
    const top = `winshost-${version}-linux-x64/`;
    const linux = names(join(out, `winshost-${version}-linux-x64.zip`));
    assert.ok(linux.every((name) => name.startsWith(top) && !name.includes('\\')), 'one top folder, forward slashes');
    for (const name of ['package.json', 'dist/broker/cli.js', 'node_modules/koffi/index.js', 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node', 'modules/WinsHost/WinsHost.psd1', 'modules/WinsHost/WinsHost.psm1', 'winshost-broker', 'LICENSE', 'README.md', 'THIRD-PARTY-NOTICES.txt']) {
      assert.ok(linux.includes(top + name), `${name} in the linux-x64 zip`);
    }
    for (const name of ['dist/broker/session-host.ps1', 'dist/broker/WinsHost.SessionHost.dll']) assert.ok(linux.includes(top + name), `${name} in the linux-x64 zip`);
    assert.ok(!linux.some((name) => name.includes('koffi-win32')), 'no other platform binary');
    assert.equal(readZip(join(out, `winshost-${version}-linux-x64.zip`)).get(`${top}winshost-broker`)?.mode, 0o755);

    const winTop = `winshost-${version}-win32-x64/`;
    const windows = readZip(join(out, `winshost-${version}-win32-x64.zip`));
    const binary = windows.get(`${winTop}node_modules/@koromix/koffi-win32-x64/win32_x64/koffi.node`);
    assert.ok(binary, 'the win32-x64 koffi binary');
    assert.equal(binary.data.subarray(0, 2).toString('latin1'), 'MZ', 'a PE image');
    assert.ok(windows.has(`${winTop}winshost-broker.cmd`));
    const manifest = windows.get(`${winTop}modules/WinsHost/WinsHost.psd1`)?.data.toString('utf8') ?? '';
    assert.match(manifest, new RegExp(`ModuleVersion\\s*=\\s*'${moduleVersion.replace(/\./g, '\\.')}'`));
    const notices = windows.get(`${winTop}THIRD-PARTY-NOTICES.txt`)?.data.toString('utf8') ?? '';
    for (const bundled of ['vscode-jsonrpc', 'yaml', 'zod', 'koffi']) assert.match(notices, new RegExp(`^${bundled} `, 'm'));
  });

  it('runs the broker from the unpacked linux-x64 zip: --version, then serve answering initialize', async () => {
    const unpacked = join(work, 'unpacked');
    unzipTo(join(out, `winshost-${version}-linux-x64.zip`), unpacked);
    const root = join(unpacked, `winshost-${version}-linux-x64`);
    const versionRun = spawnSync(join(root, 'winshost-broker'), ['--version'], { encoding: 'utf8' });
    assert.equal(versionRun.status, 0, versionRun.stderr);
    assert.equal(versionRun.stdout.trim(), version);

    const socket = join(work, 'broker.sock');
    const broker = spawn(process.execPath, [join(root, 'dist', 'broker', 'cli.js'), 'serve', '--listen', socket, '--state-dir', join(work, 'state'), '--audit', join(work, 'audit.log')], {
      cwd: unpacked,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    broker.stdout.on('data', (chunk) => (output += chunk));
    broker.stderr.on('data', (chunk) => (output += chunk));
    try {
      const deadline = Date.now() + 20_000;
      while (!existsSync(socket)) {
        assert.ok(Date.now() < deadline && broker.exitCode === null, `the broker did not listen:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const client = await WinsHostClient.connect(socket, { clientName: 'package-test' });
      try {
        assert.equal(client.initializeResult?.serverInfo.version, version);
        // The caller's identity comes from SO_PEERCRED through koffi: the native binary of the zip loaded.
        assert.equal(client.initializeResult?.caller.pid, process.pid);
      } finally {
        client.close();
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\nbroker output:\n${output}`);
    } finally {
      if (broker.exitCode === null && broker.signalCode === null) {
        const exited = new Promise((resolve) => broker.once('exit', resolve));
        broker.kill('SIGTERM');
        await exited;
      }
    }
  });

  it('makes a .nupkg that PSResourceGet finds, saves, installs and that imports', () => {
    const home = join(work, 'home');
    const share = join(home, '.local', 'share');
    // .NET reports LocalApplicationData as '' when the folder is missing, and PSResourceGet then writes its
    // repository list relative to the working directory.
    for (const dir of [share, join(home, '.config'), join(home, '.cache')]) mkdirSync(dir, { recursive: true });
    const repository = join(work, 'repository');
    mkdirSync(repository, { recursive: true });
    mkdirSync(join(work, 'saved'), { recursive: true });
    writeFileSync(join(repository, `WinsHost.${nugetVersion}.nupkg`), readFileSync(join(out, `WinsHost.${nugetVersion}.nupkg`)));
    const script = `
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
Register-PSResourceRepository -Name winshost-local -Uri '${repository}' -Trusted
$found = Find-PSResource -Name WinsHost -Repository winshost-local
Save-PSResource -Name WinsHost -Repository winshost-local -Path '${join(work, 'saved')}' -TrustRepository
Install-PSResource -Name WinsHost -Repository winshost-local -Scope CurrentUser -TrustRepository
$saved = Import-Module '${join(work, 'saved', 'WinsHost')}' -PassThru
Remove-Module WinsHost
$installed = Import-Module WinsHost -PassThru
$expected = (Import-PowerShellDataFile '${join(repoRoot, 'PSModule', 'WinsHost', 'WinsHost.psd1')}').FunctionsToExport
[pscustomobject]@{
  Found = "$($found.Name) $($found.Version) $($found.Type)"
  Saved = "$($saved.Version) $($saved.ExportedFunctions.Count)"
  Installed = "$($installed.Version) $($installed.ExportedFunctions.Count) $($installed.ModuleBase.StartsWith('${home}'))"
  Expected = @($expected).Count
} | ConvertTo-Json -Compress
`;
    const result = spawnSync(pwshPath, ['-NoLogo', '-NoProfile', '-NonInteractive', '-Command', script], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, HOME: home, XDG_DATA_HOME: share, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache'), NO_COLOR: '1', PSModulePath: '' },
      timeout: 120_000,
    });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    const report = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}');
    assert.equal(report.Found, `WinsHost ${moduleVersion} Module`);
    assert.equal(report.Saved, `${moduleVersion} ${report.Expected}`);
    assert.equal(report.Installed, `${moduleVersion} ${report.Expected} True`);
  });

  it('installs the broker and the modules into the given folders, again over itself, and registers the service', () => {
    const zip = join(out, `winshost-${version}-linux-x64.zip`);
    const brokerDir = join(work, 'installed-broker');
    const modules = join(work, 'installed-modules');
    const root = join(work, 'root');
    const parameters = `-Task Install -PackagePath '${zip}' -BrokerPath '${brokerDir}' -ModulePath '${modules}' -Service -ServiceArgument '--root', '${root}'`;
    for (let round = 0; round < 2; round++) {
      const { status, output } = buildPs1(parameters);
      assert.equal(status, 0, output);
    }
    assert.ok(existsSync(join(modules, 'WinsHost', moduleVersion, 'WinsHost.psd1')));
    const cli = join(brokerDir, 'dist', 'broker', 'cli.js');
    assert.equal(spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).stdout.trim(), version);
    const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'winshost-broker.service'), 'utf8');
    assert.match(unit, new RegExp(`^ExecStart=\\S+ ${cli.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} serve`, 'm'));
  });

  it('refuses to install into a folder that holds something else', () => {
    const foreign = join(work, 'foreign');
    mkdirSync(foreign, { recursive: true });
    writeFileSync(join(foreign, 'keep.txt'), 'not ours');
    const { status, output } = buildPs1(`-Task Install -PackagePath '${join(out, `winshost-${version}-linux-x64.zip`)}' -BrokerPath '${foreign}' -ModulePath '${join(work, 'm2')}'`);
    assert.notEqual(status, 0);
    assert.match(output, /is not empty and holds no earlier WinsHost install/);
    assert.equal(readFileSync(join(foreign, 'keep.txt'), 'utf8'), 'not ours');
  });
});

describe('package helpers', () => {
  it('round-trips a zip with forward-slash names and Unix modes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-zip-'));
    try {
      const path = join(dir, 'x.zip');
      const big = Buffer.alloc(100_000, 'a');
      writeZip(path, [
        { name: 'top/run', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
        { name: 'top/sub/big.txt', data: big },
        { name: 'top/empty', data: Buffer.alloc(0) },
      ]);
      const entries = readZip(path);
      assert.deepEqual([...entries.keys()], ['top/run', 'top/sub/big.txt', 'top/empty']);
      assert.equal(entries.get('top/run')?.mode, 0o755);
      assert.ok(entries.get('top/sub/big.txt')?.data.equals(big));
      assert.equal(entries.get('top/empty')?.data.length, 0);
      assert.throws(() => writeZip(path, [{ name: 'a\\b', data: Buffer.alloc(1) }]), /forward slashes/);
      assert.throws(() => writeZip(path, [{ name: '../evil', data: Buffer.alloc(1) }]), /relative/);
      // A damaged byte is caught by the CRC, not handed over.
      const zip = readFileSync(path);
      zip[40] ^= 0xff;
      writeFileSync(path, zip);
      assert.throws(() => readZip(path), /CRC|invalid|incorrect/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stamps ModuleVersion and the pre-release label PowerShell accepts', () => {
    const source = "@{\n    ModuleVersion        = '0.0.1'\n    PrivateData = @{\n        PSData = @{\n            Tags = @('a')\n        }\n    }\n}\n";
    assert.match(stampManifest(source, '2.3.4', 'x.psd1'), /ModuleVersion {8}= '2\.3\.4'/);
    const prerelease = stampManifest(source, '2.3.4-beta.1', 'x.psd1');
    assert.match(prerelease, /ModuleVersion {8}= '2\.3\.4'/);
    assert.match(prerelease, /Prerelease\s*=\s*'beta1'/);
    assert.deepEqual(moduleVersionOf('2.3.4-beta.1'), { moduleVersion: '2.3.4', prerelease: 'beta1', nugetVersion: '2.3.4-beta1' });
    assert.throws(() => stampManifest('@{ }', '1.0.0', 'x.psd1'), /no ModuleVersion/);
    assert.throws(() => moduleVersionOf('1.0'), /not semver/);
  });
});
