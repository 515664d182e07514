#!/usr/bin/env node
// One idempotent set-up for `npm start`, `npm test`, `npm run bench` and `.ci/run`: npm packages from the
// lockfile, PowerShell as a .NET tool and Pester as a NuGet content package into the git-ignored .tools/,
// then the broker build. Each step checks first, so a second run is quick and changes nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = join(repoRoot, '.tools');
export const pwshVersion = '7.6.9';
export const pesterVersion = '5.7.1';
export const pwshPath = join(toolsDir, 'pwsh', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
export const pesterManifest = join(toolsDir, 'nuget', 'pester', pesterVersion, 'tools', 'Pester.psd1');
export const brokerBundle = join(repoRoot, 'dist', 'broker', 'cli.js');

export class SetupError extends Error {}

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

/** Build outputs under dist/: what `npm start`, the tests and scripts/package.mjs use. */
export const distDir = join(repoRoot, 'dist');
export const sessionHostSource = join(repoRoot, 'broker', 'src', 'sessions', 'session-host.ps1');
export const sessionHostOutput = join(distDir, 'broker', 'session-host.ps1');
/** The session host's compiled core, loaded by session-host.ps1 (the broker passes its path). */
export const sessionHostProjectDir = join(repoRoot, 'broker', 'src', 'sessions', 'host');
export const sessionHostAssembly = join(distDir, 'broker', 'WinsHost.SessionHost.dll');
export const typingsOutputDir = join(distDir, 'typings');
export const stagedModulesDir = join(distDir, 'module');
/** The modules staged and shipped, each from PSModule/<name> when it exists. */
export const moduleNames = ['WinsHost', 'WinsHost.Testing'];

export function packageVersion() {
  return JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
}

/**
 * package.json's semver as PowerShell wants it: ModuleVersion is a System.Version (no pre-release), and the
 * PowerShell Gallery takes the pre-release label from PSData.Prerelease, letters and digits only.
 */
export function moduleVersionOf(version) {
  const match = /^(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(version);
  if (!match) throw new SetupError(`package.json version '${version}' is not semver (MAJOR.MINOR.PATCH[-PRERELEASE])`);
  const prerelease = match[2] === undefined ? undefined : match[2].replace(/[^0-9A-Za-z]/g, '');
  return { moduleVersion: match[1], prerelease, nugetVersion: prerelease ? `${match[1]}-${prerelease}` : match[1] };
}

/**
 * Runs `action` when the hash of `inputs` differs from the one recorded after its last run or an output is
 * missing, so each step of a repeated build costs only the hashing.
 */
function buildStep(name, inputs, outputs, action) {
  const stamp = join(distDir, `.${name}-hash`);
  const want = fileHash(inputs);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && outputs.every((output) => existsSync(output))) return false;
  action();
  mkdirSync(distDir, { recursive: true });
  writeFileSync(stamp, want);
  return true;
}

/** Sources the bundle is built from; the session host script ships beside it, so it counts too. */
function bundleInputs() {
  const ts = (name) => name.endsWith('.ts');
  return [
    ...listFiles(join(repoRoot, 'typings'), ts),
    ...listFiles(join(repoRoot, 'broker', 'src'), (name) => ts(name) || name.endsWith('.ps1')),
    join(repoRoot, 'tsup.config.ts'),
    join(repoRoot, 'package.json'),
    join(repoRoot, 'package-lock.json'),
  ];
}

function buildBundle() {
  buildStep('build', bundleInputs(), [brokerBundle], () => {
    say('building the broker (tsup)');
    run(process.execPath, [join(repoRoot, 'node_modules', 'tsup', 'dist', 'cli-default.js')], 'broker build');
  });
  // The broker finds the session host with new URL('./session-host.ps1', import.meta.url). Until the
  // source exists there is nothing to ship, and a copy left from an earlier build must not linger.
  if (existsSync(sessionHostSource)) {
    if (!existsSync(sessionHostOutput) || !readFileSync(sessionHostOutput).equals(readFileSync(sessionHostSource))) {
      copyFileSync(sessionHostSource, sessionHostOutput);
    }
  } else {
    rmSync(sessionHostOutput, { force: true });
  }
}

/** The protocol's types as .d.ts files, for TypeScript clients of the broker. */
function buildTypings() {
  const sources = listFiles(join(repoRoot, 'typings'), (name) => name.endsWith('.ts'));
  buildStep('typings', [...sources, join(repoRoot, 'package-lock.json')], [join(typingsOutputDir, 'index.d.ts')], () => {
    say('emitting the typings (.d.ts)');
    rmSync(typingsOutputDir, { recursive: true, force: true });
    run(
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
        ...['--declaration', '--emitDeclarationOnly', '--outDir', typingsOutputDir, '--rootDir', join(repoRoot, 'typings')],
        ...['--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--types', 'node'],
        ...sources,
      ],
      'typings build',
    );
  });
}

/** Sets ModuleVersion (and PSData.Prerelease) in a manifest's text; the source manifest is never touched. */
export function stampManifest(text, version, manifestName) {
  const { moduleVersion, prerelease } = moduleVersionOf(version);
  const versionLine = /^(\s*ModuleVersion\s*=\s*)'[^']*'/m;
  if (!versionLine.test(text)) throw new SetupError(`${manifestName} has no ModuleVersion = '...' line to stamp`);
  let stamped = text.replace(versionLine, `$1'${moduleVersion}'`);
  stamped = stamped.replace(/^(\s*)Prerelease\s*=\s*'[^']*'\s*\r?\n/m, '');
  if (prerelease) {
    const psData = /^(\s*)PSData\s*=\s*@\{\s*\r?\n/m;
    if (!psData.test(stamped)) throw new SetupError(`${manifestName} has no PrivateData.PSData block for the pre-release label '${prerelease}'`);
    stamped = stamped.replace(psData, (block, indent) => `${block}${indent}    Prerelease   = '${prerelease}'\n`);
  }
  return stamped;
}

/** The module's compiled core (PSModule/WinsHost.Client), built into the module's bin folder. */
export const clientProjectDir = join(repoRoot, 'PSModule', 'WinsHost.Client');
export const clientAssembly = join(repoRoot, 'PSModule', 'WinsHost', 'bin', 'WinsHost.Client.dll');

function buildClientAssembly() {
  buildAssembly('client', clientProjectDir, 'WinsHost.Client', clientAssembly);
}

function buildSessionHostAssembly() {
  buildAssembly('session-host', sessionHostProjectDir, 'WinsHost.SessionHost', sessionHostAssembly);
}

/** `dotnet build` of one of the netstandard2.0 projects into the folder of `output`, when its sources changed. */
function buildAssembly(step, projectDir, name, output) {
  const sources = listFiles(projectDir, (file) => file.endsWith('.cs') || file.endsWith('.csproj'))
    // dotnet's own outputs (obj/ holds generated .cs files) are not sources: hashing them would rebuild twice.
    .filter((file) => !/^(bin|obj)[\\/]/.test(relative(projectDir, file)));
  buildStep(step, sources, [output], () => {
    say(`building the assembly ${name} (dotnet build)`);
    try {
      run(
        'dotnet',
        ['build', join(projectDir, `${name}.csproj`), '-c', 'Release', '-nologo', '-o', dirname(output), `-p:RestorePackagesPath=${join(toolsDir, 'nuget')}`],
        `${name} build`,
        { env: { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: '1', DOTNET_NOLOGO: '1' } },
      );
    } catch (error) {
      throw new SetupError(`${error.message}\nPowerShellStandard.Library and NETStandard.Library were looked up in the NuGet sources of 'dotnet nuget list source'.`);
    }
  });
}

/** Copies each module into dist/module/<name>/ with package.json's version in its manifest. */
function stageModules() {
  const version = packageVersion();
  for (const name of moduleNames) {
    const source = join(repoRoot, 'PSModule', name);
    const target = join(stagedModulesDir, name);
    const files = listFiles(source, () => true);
    const inputs = [...files, join(repoRoot, 'package.json')];
    buildStep(`module-${name}`, inputs, existsSync(source) ? [join(target, `${name}.psd1`)] : [], () => {
      rmSync(target, { recursive: true, force: true });
      if (!existsSync(source)) return;
      say(`staging the module ${name} ${version} into dist/module/${name}`);
      for (const file of files) {
        const destination = join(target, relative(source, file));
        mkdirSync(dirname(destination), { recursive: true });
        if (file === join(source, `${name}.psd1`)) {
          const text = readFileSync(file, 'utf8');
          writeFileSync(destination, stampManifest(text, version, `PSModule/${name}/${name}.psd1`));
        } else {
          copyFileSync(file, destination);
        }
      }
    });
  }
}

/** Every build output: the broker bundle with its session host, the typings and the staged modules. */
export function ensureBuild() {
  buildClientAssembly();
  buildBundle();
  buildSessionHostAssembly();
  buildTypings();
  stageModules();
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
