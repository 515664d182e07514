#!/usr/bin/env node
// One idempotent set-up for `npm start`, `npm test`, `npm run bench` and `.ci/run`: npm packages from the
// lockfile, PowerShell as a .NET tool and Pester as a NuGet content package into the git-ignored .tools/,
// then the broker build. Each step checks first, so a second run is quick and changes nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = join(repoRoot, '.tools');
export const pwshVersion = '7.6.9';
export const pesterVersion = '5.7.1';
export const pwshPath = join(toolsDir, 'pwsh', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
export const pesterManifest = join(toolsDir, 'nuget', 'pester', pesterVersion, 'tools', 'Pester.psd1');
export const brokerBundle = join(repoRoot, 'dist', 'broker', 'cli.js');

class SetupError extends Error {}

// Installs always say what they do; --quiet only drops the closing line.
function say(text) {
  console.log(`setup: ${text}`);
}

function run(command, args, what, options = {}) {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', shell: process.platform === 'win32', ...options });
  if (result.error) throw new SetupError(`${what}: could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new SetupError(`${what} failed (${command} ${args.join(' ')} exited ${result.status}):\n${output}`);
  }
  return result.stdout ?? '';
}

function fileHash(paths) {
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(relative(repoRoot, path));
    hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}

function listFiles(dir, accept) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, accept));
    else if (accept(entry.name)) out.push(full);
  }
  return out.sort();
}

function ensureNpmPackages() {
  const stamp = join(repoRoot, 'node_modules', '.winshost-lock-hash');
  const want = fileHash([join(repoRoot, 'package-lock.json')]);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return;
  say('installing npm packages from package-lock.json (npm ci)');
  try {
    run('npm', ['ci', '--no-audit', '--no-fund'], 'npm ci');
  } catch (error) {
    throw new SetupError(`${error.message}\nThe npm registry configured for npm (${registry()}) could not give a package listed above.`);
  }
  writeFileSync(stamp, want);
}

function registry() {
  try {
    return execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', shell: process.platform === 'win32' }).trim();
  } catch {
    return 'unknown';
  }
}

function ensurePwsh() {
  // `dotnet tool install` keeps each installed version under .store/<id>/<version>.
  if (existsSync(pwshPath) && existsSync(join(toolsDir, 'pwsh', '.store', 'powershell', pwshVersion))) return;
  rmSync(join(toolsDir, 'pwsh'), { recursive: true, force: true });
  say(`installing PowerShell ${pwshVersion} as a .NET tool into .tools/pwsh`);
  mkdirSync(toolsDir, { recursive: true });
  try {
    run('dotnet', ['tool', 'install', '--tool-path', join(toolsDir, 'pwsh'), 'PowerShell', '--version', pwshVersion], 'PowerShell install', {
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
    });
  } catch (error) {
    throw new SetupError(`${error.message}\nPackage PowerShell ${pwshVersion} was looked up in the NuGet sources of 'dotnet nuget list source'.`);
  }
}

function ensurePester() {
  if (existsSync(pesterManifest)) return;
  say(`restoring Pester ${pesterVersion} from NuGet into .tools/nuget`);
  const projectDir = join(toolsDir, 'pester-restore');
  mkdirSync(projectDir, { recursive: true });
  writeFileSync(
    join(projectDir, 'pester-restore.csproj'),
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Pester" Version="[${pesterVersion}]" /></ItemGroup>
</Project>
`,
  );
  try {
    run('dotnet', ['restore', join(projectDir, 'pester-restore.csproj'), '--packages', join(toolsDir, 'nuget')], 'Pester restore', {
      env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' },
    });
  } catch (error) {
    throw new SetupError(`${error.message}\nPackage Pester ${pesterVersion} was looked up in the NuGet sources of 'dotnet nuget list source'.`);
  }
  if (!existsSync(pesterManifest)) throw new SetupError(`Pester restore finished but ${pesterManifest} is missing`);
}

/** Sources the bundle is built from; the bundle is rebuilt only when their hash changes. */
function buildInputs() {
  const ts = (name) => name.endsWith('.ts');
  return [
    ...listFiles(join(repoRoot, 'typings'), ts),
    ...listFiles(join(repoRoot, 'broker', 'src'), ts),
    join(repoRoot, 'tsup.config.ts'),
    join(repoRoot, 'package.json'),
    join(repoRoot, 'package-lock.json'),
  ];
}

export function ensureBuild() {
  const stamp = join(repoRoot, 'dist', '.build-hash');
  const want = fileHash(buildInputs());
  if (existsSync(stamp) && existsSync(brokerBundle) && readFileSync(stamp, 'utf8') === want) return;
  say('building the broker (tsup)');
  run(process.execPath, [join(repoRoot, 'node_modules', 'tsup', 'dist', 'cli-default.js')], 'broker build');
  writeFileSync(stamp, want);
}

export function setup({ quiet = false, buildOnly = false } = {}) {
  const started = Date.now();
  if (!buildOnly) {
    ensureNpmPackages();
    ensurePwsh();
    ensurePester();
  }
  ensureBuild();
  if (!quiet) console.log(`setup: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    setup({ quiet: process.argv.includes('--quiet'), buildOnly: process.argv.includes('--build-only') });
  } catch (error) {
    console.error(`setup: ${error instanceof SetupError ? error.message : error.stack}`);
    process.exit(1);
  }
}
