import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  credentialSpecAllowed,
  parseCredentialSpecReference,
  validateCredentialSpec,
  validateCredentialSpecText,
  type CredentialSpecReference,
} from '../../broker/src/handlers/credspec-document.js';
import { InvalidParamsError } from '../../broker/src/errors.js';

/** Shaped like New-CredentialSpec's output for a gMSA WebApp01 in the made-up domain contoso.com. */
function validSpec(): Record<string, any> {
  return {
    CmsPlugins: ['ActiveDirectory'],
    DomainJoinConfig: {
      Sid: 'S-1-5-21-702590844-1001920913-2680819671',
      MachineAccountName: 'WebApp01',
      Guid: '56d9b66c-d746-4f87-bd26-26760cfdca2e',
      DnsTreeName: 'contoso.com',
      DnsName: 'contoso.com',
      NetBiosName: 'CONTOSO',
    },
    ActiveDirectoryConfig: {
      GroupManagedServiceAccounts: [
        { Name: 'WebApp01', Scope: 'contoso.com' },
        { Name: 'WebApp01', Scope: 'CONTOSO' },
      ],
    },
  };
}

function problemsOf(spec: unknown): Array<[string, string]> {
  const result = validateCredentialSpec(spec);
  assert.equal(result.spec, undefined, 'an invalid spec must not be returned');
  return result.problems.map((p) => [p.Field, p.Message]);
}

function fields(spec: unknown): string[] {
  return problemsOf(spec).map(([field]) => field);
}

describe('parseCredentialSpecReference', () => {
  it('parses each scheme, case-insensitively, keeping the value as given', () => {
    assert.deepEqual(parseCredentialSpecReference('file://webapp1.json'), { uri: 'file://webapp1.json', source: 'file', name: 'webapp1.json' });
    assert.deepEqual(parseCredentialSpecReference('FILE://x.json'), { uri: 'FILE://x.json', source: 'file', name: 'x.json' });
    assert.deepEqual(parseCredentialSpecReference('File://Sub\\X.json'), { uri: 'File://Sub\\X.json', source: 'file', name: 'Sub\\X.json' });
    assert.deepEqual(parseCredentialSpecReference('Registry://x'), { uri: 'Registry://x', source: 'registry', name: 'x' });
    assert.deepEqual(parseCredentialSpecReference('registry://WebApp1'), { uri: 'registry://WebApp1', source: 'registry', name: 'WebApp1' });
    const raw = '{"CmsPlugins":["ActiveDirectory"]}';
    assert.deepEqual(parseCredentialSpecReference(`RAW://${raw}`), { uri: `RAW://${raw}`, source: 'raw', name: '', text: raw });
  });

  it('splits at the first "://" only', () => {
    const ref = parseCredentialSpecReference('raw://{"x":"http://a"}');
    assert.equal(ref.text, '{"x":"http://a"}');
  });

  function rejected(uri: string, reason: string): InvalidParamsError {
    let caught: unknown;
    try {
      parseCredentialSpecReference(uri);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof InvalidParamsError, `${JSON.stringify(uri)}: expected InvalidParamsError, got ${caught}`);
    assert.equal(caught.data.reason, reason, `${JSON.stringify(uri)}: ${caught.message}`);
    assert.equal(caught.data.field, 'uri');
    return caught;
  }

  it('rejects schemes Docker does not accept from a container, naming the accepted ones', () => {
    for (const uri of ['config://x', 'http://x', 'https://x/spec.json', 'x.json', 'C:\\specs\\x.json', '://x', 'file:/x', 'filex://y']) {
      const error = rejected(uri, 'UnsupportedScheme');
      assert.match(error.message, /file:\/\/NAME, registry:\/\/NAME or raw:\/\/JSON/);
    }
    assert.match(rejected('config://x', 'UnsupportedScheme').message, /'config:\/\/'/);
  });

  it('rejects empty references and empty values', () => {
    for (const uri of ['', 'file://', 'registry://', 'RAW://']) rejected(uri, 'Empty');
  });
});

describe('credentialSpecAllowed', () => {
  const ref = (uri: string): CredentialSpecReference => parseCredentialSpecReference(uri);

  it('matches file names exactly and by glob, ignoring case', () => {
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json'), ['file://webapp1.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://WebApp1.JSON'), ['file://webapp1.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://webapp7.json'), ['file://webapp*.json']), true);
    assert.equal(credentialSpecAllowed(ref('FILE://WEBAPP7.JSON'), ['File://webapp*.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://webapp.json'), ['file://webapp*.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://sub/x.json'), ['file://sub/*.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://sub\\x.json'), ['file://sub/*.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://a/b/x.json'), ['file://**.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://sub\\x.json'), ['file://sub\\*.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://sub/x.json'), ['file://SUB\\*.json']), true);
  });

  it('does not match other file names', () => {
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json'), ['file://webapp2.json']), false);
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json.bak'), ['file://webapp1.json']), false);
    assert.equal(credentialSpecAllowed(ref('file://other.json'), ['file://webapp*.json']), false);
    assert.equal(credentialSpecAllowed(ref('file://xwebapp1.json'), ['file://webapp*.json']), false);
    // `*` stays within one segment, whichever separator the name uses.
    assert.equal(credentialSpecAllowed(ref('file://sub/x.json'), ['file://*.json']), false);
    assert.equal(credentialSpecAllowed(ref('file://sub\\x.json'), ['file://*.json']), false);
    // Glob metacharacters other than `*` are literal.
    assert.equal(credentialSpecAllowed(ref('file://webapp1xjson'), ['file://webapp1.json']), false);
  });

  it('matches registry value names ignoring case, globs allowed', () => {
    assert.equal(credentialSpecAllowed(ref('registry://webapp1'), ['registry://webapp1']), true);
    assert.equal(credentialSpecAllowed(ref('Registry://WEBAPP1'), ['REGISTRY://WebApp1']), true);
    assert.equal(credentialSpecAllowed(ref('registry://webapp9'), ['registry://webapp*']), true);
    assert.equal(credentialSpecAllowed(ref('registry://webapp1'), ['registry://webapp2']), false);
  });

  it('never admits a reference through an entry of another scheme', () => {
    assert.equal(credentialSpecAllowed(ref('registry://webapp1.json'), ['file://webapp1.json']), false);
    assert.equal(credentialSpecAllowed(ref('file://webapp1'), ['registry://webapp1']), false);
    assert.equal(credentialSpecAllowed(ref('raw://{}'), ['file://*', 'registry://*']), false);
    assert.equal(credentialSpecAllowed(ref('file://x.json'), ['raw://']), false);
  });

  it('admits raw specs only through "raw://"', () => {
    assert.equal(credentialSpecAllowed(ref('raw://{"a":1}'), ['raw://']), true);
    assert.equal(credentialSpecAllowed(ref('RAW://{"a":1}'), ['Raw://']), true);
    assert.equal(credentialSpecAllowed(ref('raw://{"a":1}'), ['raw://*']), false);
    assert.equal(credentialSpecAllowed(ref('raw://{"a":1}'), ['raw://{"a":1}']), false);
  });

  it('ignores malformed entries and uses the others', () => {
    const malformed = ['file://', 'registry://', 'webapp1.json', 'config://webapp1.json', 'http://webapp1.json', '', '://webapp1.json'];
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json'), malformed), false);
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json'), [...malformed, 'file://webapp1.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json'), [42 as unknown as string, 'file://webapp1.json']), true);
    assert.equal(credentialSpecAllowed(ref('file://webapp1.json'), []), false);
  });
});

describe('validateCredentialSpec', () => {
  it('accepts New-CredentialSpec output and returns it with extra keys kept', () => {
    const spec = validSpec();
    spec.Extra = { kept: true };
    const result = validateCredentialSpec(spec);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.spec, spec);
  });

  it('accepts a spec without ActiveDirectoryConfig, and one with a HostAccountConfig (string or object input)', () => {
    const bare = validSpec();
    delete bare.ActiveDirectoryConfig;
    assert.deepEqual(validateCredentialSpec(bare).problems, []);

    const akv = validSpec();
    akv.ActiveDirectoryConfig.HostAccountConfig = {
      PortableCcgVersion: '1',
      PluginGUID: '{CCC2A336-D7F3-4818-A213-272B7924213E}',
      PluginInput: 'ObjectId=00000000-0000-0000-0000-000000000000;SecretUri=https://contoso.vault.azure.net/secrets/gmsa',
    };
    assert.deepEqual(validateCredentialSpec(akv).problems, []);

    const aws = validSpec();
    aws.ActiveDirectoryConfig.HostAccountConfig = {
      PortableCcgVersion: '1',
      PluginGUID: '{859E1386-BDB4-49E8-85C7-3070B13920E1}',
      PluginInput: { CredentialArn: 'arn:aws:secretsmanager:us-west-2:111122223333:secret:gmsa' },
    };
    assert.deepEqual(validateCredentialSpec(aws).problems, []);
  });

  it('accepts variations real specs have: braced domain GUID, lower-case plugin name, single-label DNS, short NetBIOS', () => {
    const spec = validSpec();
    spec.DomainJoinConfig.Guid = '{56D9B66C-D746-4F87-BD26-26760CFDCA2E}';
    spec.CmsPlugins = ['activedirectory'];
    spec.DomainJoinConfig.DnsTreeName = 'corp';
    spec.DomainJoinConfig.NetBiosName = 'C';
    assert.deepEqual(validateCredentialSpec(spec).problems, []);
  });

  it('reports each missing required field', () => {
    for (const key of ['CmsPlugins', 'DomainJoinConfig']) {
      const spec = validSpec();
      delete spec[key];
      assert.deepEqual(problemsOf(spec), [[key, 'is required']]);
    }
    for (const key of ['Sid', 'MachineAccountName', 'Guid', 'DnsTreeName', 'DnsName', 'NetBiosName']) {
      const spec = validSpec();
      delete spec.DomainJoinConfig[key];
      assert.deepEqual(problemsOf(spec), [[`DomainJoinConfig.${key}`, 'is required']]);
    }
    const noAccounts = validSpec();
    delete noAccounts.ActiveDirectoryConfig.GroupManagedServiceAccounts;
    assert.deepEqual(fields(noAccounts), ['ActiveDirectoryConfig.GroupManagedServiceAccounts']);
    for (const key of ['PortableCcgVersion', 'PluginGUID', 'PluginInput']) {
      const spec = validSpec();
      spec.ActiveDirectoryConfig.HostAccountConfig = { PortableCcgVersion: '1', PluginGUID: '{CCC2A336-D7F3-4818-A213-272B7924213E}', PluginInput: 'x' };
      delete spec.ActiveDirectoryConfig.HostAccountConfig[key];
      assert.deepEqual(fields(spec), [`ActiveDirectoryConfig.HostAccountConfig.${key}`]);
    }
  });

  it('reports wrong types with what was expected and what was found', () => {
    const cases: Array<[(spec: Record<string, any>) => void, string, RegExp]> = [
      [(s) => (s.CmsPlugins = 'ActiveDirectory'), 'CmsPlugins', /array.*string/],
      [(s) => (s.CmsPlugins = ['ActiveDirectory', 42]), 'CmsPlugins[1]', /string.*number/],
      [(s) => (s.DomainJoinConfig = []), 'DomainJoinConfig', /object.*array/],
      [(s) => (s.DomainJoinConfig = null), 'DomainJoinConfig', /object.*null/],
      [(s) => (s.DomainJoinConfig.Sid = 21), 'DomainJoinConfig.Sid', /string.*number/],
      [(s) => (s.DomainJoinConfig.MachineAccountName = null), 'DomainJoinConfig.MachineAccountName', /string.*null/],
      [(s) => (s.DomainJoinConfig.DnsName = ['contoso.com']), 'DomainJoinConfig.DnsName', /string.*array/],
      [(s) => (s.ActiveDirectoryConfig = 'x'), 'ActiveDirectoryConfig', /object.*string/],
      [(s) => (s.ActiveDirectoryConfig.GroupManagedServiceAccounts = {}), 'ActiveDirectoryConfig.GroupManagedServiceAccounts', /array.*object/],
      [(s) => (s.ActiveDirectoryConfig.HostAccountConfig = 'x'), 'ActiveDirectoryConfig.HostAccountConfig', /object.*string/],
    ];
    for (const [mutate, field, message] of cases) {
      const spec = validSpec();
      mutate(spec);
      const problems = problemsOf(spec);
      assert.equal(problems.length, 1, `${field}: ${JSON.stringify(problems)}`);
      assert.equal(problems[0][0], field);
      assert.match(problems[0][1], message);
    }
  });

  it('reports bad formats', () => {
    const cases: Array<[(spec: Record<string, any>) => void, string]> = [
      [(s) => (s.CmsPlugins = []), 'CmsPlugins'],
      [(s) => (s.CmsPlugins = ['SomethingElse']), 'CmsPlugins'],
      [(s) => (s.CmsPlugins = ['ActiveDirectory', '']), 'CmsPlugins[1]'],
      [(s) => (s.DomainJoinConfig.Sid = 'contoso'), 'DomainJoinConfig.Sid'],
      [(s) => (s.DomainJoinConfig.Sid = 'S-1-5-32-544'), 'DomainJoinConfig.Sid'],
      [(s) => (s.DomainJoinConfig.Sid = 'S-1-5-21-702590844-1001920913-2680819671-1104'), 'DomainJoinConfig.Sid'],
      [(s) => (s.DomainJoinConfig.Sid = 'S-1-5-21-702590844-1001920913-9999999999'), 'DomainJoinConfig.Sid'],
      [(s) => (s.DomainJoinConfig.MachineAccountName = ''), 'DomainJoinConfig.MachineAccountName'],
      [(s) => (s.DomainJoinConfig.Guid = 'not-a-guid'), 'DomainJoinConfig.Guid'],
      [(s) => (s.DomainJoinConfig.Guid = '{56d9b66c-d746-4f87-bd26-26760cfdca2e'), 'DomainJoinConfig.Guid'],
      [(s) => (s.DomainJoinConfig.Guid = '56d9b66c-d746-4f87-bd26-26760cfdca2'), 'DomainJoinConfig.Guid'],
      [(s) => (s.DomainJoinConfig.DnsTreeName = ''), 'DomainJoinConfig.DnsTreeName'],
      [(s) => (s.DomainJoinConfig.DnsTreeName = 'contoso..com'), 'DomainJoinConfig.DnsTreeName'],
      [(s) => (s.DomainJoinConfig.DnsName = 'contoso_com.local'), 'DomainJoinConfig.DnsName'],
      [(s) => (s.DomainJoinConfig.DnsName = '-contoso.com'), 'DomainJoinConfig.DnsName'],
      [(s) => (s.DomainJoinConfig.DnsName = `${'a'.repeat(64)}.com`), 'DomainJoinConfig.DnsName'],
      [(s) => (s.DomainJoinConfig.NetBiosName = ''), 'DomainJoinConfig.NetBiosName'],
      [(s) => (s.DomainJoinConfig.NetBiosName = 'CONTOSOCORPORATE'), 'DomainJoinConfig.NetBiosName'],
      [(s) => (s.DomainJoinConfig.NetBiosName = 'CONTOSO\\X'), 'DomainJoinConfig.NetBiosName'],
      [(s) => (s.ActiveDirectoryConfig.GroupManagedServiceAccounts = []), 'ActiveDirectoryConfig.GroupManagedServiceAccounts'],
    ];
    for (const [mutate, field] of cases) {
      const spec = validSpec();
      mutate(spec);
      assert.deepEqual(fields(spec), [field], `${field} after ${mutate}`);
    }
    const tooLong = validSpec();
    tooLong.DomainJoinConfig.NetBiosName = 'CONTOSOCORPORATE';
    assert.match(problemsOf(tooLong)[0][1], /15/);
  });

  it('reports bad HostAccountConfig values', () => {
    const spec = validSpec();
    spec.ActiveDirectoryConfig.HostAccountConfig = { PortableCcgVersion: 1, PluginGUID: '{GDMA0342-266A-4D1P-831J-20990E82944F}', PluginInput: ['x'] };
    assert.deepEqual(fields(spec), [
      'ActiveDirectoryConfig.HostAccountConfig.PortableCcgVersion',
      'ActiveDirectoryConfig.HostAccountConfig.PluginGUID',
      'ActiveDirectoryConfig.HostAccountConfig.PluginInput',
    ]);
  });

  it('locates a bad gMSA entry by its index', () => {
    const spec = validSpec();
    spec.ActiveDirectoryConfig.GroupManagedServiceAccounts[1] = { Name: '', Scope: 7 };
    assert.deepEqual(problemsOf(spec), [
      ['ActiveDirectoryConfig.GroupManagedServiceAccounts[1].Name', 'must not be empty'],
      ['ActiveDirectoryConfig.GroupManagedServiceAccounts[1].Scope', 'must be a string, not a number'],
    ]);
    spec.ActiveDirectoryConfig.GroupManagedServiceAccounts[1] = 'WebApp01';
    assert.deepEqual(fields(spec), ['ActiveDirectoryConfig.GroupManagedServiceAccounts[1]']);
  });

  it('collects every problem, not just the first', () => {
    const spec = validSpec();
    spec.CmsPlugins = [42];
    delete spec.DomainJoinConfig.Sid;
    spec.DomainJoinConfig.Guid = 'x';
    spec.DomainJoinConfig.NetBiosName = 'A'.repeat(16);
    spec.ActiveDirectoryConfig.GroupManagedServiceAccounts[0].Scope = '';
    spec.ActiveDirectoryConfig.GroupManagedServiceAccounts[1] = {};
    assert.deepEqual(fields(spec).sort(), [
      'ActiveDirectoryConfig.GroupManagedServiceAccounts[0].Scope',
      'ActiveDirectoryConfig.GroupManagedServiceAccounts[1].Name',
      'ActiveDirectoryConfig.GroupManagedServiceAccounts[1].Scope',
      'CmsPlugins',
      'CmsPlugins[0]',
      'DomainJoinConfig.Guid',
      'DomainJoinConfig.NetBiosName',
      'DomainJoinConfig.Sid',
    ]);
  });

  it('reports a value that is not an object at the top, with Field ""', () => {
    for (const value of [[], null, 'spec', 42, true, undefined]) {
      const problems = problemsOf(value);
      assert.equal(problems.length, 1, JSON.stringify(value));
      assert.equal(problems[0][0], '');
      assert.match(problems[0][1], /object/);
    }
  });
});

describe('validateCredentialSpecText', () => {
  it('parses and validates text', () => {
    const text = JSON.stringify(validSpec(), null, 4);
    const result = validateCredentialSpecText(text);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.spec, validSpec());
  });

  it('accepts a byte order mark, as PowerShell writes one', () => {
    assert.deepEqual(validateCredentialSpecText('\uFEFF' + JSON.stringify(validSpec())).problems, []);
  });

  it('reports invalid JSON as one problem with the parser message', () => {
    for (const text of ['', '{', '{"CmsPlugins":}', "{'a':1}", 'not json']) {
      const result = validateCredentialSpecText(text);
      assert.equal(result.spec, undefined);
      assert.equal(result.problems.length, 1, text);
      assert.equal(result.problems[0].Field, '');
      assert.match(result.problems[0].Message, /JSON/);
    }
  });

  it('reports JSON that is not an object', () => {
    for (const text of ['[]', '"spec"', '42', 'null']) {
      const result = validateCredentialSpecText(text);
      assert.deepEqual(result.problems.map((p) => p.Field), [''], text);
      assert.equal(result.spec, undefined);
    }
  });

  it('reports field problems of parsed text', () => {
    const spec = validSpec();
    spec.DomainJoinConfig.Sid = 'S-1-1-0';
    assert.deepEqual(validateCredentialSpecText(JSON.stringify(spec)).problems.map((p) => p.Field), ['DomainJoinConfig.Sid']);
  });
});
