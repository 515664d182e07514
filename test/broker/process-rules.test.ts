import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchProcessRule, type ProcessRequest } from '../../broker/src/policy/processes.js';
import type { ProcessRule } from '../../broker/src/policy/schema.js';

const request = (overrides: Partial<ProcessRequest> = {}): ProcessRequest => ({ path: '/opt/nginx/sbin/nginx', args: [], envNames: [], cwd: undefined, exposes: [], detach: false, ...overrides });

const linuxRules: ProcessRule[] = [
  { path: '/opt/nginx/sbin/nginx', args: { exact: ['-g', 'daemon off;'] }, env: ['NGINX_PORT'], exposes: ['tcp/80'], workingDirectories: ['/opt/nginx'] },
  { path: '/opt/nginx/sbin/nginx', args: { pattern: '^-[tv]$' } },
  { path: '/usr/bin/tool', args: { any: true }, detach: true },
];

describe('process rules (posix)', () => {
  it('admits a request every part of which a rule allows, and names that rule', () => {
    const verdict = matchProcessRule('ingress', linuxRules, request({ args: ['-g', 'daemon off;'], envNames: ['NGINX_PORT'], exposes: ['tcp/80'], cwd: '/opt/nginx/conf' }), 'posix');
    assert.equal(verdict.allowed, true);
    assert.equal(verdict.ruleName, 'profiles.ingress.processes.0');
  });

  it('tries the next rule for the same path', () => {
    const verdict = matchProcessRule('ingress', linuxRules, request({ args: ['-t'] }), 'posix');
    assert.deepEqual([verdict.allowed, verdict.ruleName], [true, 'profiles.ingress.processes.1']);
  });

  it('names the first rule for the path and what it refused', () => {
    const cases: [Partial<ProcessRequest>, string, string][] = [
      [{ args: ['-g', 'daemon on;'] }, 'ArgumentsNotAllowed', 'profiles.ingress.processes.0.args'],
      [{ args: ['-g', 'daemon off;'], envNames: ['LD_PRELOAD'] }, 'EnvironmentNotAllowed', 'profiles.ingress.processes.0.env'],
      [{ args: ['-g', 'daemon off;'], envNames: ['nginx_port'] }, 'EnvironmentNotAllowed', 'profiles.ingress.processes.0.env'],
      [{ args: ['-g', 'daemon off;'], cwd: '/opt/nginx2' }, 'WorkingDirectoryNotAllowed', 'profiles.ingress.processes.0.workingDirectories'],
      [{ args: ['-g', 'daemon off;'], exposes: ['tcp/8080'] }, 'PortNotAllowed', 'profiles.ingress.processes.0.exposes'],
      [{ args: ['-g', 'daemon off;'], detach: true }, 'DetachNotAllowed', 'profiles.ingress.processes.0.detach'],
    ];
    for (const [overrides, reason, rule] of cases) {
      const verdict = matchProcessRule('ingress', linuxRules, request(overrides), 'posix');
      assert.equal(verdict.allowed, false, JSON.stringify(overrides));
      if (!verdict.allowed) assert.deepEqual([verdict.reason, verdict.ruleName], [reason, rule], JSON.stringify(overrides));
    }
  });

  it('refuses arguments to a rule without an args key, and a pattern that one argument misses', () => {
    const noArgs: ProcessRule[] = [{ path: '/usr/bin/true' }];
    assert.equal(matchProcessRule('p', noArgs, request({ path: '/usr/bin/true' }), 'posix').allowed, true);
    assert.equal(matchProcessRule('p', noArgs, request({ path: '/usr/bin/true', args: ['x'] }), 'posix').allowed, false);
    assert.equal(matchProcessRule('p', linuxRules, request({ args: ['-t', '-x'] }), 'posix').allowed, false);
  });

  it('says PathNotListed for an unlisted program and compares paths exactly, case included', () => {
    const verdict = matchProcessRule('p', linuxRules, request({ path: '/opt/NGINX/sbin/nginx' }), 'posix');
    assert.deepEqual(verdict.allowed ? [] : [verdict.reason, verdict.ruleName], ['PathNotListed', 'profiles.p.processes']);
    assert.equal(matchProcessRule('p', linuxRules, request({ path: '/opt/nginx/sbin/nginx2' }), 'posix').allowed, false);
    assert.equal(matchProcessRule('p', linuxRules, request({ path: '/opt/nginx/sbin' }), 'posix').allowed, false);
  });
});

describe('process rules (win32)', () => {
  const windowsRules: ProcessRule[] = [
    { path: 'C:\\nginx\\nginx.exe', env: ['NGINX_PORT'], exposes: ['tcp/80'], workingDirectories: ['C:\\nginx'] },
    { path: '\\\\server\\share\\evil.exe' },
    { path: 'C:\\PROGRA~1\\tool.exe' },
  ];
  const win = (overrides: Partial<ProcessRequest>) => request({ path: 'C:\\nginx\\nginx.exe', ...overrides });

  it('compares the final path case-insensitively, and environment names too', () => {
    assert.equal(matchProcessRule('w', windowsRules, win({ path: 'c:\\NGINX\\Nginx.EXE' }), 'win32').allowed, true);
    assert.equal(matchProcessRule('w', windowsRules, win({ envNames: ['nginx_port'] }), 'win32').allowed, true);
    assert.equal(matchProcessRule('w', windowsRules, win({ cwd: 'c:\\nginx\\LOGS' }), 'win32').allowed, true);
  });

  it('does not let a prefix sibling pass for the working directory or the program', () => {
    assert.equal(matchProcessRule('w', windowsRules, win({ cwd: 'C:\\nginx2' }), 'win32').allowed, false);
    assert.equal(matchProcessRule('w', windowsRules, win({ path: 'C:\\nginx\\nginx.exe2' }), 'win32').allowed, false);
  });

  it('never matches a rule written as UNC or 8.3: such a rule is ignored, not trusted', () => {
    assert.equal(matchProcessRule('w', windowsRules, win({ path: '\\\\server\\share\\evil.exe' }), 'win32').allowed, false);
    assert.equal(matchProcessRule('w', windowsRules, win({ path: 'C:\\PROGRA~1\\tool.exe' }), 'win32').allowed, false);
  });
});
