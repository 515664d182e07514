// The Kubernetes manifests in deploy/: every object is validated offline against the Kubernetes API
// schemas (kubernetes-models), the broker policy in the ConfigMap goes through `check-policy`, and the
// admission policy's CEL names what it protects.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Pod } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

const deployDir = fileURLToPath(new URL('../../deploy/', import.meta.url));
const cli = fileURLToPath(new URL('../../broker/src/cli.ts', import.meta.url));
const checkPolicy = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', cli, 'check-policy', file], { encoding: 'utf8' });

type K8sObject = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: string; namespace?: string }; [key: string]: unknown };
type Model = new (data?: any) => { validate(): void };

/** Every apiVersion/kind deploy/ may use, with the kubernetes-models class that validates it. */
const models: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Pod': Pod,
  'apps/v1/DaemonSet': DaemonSet,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding,
};

function modelFor(object: K8sObject): Model {
  const key = `${String(object.apiVersion)}/${String(object.kind)}`;
  const model = models[key];
  assert.ok(model, `unknown apiVersion/kind ${key}`);
  return model;
}

/** Throws when the object does not conform to its Kubernetes schema. */
function validate(object: K8sObject): void {
  new (modelFor(object))(structuredClone(object)).validate();
}

function loadFile(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(join(deployDir, file), 'utf8'), { prettyErrors: true });
  assert.ok(Array.isArray(docs), `${file}: not a YAML stream`);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    assert.deepEqual(doc.errors, [], `${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    assert.deepEqual(doc.warnings, [], `${file}: ${doc.warnings.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue; // an empty document (comments only)
    assert.equal(typeof value, 'object', `${file}: a document is not a mapping`);
    objects.push(value as K8sObject);
  }
  return objects;
}

const files = readdirSync(deployDir)
  .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
  .sort();
const all = new Map(files.map((file) => [file, loadFile(file)]));
const find = (kind: string, name: string) => {
  for (const objects of all.values()) {
    const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
    if (found) return found as any;
  }
  assert.fail(`no ${kind} ${name} in deploy/`);
};

describe('deploy/ manifests', () => {
  it('has the expected files', () => {
    for (const file of ['namespace.yaml', 'policy-configmap.yaml', 'daemonset-windows.yaml', 'daemonset-linux.yaml', 'example-workload.yaml', 'admission-policy.yaml']) {
      assert.ok(files.includes(file), `deploy/${file} is missing`);
    }
  });

  for (const file of files) {
    it(`${file}: every object is a known kind and valid against the Kubernetes schema`, () => {
      const objects = all.get(file)!;
      assert.ok(objects.length > 0, `${file} has no object`);
      for (const object of objects) {
        assert.equal(typeof object.metadata?.name, 'string', `${file}: an object without metadata.name`);
        try {
          validate(object);
        } catch (error) {
          assert.fail(`${file}: ${String(object.kind)} ${object.metadata?.name}: ${(error as Error).message}`);
        }
      }
    });
  }

  it('validation can fail: a bad manifest is refused', () => {
    const daemonSet = structuredClone(find('DaemonSet', 'winshost-broker-linux'));
    daemonSet.spec.template.spec.containers[0].image = 5;
    assert.throws(() => validate(daemonSet), /image/);

    const pod = structuredClone(find('Pod', 'winshost-client-linux'));
    pod.spec.volumes[0].hostPath.path = ['/run/winshost'];
    assert.throws(() => validate(pod), /path/);

    const policy = structuredClone(find('ValidatingAdmissionPolicy', 'winshost-hostpath-access'));
    policy.spec.validations[0].expression = { cel: 'true' };
    assert.throws(() => validate(policy), /expression/);

    assert.throws(() => modelFor({ apiVersion: 'policy/v1beta1', kind: 'PodSecurityPolicy' }), /unknown apiVersion\/kind/);
  });

  it('namespaced objects are in winshost-system, or in the labelled example namespace', () => {
    for (const [file, objects] of all) {
      for (const object of objects) {
        if (['Namespace', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(String(object.kind))) {
          assert.equal(object.metadata?.namespace, undefined, `${file}: ${String(object.kind)} is cluster-scoped`);
          continue;
        }
        const namespace = object.metadata?.namespace;
        assert.ok(namespace, `${file}: ${String(object.kind)} ${object.metadata?.name} has no namespace`);
        const ns = find('Namespace', namespace);
        if (file === 'example-workload.yaml') assert.equal(ns.metadata.labels?.['winshost.io/access'], 'true');
        else assert.equal(namespace, 'winshost-system');
      }
    }
  });

  it('the policy in the ConfigMap passes check-policy', () => {
    const configMap = find('ConfigMap', 'winshost-policy');
    const text = configMap.data?.['policy.yaml'];
    assert.equal(typeof text, 'string');
    const dir = mkdtempSync(join(tmpdir(), 'winshost-deploy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, text);
    const result = checkPolicy(file);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /: ok \(1 listener\(s\), 2 profile\(s\)\)/);

    // ... and check-policy would notice a broken one.
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, text.replace('profiles: [pods, default]', 'profiles: [pods, nobody]'));
    assert.equal(checkPolicy(broken).status, 1);
  });

  it('the DaemonSets mount that ConfigMap and pass it to serve --policy', () => {
    const configMap = find('ConfigMap', 'winshost-policy');
    for (const [name, os] of [['winshost-broker-windows', 'windows'], ['winshost-broker-linux', 'linux']]) {
      const spec = find('DaemonSet', name).spec.template.spec;
      assert.equal(spec.nodeSelector['kubernetes.io/os'], os);
      const volume = spec.volumes.find((v: any) => v.configMap);
      assert.equal(volume.configMap.name, configMap.metadata.name);
      const container = spec.containers[0];
      const mount = container.volumeMounts.find((m: any) => m.name === volume.name);
      const command: string[] = container.command;
      assert.deepEqual(command.slice(0, 3), ['node', os === 'windows' ? 'dist\\broker\\cli.js' : 'dist/broker/cli.js', 'serve']);
      const policyPath = command[command.indexOf('--policy') + 1];
      assert.equal(policyPath, `${mount.mountPath}${os === 'windows' ? '\\' : '/'}policy.yaml`);
    }
  });

  it('the Windows DaemonSet is a HostProcess pod running as SYSTEM', () => {
    const spec = find('DaemonSet', 'winshost-broker-windows').spec.template.spec;
    assert.equal(spec.hostNetwork, true);
    assert.equal(spec.securityContext.windowsOptions.hostProcess, true);
    assert.equal(spec.securityContext.windowsOptions.runAsUserName, 'NT AUTHORITY\\SYSTEM');
  });

  it('the Linux DaemonSet is not privileged and adds only the capabilities it needs', () => {
    const spec = find('DaemonSet', 'winshost-broker-linux').spec.template.spec;
    assert.equal(spec.hostPID, true);
    assert.equal(spec.hostNetwork, true);
    const security = spec.containers[0].securityContext;
    assert.notEqual(security.privileged, true);
    assert.deepEqual(security.capabilities.drop, ['ALL']);
    assert.deepEqual([...security.capabilities.add].sort(), ['KILL', 'NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE']);
    const hostPaths = Object.fromEntries(spec.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.hostPath.path, v.hostPath.type]));
    assert.equal(hostPaths['/run/winshost'], 'DirectoryOrCreate');
    assert.equal(hostPaths['/var/lib/winshost'], 'DirectoryOrCreate');
  });

  it('the example pods mount the pipe / socket by hostPath and set WINSHOST_PIPE', () => {
    for (const [name, path, pipe] of [
      ['winshost-client-windows', '\\\\.\\pipe\\winshost', '\\\\.\\pipe\\winshost'],
      ['winshost-client-linux', '/run/winshost', '/run/winshost/winshost.sock'],
    ]) {
      const spec = find('Pod', name).spec;
      const volume = spec.volumes.find((v: any) => v.hostPath?.path === path);
      assert.ok(volume, `${name}: no hostPath ${path}`);
      const container = spec.containers[0];
      assert.ok(container.volumeMounts.some((m: any) => m.name === volume.name));
      assert.equal(container.env.find((e: any) => e.name === 'WINSHOST_PIPE')?.value, pipe);
    }
  });

  describe('admission policy', () => {
    const policy = () => find('ValidatingAdmissionPolicy', 'winshost-hostpath-access');
    const cel = () => {
      const spec = policy().spec;
      return [...(spec.variables ?? []).map((v: any) => v.expression), ...spec.validations.map((v: any) => v.expression)].join('\n');
    };

    it('is bound, matches Pods and excludes winshost-system', () => {
      const spec = policy().spec;
      const binding = find('ValidatingAdmissionPolicyBinding', 'winshost-hostpath-access');
      assert.equal(binding.spec.policyName, policy().metadata.name);
      assert.deepEqual(binding.spec.validationActions, ['Deny']);
      assert.equal(spec.failurePolicy, 'Fail');
      assert.ok(spec.matchConstraints.resourceRules.some((r: any) => r.resources.includes('pods') && r.operations.includes('CREATE')));
      assert.deepEqual(spec.matchConstraints.namespaceSelector.matchExpressions, [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['winshost-system'] },
      ]);
    });

    it('its CEL checks hostPath volumes against both paths and the namespace label', () => {
      const text = cel();
      assert.match(text, /namespaceObject\.metadata\.labels/);
      assert.match(text, /'winshost\.io\/access'/);
      assert.match(text, /== 'true'/);
      assert.match(text, /hostPath/);
      assert.ok(text.includes('\\\\.\\pipe\\winshost'), 'the Windows pipe \\\\.\\pipe\\winshost is not named');
      assert.ok(text.includes('/run/winshost'), '/run/winshost is not named');
      // The matching itself is on normalized paths: //./pipe/winshost and /run/+winshost.
      assert.match(text, /pipe\/\*\(winshost/);
      assert.match(text, /run\/\+winshost/);
    });

    it('its path patterns (RE2, also valid JavaScript here) catch the endpoint and leave other paths alone', () => {
      const patterns = [...cel().matchAll(/\.matches\('([^']*)'\)/g)].map((m) => new RegExp(m[1]));
      assert.ok(patterns.length >= 2);
      // The same normalization as the CEL: lowerAscii() and replace('\\', '/').
      const reaches = (path: string) => {
        const p = path.toLowerCase().replaceAll('\\', '/');
        return patterns.some((re) => re.test(p));
      };
      for (const path of ['\\\\.\\pipe\\winshost', '\\\\.\\PIPE\\WinsHost', '//./pipe/winshost', '\\\\?\\pipe\\winshost', '\\\\.\\pipe\\', '/run/winshost', '/run/winshost/', '/run/winshost/winshost.sock', '//run//winshost', '/var/run/winshost', '/run', '/', '/var', '/var/run/', '/tmp/../run/winshost']) {
        assert.ok(reaches(path), `${path} is not caught`);
      }
      for (const path of ['\\\\.\\pipe\\docker_engine', '\\\\.\\pipe\\csi-proxy-filesystem-v1', 'C:\\etc\\winshost', '/run/containerd', '/run/winshostx', '/var/log', '/var/lib/winshost', '/etc/winshost', '/var/lib/..data']) {
        assert.ok(!reaches(path), `${path} is caught`);
      }
    });
  });
});
