import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });

describe('winshost-broker CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'winshost-cli-'));

  it('check-policy accepts a valid file', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'listeners:\n  - name: a\n    profiles: [p]\nprofiles:\n  p:\n    host: { read: true }\n');
    const result = run('check-policy', file);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /ok \(1 listener\(s\), 1 profile\(s\)\)/);
  });

  it('check-policy prints every problem with its position and exits 1', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'listeners:\n  - name: a\n    profiles: [p, q]\nprofiles:\n  p:\n    hots: { read: true }\n');
    const result = run('check-policy', file);
    assert.equal(result.status, 1);
    const lines = result.stderr.trim().split('\n');
    assert.ok(lines.includes(`${file}:3:19: listeners.0.profiles.1: profile 'q' is not defined under profiles`), result.stderr);
    assert.ok(lines.includes(`${file}:6:5: profiles.p: unknown key 'hots'`), result.stderr);
  });

  it('serve refuses an invalid policy with its positions, before listening', () => {
    const file = join(dir, 'bad.yaml');
    const result = run('serve', '--policy', file, '--listen', join(dir, 'x.sock'), '--state-dir', join(dir, 'state'));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /bad\.yaml:6:5: /);
  });

  it('prints its version and help, and rejects unknown commands and flags with usage', () => {
    assert.match(run('--version').stdout.trim(), /^\d+\.\d+\.\d+$/);
    assert.match(run('--help').stdout, /winshost-broker serve/);
    const unknown = run('frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badFlag = run('serve', '--no-such-flag');
    assert.equal(badFlag.status, 2);
    assert.match(badFlag.stderr, /Usage:/);
  });
});
