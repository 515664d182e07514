import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decide, globToRegExp, matches, selectProfile } from '../../broker/src/policy/decide.js';
import { builtInPolicy } from '../../broker/src/policy/default.js';
import { formatProblem, loadPolicyFile, parsePolicy, PolicyError } from '../../broker/src/policy/load.js';

function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml, 'p.yaml');
  } catch (error) {
    assert.ok(error instanceof PolicyError, `expected PolicyError, got ${error}`);
    return error.problems.map(formatProblem);
  }
  assert.fail('the policy was accepted');
}

const valid = `listeners:
  - name: winshost
    mode: '0660'
    profiles: [ingress, default]
profiles:
  default:
    host: { read: true }
    network: { read: true }
  ingress:
    match: { uid: 1000 }
    host: { read: true }
`;

describe('policy parsing', () => {
  it('accepts a valid policy', () => {
    const policy = parsePolicy(valid, 'p.yaml');
    assert.deepEqual(policy.listeners[0].profiles, ['ingress', 'default']);
    assert.equal(policy.profiles.ingress.match?.uid, 1000);
  });

  it('locates an unknown key at the key itself', () => {
    assert.deepEqual(problems(valid.replace('    network: { read: true }', '    network: { read: true }\n    netwrok: { read: true }')), [
      "p.yaml:9:5: profiles.default: unknown key 'netwrok'",
    ]);
  });

  it('locates a value of the wrong type at the value', () => {
    const [problem] = problems(valid.replace('host: { read: true }\n    network', 'host: { read: yes }\n    network'));
    assert.match(problem, /^p\.yaml:7:19: profiles\.default\.host\.read: .*boolean/);
  });

  it('reports a profile a listener names but nobody defines, at the name', () => {
    assert.deepEqual(problems(valid.replace('[ingress, default]', '[ingress, missing]')), [
      "p.yaml:4:25: listeners.0.profiles.1: profile 'missing' is not defined under profiles",
    ]);
  });

  it('reports a missing required key at its parent', () => {
    const [problem] = problems('listeners:\n  - name: a\nprofiles: {}\n');
    assert.match(problem, /^p\.yaml:2:5: listeners\.0\.profiles: /);
  });

  it('reports YAML syntax errors with their position', () => {
    const [problem] = problems('listeners: [\n');
    assert.match(problem, /^p\.yaml:\d+:\d+: /);
  });

  it('treats YAML warnings as errors: an unknown tag', () => {
    const [problem] = problems(valid.replace("mode: '0660'", 'mode: !evil 0660'));
    assert.match(problem, /^p\.yaml:3:11: .*tag/i);
  });

  it('rejects duplicate keys', () => {
    const [problem] = problems(valid.replace('  default:\n    host: { read: true }', '  default:\n    host: { read: true }\n    host: { read: false }'));
    assert.match(problem, /^p\.yaml:8:5: .*[Uu]nique|duplicate/);
  });

  it('rejects a mode that is not an octal string', () => {
    const [problem] = problems(valid.replace("mode: '0660'", 'mode: 660'));
    assert.match(problem, /^p\.yaml:3:11: listeners\.0\.mode: /);
  });

  it('checks session grants: programs need FileSystem, targets must exist, the session host by absolute path', () => {
    const base = `listeners:\n  - name: l\n    profiles: [p]\nprofiles:\n  p:\n    sessions:\n`;
    assert.ok(problems(`${base}      programs: [/usr/bin/ip]\n`).some((p) => /sessions\.programs: programs need the FileSystem provider/.test(p)));
    assert.doesNotThrow(() => parsePolicy(`${base}      programs: [/usr/bin/ip]\n      providers: [FileSystem]\n`, 'p.yaml'));
    assert.ok(problems(`${base}      targets: [host, web]\n`).some((p) => p.includes("target 'web' is neither 'host' nor defined under containers")));
    assert.doesNotThrow(() => parsePolicy(`${base}      targets: [host, web]\ncontainers:\n  web: { netns: web }\n`, 'p.yaml'));
    assert.ok(problems(`${base}      enabled: true\ncontainers:\n  web: { netns: web, pidFile: /run/web.pid }\n`).some((p) => p.includes('exactly one of netns, pidFile, cgroup or containerId')));
    assert.ok(problems(`${base}      enabled: true\nsessionHost:\n  executable: pwsh\n`).some((p) => /sessionHost\.executable: must be an absolute path/.test(p)));
  });

  it('rejects an empty document', () => {
    const [problem] = problems('');
    assert.match(problem, /^p\.yaml:1:1: /);
  });

  it('rejects duplicate listener names', () => {
    const twice = valid.replace('profiles:\n  default:', '  - name: winshost\n    profiles: [default]\nprofiles:\n  default:');
    assert.ok(problems(twice).some((p) => p.includes("listener name 'winshost' is used twice")));
  });

  it('reads a file and names it in errors; an unreadable file is an error too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'winshost-policy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, valid);
    assert.equal(loadPolicyFile(file).source, file);
    assert.throws(() => loadPolicyFile(join(dir, 'missing.yaml')), (error: PolicyError) => formatProblem(error.problems[0]).includes('missing.yaml:1:1: cannot read'));
  });
});

describe('policy decisions', () => {
  it('the built-in policy grants host and network reading only', () => {
    const profile = builtInPolicy.profiles.default;
    assert.equal(decide('default', profile, 'host.read').allowed, true);
    assert.equal(decide('default', profile, 'network.read').allowed, true);
    assert.deepEqual(Object.keys(profile).sort(), ['host', 'network']);
  });

  it('denies what a profile does not grant and names the rule', () => {
    assert.deepEqual(decide('ingress', { host: { read: true } }, 'network.read'), { allowed: false, rule: 'profiles.ingress.network.read' });
    assert.deepEqual(decide('x', { network: { read: false } }, 'network.read'), { allowed: false, rule: 'profiles.x.network.read' });
  });

  it('selects the first profile whose match holds', () => {
    const policy = parsePolicy(valid, 'p.yaml');
    assert.equal(selectProfile(policy, policy.listeners[0], { uid: 1000, gid: 1000 })?.name, 'ingress');
    assert.equal(selectProfile(policy, policy.listeners[0], { uid: 0, gid: 0 })?.name, 'default');
  });

  it('selects nothing when no profile matches', () => {
    const policy = parsePolicy(valid.replace('[ingress, default]', '[ingress]'), 'p.yaml');
    assert.equal(selectProfile(policy, policy.listeners[0], { uid: 5 }), undefined);
  });

  it('matches uid and gid lists, netns names and cgroup globs; unknown peer facts never match', () => {
    assert.equal(matches({ uid: [1, 2] }, { uid: 2 }), true);
    assert.equal(matches({ uid: [1, 2] }, { uid: 3 }), false);
    assert.equal(matches({ uid: 1 }, {}), false);
    assert.equal(matches({ gid: 10 }, { gid: 10, uid: 4 }), true);
    assert.equal(matches({ netns: 'ctr1' }, { netnsName: 'ctr1' }), true);
    assert.equal(matches({ netns: 'ctr1' }, { netnsName: 'ctr2' }), false);
    assert.equal(matches({ netns: 'ctr1' }, {}), false);
    const cgroups = ['0::/kubepods/besteffort/pod123/abc'];
    assert.equal(matches({ cgroup: '/kubepods/**' }, { cgroups }), true);
    assert.equal(matches({ cgroup: '/kubepods/*/pod123/*' }, { cgroups }), true);
    assert.equal(matches({ cgroup: '/kubepods/*' }, { cgroups }), false);
    assert.equal(matches({ uid: 1, netns: 'a' }, { uid: 1, netnsName: 'b' }), false, 'every key must hold');
  });

  it('treats glob metacharacters other than * literally', () => {
    assert.equal(globToRegExp('/a.b/(c)').test('/a.b/(c)'), true);
    assert.equal(globToRegExp('/a.b').test('/aXb'), false);
  });
});
