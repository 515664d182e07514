import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decide } from '../../broker/src/policy/decide.js';
import { parsePolicy, PolicyError } from '../../broker/src/policy/load.js';
import { matchProcessRule, type ProcessRequest } from '../../broker/src/policy/processes.js';
import { convertWinsConfig } from '../../broker/src/policy/wins.js';

const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });
const policyDoc = fileURLToPath(new URL('../../docs/policy.md', import.meta.url));

const typical = [
  'white_list:',
  '  processPaths:',
  "    - 'C:\\etc\\rancher\\wins\\wins.exe'",
  "    - 'c:\\nginx\\nginx.exe'",
  '  proxyPorts: [80, 443]',
  '',
].join('\n');

const request = (path: string, overrides: Partial<ProcessRequest> = {}): ProcessRequest => ({ path, args: [], envNames: [], cwd: undefined, exposes: [], detach: false, ...overrides });

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PolicyError, String(error));
    return error.message.split('\n');
  }
  assert.fail('expected a PolicyError');
}

describe('convertWinsConfig', () => {
  it('converts a typical white_list into one listener, one profile and a rule per program', () => {
    const { policy, notes } = convertWinsConfig(typical, 'config');
    assert.deepEqual(policy, {
      version: 1,
      listeners: [{ name: 'winshost', profiles: ['wins'] }],
      profiles: {
        wins: {
          host: { read: true },
          network: { read: true },
          processes: [
            { path: 'C:\\etc\\rancher\\wins\\wins.exe', args: { any: true }, exposes: ['tcp/80', 'tcp/443'] },
            { path: 'C:\\nginx\\nginx.exe', args: { any: true }, exposes: ['tcp/80', 'tcp/443'] },
          ],
        },
      },
    });
    assert.ok(notes.some((n) => /^config:2:3: each of the 2 program\(s\) may be given any arguments, as wins allowed/.test(n)), notes.join('\n'));
    assert.ok(notes.some((n) => /^config:5:15: proxyPorts limited 'wins cli proxy --publish'.*each program may now expose only tcp\/80, tcp\/443;/.test(n)), notes.join('\n'));
    assert.ok(notes.some((n) => /every caller that can open the pipe gets profile 'wins'/.test(n)), notes.join('\n'));
    // A drive letter's case is not worth a note; wins compared paths case-insensitively and so does WinsHost.
    assert.ok(!notes.some((n) => /canonical form/.test(n)), notes.join('\n'));
  });

  it('gives rules that admit what wins admitted: any arguments, the listed ports, the path in any case', () => {
    const { policy } = convertWinsConfig(typical, 'config');
    const rules = policy.profiles.wins.processes!;
    const nginx = request('C:\\NGINX\\nginx.exe', { args: ['-c', 'conf\\nginx.conf'], exposes: ['tcp/443'] });
    assert.equal(matchProcessRule('wins', rules, nginx, 'win32').allowed, true);
    const udp = matchProcessRule('wins', rules, request('C:\\nginx\\nginx.exe', { exposes: ['udp/80'] }), 'win32');
    assert.deepEqual([udp.allowed, udp.ruleName], [false, 'profiles.wins.processes.1.exposes']);
    const other = matchProcessRule('wins', rules, request('C:\\Windows\\System32\\cmd.exe'), 'win32');
    assert.deepEqual([other.allowed, other.ruleName], [false, 'profiles.wins.processes']);
    const env = matchProcessRule('wins', rules, request('C:\\nginx\\nginx.exe', { envNames: ['PATH'] }), 'win32');
    assert.deepEqual([env.allowed, env.ruleName], [false, 'profiles.wins.processes.1.env']);
  });

  for (const [label, text] of [
    ['an empty processPaths', 'white_list:\n  processPaths: []\n  proxyPorts: [80]\n'],
    ['a null processPaths', 'white_list:\n  processPaths:\n  proxyPorts: [80]\n'],
    ['a missing processPaths', 'white_list:\n  proxyPorts: [80]\n'],
    ['a missing white_list', 'debug: true\n'],
    ['an empty file', ''],
  ] as const) {
    it(`allows no program at all for ${label}, unlike wins, and says so`, () => {
      const { policy, notes } = convertWinsConfig(text, 'config');
      const profile = policy.profiles.wins;
      assert.equal(profile.processes, undefined);
      assert.equal(decide('wins', profile, 'processes.run').allowed, false);
      assert.equal(decide('wins', profile, 'host.read').allowed, true);
      assert.equal(decide('wins', profile, 'network.read').allowed, true);
      assert.ok(notes.some((n) => /no program may be started \(wins allowed every program/.test(n)), notes.join('\n'));
    });
  }

  it('drops invalid paths and ports with a located note and keeps the rest', () => {
    const text = [
      'white_list:',
      '  processPaths:',
      '    - nginx.exe',
      '    - c:/nginx/nginx.exe',
      "    - 'C:\\nginx\\NGINX.exe'",
      "    - 'C:\\PROGRA~1\\app.exe'",
      "    - '\\\\server\\share\\app.exe'",
      "    - 'C:\\tools\\..\\evil.exe'",
      '  proxyPorts: [8080, 90001, 0, http, 8080]',
      '',
    ].join('\n');
    const { policy, notes } = convertWinsConfig(text, 'w.yaml');
    assert.deepEqual(policy.profiles.wins.processes, [{ path: 'C:\\nginx\\nginx.exe', args: { any: true }, exposes: ['tcp/8080'] }]);
    const expect = [
      /^w\.yaml:3:7: white_list\.processPaths\.0: dropped, no rule made: 'nginx\.exe' is not an absolute path/,
      /^w\.yaml:4:7: white_list\.processPaths\.1: written as C:\\nginx\\nginx\.exe, its canonical form$/,
      /^w\.yaml:5:7: white_list\.processPaths\.2: C:\\nginx\\NGINX\.exe is listed twice; one rule made$/,
      /^w\.yaml:6:7: white_list\.processPaths\.3: dropped, no rule made: .*8\.3 short name/,
      /^w\.yaml:7:7: white_list\.processPaths\.4: dropped, no rule made: .*network share/,
      /^w\.yaml:8:7: white_list\.processPaths\.5: dropped, no rule made: .*'\.\.' segment/,
      /^w\.yaml:9:22: white_list\.proxyPorts\.1: 90001 is not a port \(1-65535\); dropped$/,
      /^w\.yaml:9:29: white_list\.proxyPorts\.2: 0 is not a port/,
      /^w\.yaml:9:32: white_list\.proxyPorts\.3: "http" is not a port/,
    ];
    for (const pattern of expect) assert.ok(notes.some((n) => pattern.test(n)), `${pattern} not in\n${notes.join('\n')}`);
  });

  it('notes every wins key it ignores, and unknown keys, with their positions', () => {
    const text = [
      'debug: true',
      'listen: rancher_wins',
      'proxy: http://proxy:3128',
      'white_list:',
      "  processPaths: ['c:\\a\\b.exe']",
      '  checksums: [abc]',
      'systemagent:',
      '  workDirectory: c:/etc/rancher/agent/work',
      'csi-proxy:',
      '  version: v1.1.1',
      'tls-config:',
      '  insecure: false',
      'upgrade: now',
      'agentStrictTLSMode: true',
      '',
    ].join('\n');
    const { policy, notes } = convertWinsConfig(text, 'config');
    assert.equal(policy.profiles.wins.processes?.length, 1);
    for (const [line, pattern] of [
      [1, /'debug' is ignored/],
      [2, /'listen' is ignored/],
      [3, /'proxy' is ignored/],
      [6, /white_list\.checksums is not a wins white_list key; ignored/],
      [7, /'systemagent' is ignored/],
      [9, /'csi-proxy' is ignored/],
      [11, /'tls-config' is ignored/],
      [13, /'upgrade' is not a wins config key WinsHost knows; ignored/],
      [14, /'agentStrictTLSMode' is ignored/],
    ] as const) {
      assert.ok(notes.some((n) => n.startsWith(`config:${line}:`) && pattern.test(n)), `${pattern} at line ${line} not in\n${notes.join('\n')}`);
    }
  });

  it('matches keys case-insensitively, as wins decoding through Go JSON did', () => {
    const { policy, notes } = convertWinsConfig("White_List:\n  processpaths: ['c:\\a\\b.exe']\n", 'config');
    assert.deepEqual(policy.profiles.wins.processes, [{ path: 'C:\\a\\b.exe', args: { any: true } }]);
    assert.ok(notes.some((n) => /with no proxyPorts no program may expose one now/.test(n)), notes.join('\n'));
  });

  it('refuses a file whose structure is not what wins reads, every problem located', () => {
    assert.deepEqual(problemsOf(() => convertWinsConfig('- a\n- b\n', 'c.yaml')), ['c.yaml:1:1: a wins config must be a mapping of keys (white_list, listen, debug, ...)']);
    assert.deepEqual(problemsOf(() => convertWinsConfig('white_list: [a]\n', 'c.yaml')), ['c.yaml:1:13: white_list: must be a mapping with processPaths and proxyPorts']);
    assert.deepEqual(problemsOf(() => convertWinsConfig('white_list:\n  processPaths: c:\\a.exe\n  proxyPorts: 80\n', 'c.yaml')), [
      'c.yaml:2:17: white_list.processPaths: must be a list',
      'c.yaml:3:15: white_list.proxyPorts: must be a list',
    ]);
    assert.deepEqual(problemsOf(() => convertWinsConfig('white_list:\n  processPaths: [1, {a: b}]\n', 'c.yaml')), [
      'c.yaml:2:18: white_list.processPaths.0: must be a path string',
      'c.yaml:2:21: white_list.processPaths.1: must be a path string',
    ]);
    const duplicate = problemsOf(() => convertWinsConfig('debug: true\ndebug: false\n', 'c.yaml'));
    assert.equal(duplicate.length, 1);
    assert.match(duplicate[0], /^c\.yaml:2:1: /);
    assert.match(problemsOf(() => convertWinsConfig('white_list: {\n', 'c.yaml'))[0], /^c\.yaml:\d+:\d+: /);
  });

  it('produces a policy that the policy loader accepts once written as YAML', async () => {
    const { stringify } = await import('yaml');
    const { policy } = convertWinsConfig(typical, 'config');
    assert.deepEqual(parsePolicy(stringify(policy), 'converted.yaml'), policy);
  });
});

describe('winshost-broker check-policy --from-wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'winshost-wins-'));
  const config = join(dir, 'config');
  writeFileSync(config, `debug: false\n${typical}`);

  it('prints the policy on stdout and the notes on stderr, exit 0', () => {
    const result = run('check-policy', '--from-wins', config);
    assert.equal(result.status, 0, result.stderr);
    const policy = parsePolicy(result.stdout, 'stdout');
    assert.deepEqual(
      policy.profiles.wins.processes?.map((rule) => rule.path),
      ['C:\\etc\\rancher\\wins\\wins.exe', 'C:\\nginx\\nginx.exe'],
    );
    assert.match(result.stdout, /^# Converted from the wins config /);
    assert.ok(result.stderr.split('\n').includes(`${config}:1:1: 'debug' is ignored: the broker logs every call to its audit log (serve --audit)`), result.stderr);
    assert.match(result.stderr, /may be given any arguments, as wins allowed/);
  });

  it('writes --out, which check-policy then accepts', () => {
    const out = join(dir, 'policy.yaml');
    const result = run('check-policy', '--from-wins', config, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /policy\.yaml: written \(2 process rule\(s\)\)/);
    assert.equal(parsePolicy(readFileSync(out, 'utf8'), out).listeners[0].name, 'winshost');
    const check = run('check-policy', out);
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /ok \(1 listener\(s\), 1 profile\(s\)\)/);
  });

  it('converts an empty list to a policy that starts nothing', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, 'white_list:\n  processPaths: []\n  proxyPorts: []\n');
    const result = run('check-policy', '--from-wins', empty);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(parsePolicy(result.stdout, 'stdout').profiles.wins.processes, undefined);
    assert.match(result.stderr, /empty:2:17: white_list\.processPaths has no usable path: no program may be started/);
  });

  it('exits 1 with located problems for a broken or missing file, and 2 for misuse', () => {
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'white_list:\n  processPaths: c:\\a.exe\n');
    const broken = run('check-policy', '--from-wins', bad);
    assert.equal(broken.status, 1);
    assert.equal(broken.stdout, '');
    assert.equal(broken.stderr.trim(), `${bad}:2:17: white_list.processPaths: must be a list`);
    const missing = run('check-policy', '--from-wins', join(dir, 'nope'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope:1:1: cannot read the wins config file \(ENOENT\)/);
    assert.equal(run('check-policy', '--from-wins', config, 'extra.yaml').status, 2);
    assert.equal(run('check-policy', '--out', join(dir, 'x.yaml'), config).status, 2);
  });
});

describe('docs/migrating-from-wins.md', () => {
  it('shows the conversion of its wins config exactly as the converter makes it', async () => {
    const { stringify } = await import('yaml');
    const text = readFileSync(fileURLToPath(new URL('../../docs/migrating-from-wins.md', import.meta.url)), 'utf8');
    const [wins, converted] = [...text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
    assert.match(wins, /^white_list:/);
    assert.equal(stringify(convertWinsConfig(wins, 'config').policy), converted);
  });
});

describe('docs/policy.md', () => {
  it('has only whole-policy YAML examples that the policy loader accepts', () => {
    const text = readFileSync(policyDoc, 'utf8');
    const blocks = [...text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((match) => ({ body: match[1], line: text.slice(0, match.index).split('\n').length + 1 }));
    const policies = blocks.filter((block) => /^listeners:/m.test(block.body));
    assert.ok(policies.length >= 5, `only ${policies.length} whole-policy examples`);
    for (const block of policies) {
      try {
        parsePolicy(block.body, `docs/policy.md (block at line ${block.line})`);
      } catch (error) {
        assert.fail((error as Error).message);
      }
    }
  });
});
