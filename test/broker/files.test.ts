import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes } from '../../typings/index.js';
import { fakeRegistrySpecs, RawPeer, startTestBroker, type TestBroker } from './support.js';

const validSpec = {
  CmsPlugins: ['ActiveDirectory'],
  DomainJoinConfig: {
    Sid: 'S-1-5-21-702590844-1001920913-2680819671',
    MachineAccountName: 'WebApp01',
    Guid: '56d9b575-2e8a-4c7e-9ef1-1e7a3a3b2f11',
    DnsTreeName: 'contoso.com',
    DnsName: 'contoso.com',
    NetBiosName: 'CONTOSO',
  },
  ActiveDirectoryConfig: {
    GroupManagedServiceAccounts: [
      { Name: 'WebApp01', Scope: 'contoso.com' },
      { Name: 'MissingAccount', Scope: 'CONTOSO' },
    ],
  },
};

describe('host files and credential specs through a live broker', () => {
  let broker: TestBroker;
  let dir: string;
  let logs: string;
  let peer: RawPeer;
  let nextId = 0;
  const call = (method: string, params: unknown) => peer.request(method, params, ++nextId);

  /** Sends a file/read and collects its file/data notifications. */
  async function readFile(params: Record<string, unknown>) {
    const token = `t${++nextId}`;
    const response = await call('file/read', { token, ...params });
    const chunks = peer.takeNotifications('file/data').filter((n) => n.token === token);
    const data = Buffer.concat(chunks.map((n) => Buffer.from(n.data as string, 'base64')));
    return { response, chunks, data };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'winshost-files-'));
    logs = join(dir, 'logs');
    mkdirSync(join(logs, 'sub'), { recursive: true });
    mkdirSync(join(dir, 'logs2'));
    mkdirSync(join(dir, 'specs'));
    mkdirSync(join(dir, 'specs2'));
    writeFileSync(join(logs, 'a.log'), 'one\ntwo\nthree\n');
    writeFileSync(join(logs, 'notrail.log'), 'one\ntwo\nthree');
    writeFileSync(join(logs, 'b.txt'), 'not included\n');
    writeFileSync(join(logs, 'sub', 'c.log'), 'nested\n');
    writeFileSync(join(logs, 'wide.log'), Buffer.from('α\r\nβ\r\nγ\r\n', 'utf16le'));
    writeFileSync(join(dir, 'secret.txt'), 'secret\n');
    writeFileSync(join(dir, 'logs2', 'sibling.log'), 'sibling\n');
    symlinkSync(join(dir, 'secret.txt'), join(logs, 'escape.log'));
    symlinkSync(join(logs, 'a.log'), join(logs, 'alias.log'));
    symlinkSync(join(dir, 'logs2'), join(logs, 'linkdir'));
    symlinkSync(join(logs, 'a.log'), join(dir, 'inward.log'));
    linkSync(join(dir, 'secret.txt'), join(logs, 'hardlink.log'));
    execFileSync('mkfifo', [join(logs, 'pipe.log')]);
    writeFileSync(join(dir, 'specs', 'webapp1.json'), `\uFEFF${JSON.stringify(validSpec)}`);
    writeFileSync(join(dir, 'specs', 'broken.json'), '{"CmsPlugins": []}');
    writeFileSync(join(dir, 'specs', 'other.json'), JSON.stringify(validSpec));
    writeFileSync(join(dir, 'specs2', 'webapp1x.json'), JSON.stringify(validSpec));
    symlinkSync(join(dir, 'specs2', 'webapp1x.json'), join(dir, 'specs', 'webapp1link.json'));
    fakeRegistrySpecs.set('webapp-reg', JSON.stringify(validSpec));
    broker = await startTestBroker({
      policyYaml: `listeners:
  - name: files
    profiles: [reader]
profiles:
  reader:
    files:
      roots:
        - path: ${logs}
          include: '**.log'
      maxReadBytes: 8388608
    credentialSpecs:
      directory: ${join(dir, 'specs')}
      allow: ['file://webapp1*.json', 'file://broken.json', 'file://../secret.txt', 'registry://webapp-*', 'raw://']
`,
    });
    peer = await RawPeer.open(broker.path);
    await peer.initialize();
  });
  after(async () => {
    peer.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
    fakeRegistrySpecs.clear();
  });

  it('reads an allowed file whole, with its size and hash', async () => {
    const { response, data } = await readFile({ path: join(logs, 'a.log') });
    assert.equal(data.toString(), 'one\ntwo\nthree\n');
    assert.equal(response.result.size, 14);
    assert.equal(response.result.bytesRead, 14);
    assert.equal(response.result.sha256, createHash('sha256').update(data).digest('hex'));
  });

  it('reads the last and the first lines, with and without a final newline', async () => {
    assert.equal((await readFile({ path: join(logs, 'a.log'), tail: 2 })).data.toString(), 'two\nthree\n');
    assert.equal((await readFile({ path: join(logs, 'notrail.log'), tail: 2 })).data.toString(), 'two\nthree');
    assert.equal((await readFile({ path: join(logs, 'a.log'), tail: 10 })).data.toString(), 'one\ntwo\nthree\n');
    assert.equal((await readFile({ path: join(logs, 'a.log'), tail: 0 })).data.length, 0);
    assert.equal((await readFile({ path: join(logs, 'a.log'), head: 1 })).data.toString(), 'one\n');
    assert.equal((await readFile({ path: join(logs, 'notrail.log'), head: 5 })).data.toString(), 'one\ntwo\nthree');
    assert.equal((await readFile({ path: join(logs, 'a.log'), offset: 4, length: 3 })).data.toString(), 'two');
    assert.equal((await readFile({ path: join(logs, 'wide.log'), tail: 1, lineEncoding: 'utf16le' })).data.toString('utf16le'), 'γ\r\n');
  });

  it('streams a large file in order, complete, in chunks', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 16)) & 0xff;
    writeFileSync(join(logs, 'big.log'), big);
    const { response, chunks, data } = await readFile({ path: join(logs, 'big.log') });
    assert.ok(chunks.length > 10);
    assert.deepEqual(chunks.map((c) => c.offset), chunks.map((_, i) => i * 65536));
    assert.ok(data.equals(big));
    assert.equal(response.result.sha256, createHash('sha256').update(big).digest('hex'));
  });

  it('reads a file that grows during the read to the length it had when opened', async () => {
    const path = join(logs, 'growing.log');
    const original = 6 * 1024 * 1024;
    writeFileSync(path, Buffer.alloc(original, 0x61));
    const token = 'growing';
    peer.send({ jsonrpc: '2.0', id: 'grow', method: 'file/read', params: { path, token } });
    await peer.notificationArrived('file/data');
    appendFileSync(path, Buffer.alloc(1024 * 1024, 0x62));
    const response = await peer.response('grow');
    const data = Buffer.concat(peer.takeNotifications('file/data').filter((n) => n.token === token).map((n) => Buffer.from(n.data as string, 'base64')));
    assert.equal(response.result.size, original);
    assert.equal(data.length, original);
    assert.ok(data.every((b) => b === 0x61));
  });

  it('refuses a read larger than the profile allows, before sending anything', async () => {
    writeFileSync(join(logs, 'huge.log'), Buffer.from(`${'x'.repeat(99)}\n`.repeat(90_000)));
    const { response, chunks } = await readFile({ path: join(logs, 'huge.log') });
    assert.equal(response.error.code, ErrorCodes.LimitExceeded);
    assert.equal(response.error.data.reason, 'ReadTooLarge');
    assert.equal(chunks.length, 0);
    assert.equal((await readFile({ path: join(logs, 'huge.log'), tail: 1 })).response.result.bytesRead, 100);
    assert.equal((await readFile({ path: join(logs, 'huge.log'), head: 200_000 })).response.error.code, ErrorCodes.LimitExceeded);
  });

  const denials: [string, () => string, number, string][] = [
    ['a symlink inside the root pointing out', () => join(logs, 'escape.log'), ErrorCodes.PolicyDenied, 'OutsideRoot'],
    ['a symlink outside the roots pointing in', () => join(dir, 'inward.log'), ErrorCodes.PolicyDenied, 'NotUnderRoot'],
    ['a prefix sibling of the root', () => join(dir, 'logs2', 'sibling.log'), ErrorCodes.PolicyDenied, 'NotUnderRoot'],
    ['a directory link to a sibling', () => join(logs, 'linkdir', 'sibling.log'), ErrorCodes.PolicyDenied, 'OutsideRoot'],
    ['a hard link to a file outside the root', () => join(logs, 'hardlink.log'), ErrorCodes.PolicyDenied, 'HardLinked'],
    ['a name the include pattern leaves out', () => join(logs, 'b.txt'), ErrorCodes.PolicyDenied, 'NotIncluded'],
    ['a parent segment', () => `${logs}/sub/../a.log`, ErrorCodes.InvalidParams, 'ParentSegment'],
    ['a parent segment escaping', () => `${logs}/../secret.txt`, ErrorCodes.InvalidParams, 'ParentSegment'],
    ['a relative path', () => 'logs/a.log', ErrorCodes.InvalidParams, 'NotAbsolute'],
    ['a FIFO under the root', () => join(logs, 'pipe.log'), ErrorCodes.InvalidParams, 'NotAFile'],
    ['a directory', () => join(logs, 'sub'), ErrorCodes.InvalidParams, 'NotAFile'],
  ];
  for (const [name, path, code, reason] of denials) {
    it(`refuses ${name}, and audits it`, async () => {
      const { response, chunks } = await readFile({ path: path() });
      assert.equal(response.error?.code, code, JSON.stringify(response));
      assert.equal(response.error.data.reason, reason);
      assert.equal(chunks.length, 0);
      const audited = (await broker.auditEntries()).filter((e) => e.method === 'file/read' && e.reason === reason);
      assert.ok(audited.length > 0);
    });
  }

  it('follows a link that stays under the root', async () => {
    assert.equal((await readFile({ path: join(logs, 'alias.log') })).data.toString(), 'one\ntwo\nthree\n');
  });

  it('says NotFound for a missing file and refuses tail with offset', async () => {
    assert.equal((await readFile({ path: join(logs, 'missing.log') })).response.error.code, ErrorCodes.NotFound);
    const { response } = await readFile({ path: join(logs, 'a.log'), tail: 1, offset: 2 });
    assert.equal(response.error.code, ErrorCodes.InvalidParams);
    assert.equal(response.error.data.field, 'tail');
  });

  it('lists a root: included files and directories, no escaping links, no FIFOs', async () => {
    const { result } = await call('file/list', { path: logs });
    const names = result.entries.map((e: { Name: string }) => e.Name);
    assert.ok(names.includes('a.log') && names.includes('alias.log') && names.includes('sub'));
    for (const hidden of ['b.txt', 'escape.log', 'pipe.log', 'linkdir', 'hardlink.log']) assert.ok(!names.includes(hidden), hidden);
    const a = result.entries.find((e: { Name: string }) => e.Name === 'a.log');
    assert.deepEqual({ FullName: a.FullName, Type: a.Type, Length: a.Length, Root: a.Root }, { FullName: join(logs, 'a.log'), Type: 'File', Length: 14, Root: logs });
    const recursive = await call('file/list', { path: logs, recurse: true });
    assert.ok(recursive.result.entries.some((e: { FullName: string }) => e.FullName === join(logs, 'sub', 'c.log')));
    assert.equal((await call('file/list', { path: join(dir, 'logs2') })).error.code, ErrorCodes.PolicyDenied);
    assert.equal((await call('file/list', { path: join(logs, 'linkdir') })).error.data.reason, 'OutsideRoot');
    assert.equal((await call('file/list', { path: join(logs, 'a.log') })).error.data.reason, 'NotADirectory');
  });

  it('reads an allowed file:// spec and validates it', async () => {
    const { result } = await call('credspec/get', { uri: 'FILE://webapp1.json' });
    assert.equal(result.Source, 'file');
    assert.equal(result.Name, 'webapp1.json');
    assert.equal(result.Path, join(dir, 'specs', 'webapp1.json'));
    assert.equal(result.Spec.DomainJoinConfig.DnsName, 'contoso.com');
  });

  const specDenials: [string, () => string, number, string][] = [
    ['a spec not in the allow list', () => 'file://other.json', ErrorCodes.PolicyDenied, 'NotGranted'],
    ['a parent segment, even when allowed', () => 'file://../secret.txt', ErrorCodes.InvalidParams, 'ParentSegment'],
    ['a link to the prefix sibling directory', () => 'file://webapp1link.json', ErrorCodes.PolicyDenied, 'OutsideRoot'],
    ['an absolute name', () => `file://${join(dir, 'specs', 'webapp1.json')}`, ErrorCodes.InvalidParams, 'NotRelative'],
    ['an unsupported scheme', () => 'config://webapp1', ErrorCodes.InvalidParams, 'UnsupportedScheme'],
    ['an empty reference', () => '', ErrorCodes.InvalidParams, 'Empty'],
  ];
  for (const [name, uri, code, reason] of specDenials) {
    it(`refuses ${name}`, async () => {
      const { error } = await call('credspec/get', { uri: uri() });
      assert.equal(error?.code, code, JSON.stringify(error));
      assert.equal(error.data.reason, reason);
    });
  }

  it('names the invalid fields of a stored spec; test reports them without failing', async () => {
    const { error } = await call('credspec/get', { uri: 'file://broken.json' });
    assert.equal(error.code, ErrorCodes.HostOperationFailed);
    assert.ok(error.data.problems.some((p: { Field: string }) => p.Field === 'DomainJoinConfig'));
    const { result } = await call('credspec/test', { uri: 'file://broken.json' });
    assert.equal(result.Valid, false);
    assert.ok(result.Problems.length >= 2);
  });

  it('reads registry and raw specs and checks each gMSA', async () => {
    assert.equal((await call('credspec/get', { uri: 'registry://webapp-reg' })).result.Spec.DomainJoinConfig.NetBiosName, 'CONTOSO');
    assert.equal((await call('credspec/get', { uri: 'registry://webapp-none' })).error.code, ErrorCodes.NotFound);
    const raw = await call('credspec/test', { uri: `raw://${JSON.stringify(validSpec)}` });
    assert.equal(raw.result.Valid, true);
    assert.deepEqual(raw.result.Accounts.map((a: { Name: string; Resolved: boolean }) => [a.Name, a.Resolved]), [
      ['WebApp01', true],
      ['MissingAccount', false],
    ]);
    assert.equal((await call('credspec/get', { uri: 'raw://{"CmsPlugins":1}' })).error.code, ErrorCodes.InvalidParams);
  });

  it('lists only the specs the profile may read', async () => {
    const { result } = await call('credspec/list', {});
    // webapp1link.json is allowed by name but links out of the directory: not listed
    assert.deepEqual(result.specs.map((s: { Uri: string }) => s.Uri), ['file://broken.json', 'file://webapp1.json', 'registry://webapp-reg']);
  });

  it('denies files and specs to a profile without them, and audits it', async () => {
    const other = await startTestBroker();
    const denied = await RawPeer.open(other.path);
    await denied.initialize();
    assert.equal((await denied.request('file/read', { path: join(logs, 'a.log'), token: 'x' }, 1)).error.data.rule, 'profiles.default.files');
    assert.equal((await denied.request('credspec/list', {}, 2)).error.code, ErrorCodes.PolicyDenied);
    denied.close();
    const audit = (await other.auditEntries()).find((e) => e.method === 'file/read');
    assert.equal(audit?.decision, 'deny');
    await other.stop();
  });
});
