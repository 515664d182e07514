#!/usr/bin/env node
// `npm test`: every node:test file, then every Pester suite, then one closing line with the totals.
// `npm run test:node` / `npm run test:pester` run one half.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pesterManifest, pwshPath, repoRoot } from './setup.mjs';

function files(dir, suffix) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'fixtures' && entry.name !== 'node_modules') out.push(...files(full, suffix));
    else if (entry.isFile() && entry.name.endsWith(suffix)) out.push(full);
  }
  return out.sort();
}

/** Runs a command, echoing its output, and returns the output with the exit code. */
function run(command, args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => process.stderr.write(chunk));
    child.on('close', (code, signal) => resolve({ code: code ?? 128, signal, output }));
  });
}

function count(output, pattern) {
  const match = [...output.matchAll(pattern)].pop();
  return match ? Number(match[1]) : 0;
}

/** Debian tools the tests drive for real; installed when missing, as root on Linux (CI is). */
const DEBIAN_TOOLS = [{ command: 'nft', pkg: 'nftables' }, { command: 'tmux', pkg: 'tmux' }];

function hasCommand(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function ensureDebianTools() {
  if (process.platform !== 'linux') return;
  const missing = DEBIAN_TOOLS.filter((tool) => !hasCommand(tool.command));
  if (missing.length === 0) return;
  const packages = missing.map((tool) => tool.pkg);
  if (process.getuid?.() !== 0) {
    console.log(`test set-up: ${packages.join(', ')} missing and not root: the tests that need them will skip or fail`);
    return;
  }
  console.log(`test set-up: installing ${packages.join(', ')} (apt-get)`);
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) {
      console.error(`test set-up: apt-get ${args.join(' ')} failed (exit ${result.status}); Debian's package sources could not give ${packages.join(', ')}`);
      process.exit(1);
    }
  }
}

/** The protocol is declared once in typings/; the broker, the client and the tests must all agree with it. */
async function typecheck() {
  console.log('typecheck: tsc --noEmit');
  const result = await run(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.json'), '--noEmit']);
  return { code: result.code, passed: result.code === 0 ? 1 : 0, failed: result.code === 0 ? 0 : 1, skipped: 0 };
}

async function nodeTests() {
  const tests = files(join(repoRoot, 'test'), '.test.ts').map((file) => relative(repoRoot, file));
  console.log(`node:test: ${tests.length} files`);
  const result = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=1', ...tests]);
  return {
    code: result.code,
    passed: count(result.output, /^# pass (\d+)$/gm),
    failed: count(result.output, /^# fail (\d+)$/gm) + count(result.output, /^# cancelled (\d+)$/gm),
    skipped: count(result.output, /^# skipped (\d+)$/gm),
  };
}

/** A short fuzzing pass against the built broker (npm run fuzz runs longer ones). */
async function fuzzTests() {
  const result = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fuzz', 'fuzz.ts'), '--cases', '20000', '--seconds', '240']);
  return {
    code: result.code,
    passed: count(result.output, /^fuzz: (\d+) passed/gm),
    failed: count(result.output, /^fuzz: \d+ passed, (\d+) failed/gm) + (result.code !== 0 && !/^fuzz: \d+ passed/m.test(result.output) ? 1 : 0),
    skipped: 0,
  };
}

/** 200 callers × 1000 requests against the built broker (npm run load runs the same). */
async function loadTests() {
  const result = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'load', 'load.ts')]);
  return {
    code: result.code,
    passed: count(result.output, /^load: (\d+) passed/gm),
    failed: count(result.output, /^load: \d+ passed, (\d+) failed/gm) + (result.code !== 0 && !/^load: \d+ passed/m.test(result.output) ? 1 : 0),
    skipped: 0,
  };
}

async function pesterTests() {
  const result = await run(pwshPath, ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', join(repoRoot, 'scripts', 'run-pester.ps1'), '-PesterManifest', pesterManifest], {
    POWERSHELL_TELEMETRY_OPTOUT: '1',
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  });
  return {
    code: result.code,
    passed: count(result.output, /^Pester totals: (\d+) passed/gm),
    failed: count(result.output, /^Pester totals: \d+ passed, (\d+) failed/gm),
    skipped: count(result.output, /^Pester totals: \d+ passed, \d+ failed, (\d+) skipped/gm),
  };
}

const onlyNode = process.argv.includes('--node-only');
const onlyPester = process.argv.includes('--pester-only');
ensureDebianTools();
const results = [];
if (!onlyPester) results.push(await typecheck(), await nodeTests(), await fuzzTests(), await loadTests());
if (!onlyNode) results.push(await pesterTests());
const passed = results.reduce((sum, r) => sum + r.passed, 0);
const failed = results.reduce((sum, r) => sum + r.failed, 0);
const skipped = results.reduce((sum, r) => sum + r.skipped, 0);
const crashed = results.some((r) => r.code !== 0) && failed === 0;
console.log(`\ntests: ${passed} passed, ${failed + (crashed ? 1 : 0)} failed, ${skipped} skipped`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
