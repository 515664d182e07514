import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import koffi from 'koffi';
import { BrokerError } from '../../broker/src/errors.js';
import {
  CREDENTIAL_SPECS_KEY,
  ERROR_NO_MORE_ITEMS,
  KEY_READ,
  MAX_VALUE_NAME_CHARS,
  MSA_INFO_STATE,
  REG_SZ,
  checkServiceAccount,
  defaultCredentialSpecsDirectory,
  listRegistrySpecs,
  readRegistrySpec,
  serviceAccountName,
  type RegistryKeyCalls,
  type ServiceAccountQuery,
} from '../../broker/src/platform/windows/credspec.js';
import { HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, type RegGetValueCall } from '../../broker/src/platform/windows/host.js';
import { windowsPlatform, type WindowsNative } from '../../broker/src/platform/windows/index.js';
import { BufferMemory } from '../../broker/src/platform/windows/memory.js';
import {
  PROTOTYPES,
  koffiMemory,
  queryServiceAccountWith,
  registryKeyCallsWith,
} from '../../broker/src/platform/windows/native.js';
import { Win32Error } from '../../broker/src/platform/windows/win32.js';
import { signature } from './fixtures/windows/prototypes.js';
import { nativeWith } from './fixtures/windows/native-fake.js';

const onLinux = process.platform === 'linux';


const ERROR_SUCCESS = 0;
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_ACCESS_DENIED = 5;
const ERROR_MORE_DATA = 234;
const ERROR_UNSUPPORTED_TYPE = 1630;
const REG_DWORD = 4;
const REG_EXPAND_SZ = 2;

function hostFailure(code: number, api: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BrokerError, `not a BrokerError: ${e}`);
    assert.equal(e.codeName, 'HostOperationFailed');
    assert.ok(e.cause instanceof Win32Error);
    assert.equal(e.cause.code, code);
    assert.match(e.cause.api, api);
    return true;
  };
}

function invalidName(e: unknown): boolean {
  assert.ok(e instanceof BrokerError, `not a BrokerError: ${e}`);
  assert.equal(e.codeName, 'InvalidParams');
  assert.deepEqual(e.data, { reason: 'InvalidName', field: 'uri' });
  return true;
}

interface Value {
  type: number;
  data: string;
}

/** RegGetValueW over one key, as the host tests model it: RRF_RT_REG_SZ restricts the type, NULL asks for the size. */
function fakeRegGetValue(values: Record<string, Value> | null) {
  const calls: Array<{ subKey: string; name: string; flags: number; data: number | null }> = [];
  const call: RegGetValueCall = (subKey, name, flags, data, size) => {
    calls.push({ subKey, name, flags, data: data ? data.length : null });
    // A missing key and a missing value are both ERROR_FILE_NOT_FOUND.
    const value = values?.[name];
    if (subKey !== CREDENTIAL_SPECS_KEY || !value) return ERROR_FILE_NOT_FOUND;
    if (value.type !== REG_SZ) return ERROR_UNSUPPORTED_TYPE;
    const bytes = Buffer.from(`${value.data}\0`, 'utf16le');
    if (data && data.length < bytes.length) {
      size[0] = bytes.length;
      return ERROR_MORE_DATA;
    }
    size[0] = bytes.length;
    if (data) bytes.copy(data);
    return ERROR_SUCCESS;
  };
  return { call, calls };
}

const SPEC = '{"CmsPlugins":["ActiveDirectory"],"DomainJoinConfig":{"Sid":"S-1-5-21-1","MachineAccountName":"WebApp01"}}';

/**
 * The registry behind RegOpenKeyExW/RegQueryInfoKeyW/RegEnumValueW/RegCloseKey, as documented: enumeration by
 * index until ERROR_NO_MORE_ITEMS, ERROR_MORE_DATA for a name buffer that cannot hold the name and its NUL.
 */
function fakeKey(values: Array<[string, number]> | null, options: { reportedMax?: number; failEnumAt?: number; failInfo?: number } = {}) {
  const log: string[] = [];
  const KEY = 0x2e0n;
  const calls: RegistryKeyCalls = {
    openKey(subKey, access, key) {
      log.push(`open ${subKey === CREDENTIAL_SPECS_KEY ? 'CredentialSpecs' : subKey} ${access.toString(16)}`);
      if (!values) return ERROR_FILE_NOT_FOUND;
      key[0] = KEY;
      return ERROR_SUCCESS;
    },
    queryInfoKey(key, count, longest) {
      assert.equal(key, KEY);
      log.push('info');
      if (options.failInfo) return options.failInfo;
      count[0] = values!.length;
      longest[0] = options.reportedMax ?? Math.max(0, ...values!.map(([name]) => name.length));
      return ERROR_SUCCESS;
    },
    enumValue(key, index, name, nameChars, type) {
      assert.equal(key, KEY);
      log.push(`enum ${index} ${nameChars[0]}`);
      assert.equal(name.length, nameChars[0] * 2);
      if (index === options.failEnumAt) return ERROR_ACCESS_DENIED;
      const value = values![index];
      if (!value) return ERROR_NO_MORE_ITEMS;
      if (nameChars[0] < value[0].length + 1) return ERROR_MORE_DATA;
      name.fill(0xcc);
      Buffer.from(`${value[0]}\0`, 'utf16le').copy(name);
      nameChars[0] = value[0].length;
      type[0] = value[1];
      return ERROR_SUCCESS;
    },
    closeKey(key) {
      log.push(`close ${key.toString(16)}`);
      return ERROR_SUCCESS;
    },
  };
  return { calls, log };
}

describe('koffi prototypes (credential specs)', () => {
  it('RegOpenKeyExW returns the key through an output pointer', () => {
    assert.deepEqual(signature(PROTOTYPES.RegOpenKeyExW), {
      name: 'RegOpenKeyExW',
      result: 'int32_t',
      args: [
        ['void *', 'Pointer', 8, 'Input'],
        ['char16_t *', 'String16', 8, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['void **', 'Pointer', 8, 'Output'],
      ],
    });
  });

  it('RegQueryInfoKeyW writes only the value count and the longest value name', () => {
    const input = ['uint32_t *', 'Pointer', 8, 'Input'];
    const output = ['uint32_t *', 'Pointer', 8, 'Output'];
    assert.deepEqual(signature(PROTOTYPES.RegQueryInfoKeyW), {
      name: 'RegQueryInfoKeyW',
      result: 'int32_t',
      args: [
        ['void *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        input,
        input,
        input,
        input,
        input,
        output, // lpcValues
        output, // lpcbMaxValueNameLen
        input,
        input,
        ['void *', 'Pointer', 8, 'Input'],
      ],
    });
  });

  it('RegEnumValueW and RegCloseKey', () => {
    assert.deepEqual(signature(PROTOTYPES.RegEnumValueW), {
      name: 'RegEnumValueW',
      result: 'int32_t',
      args: [
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        // The name Buffer is passed as-is: Windows writes into its memory.
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t *', 'Pointer', 8, 'Input/Output'],
        ['uint32_t *', 'Pointer', 8, 'Input'],
        ['uint32_t *', 'Pointer', 8, 'Output'],
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t *', 'Pointer', 8, 'Input'],
      ],
    });
    assert.deepEqual(signature(PROTOTYPES.RegCloseKey), {
      name: 'RegCloseKey',
      result: 'int32_t',
      args: [['void *', 'Pointer', 8, 'Input']],
    });
  });

  it('NetQueryServiceAccount and NetApiBufferFree', () => {
    assert.deepEqual(signature(PROTOTYPES.NetQueryServiceAccount), {
      name: 'NetQueryServiceAccount',
      result: 'int32_t', // NTSTATUS
      args: [
        ['char16_t *', 'String16', 8, 'Input'],
        ['char16_t *', 'String16', 8, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['void **', 'Pointer', 8, 'Output'],
      ],
    });
    assert.deepEqual(signature(PROTOTYPES.NetApiBufferFree), {
      name: 'NetApiBufferFree',
      result: 'uint32_t',
      args: [['void *', 'Pointer', 8, 'Input']],
    });
  });
});

describe('koffi marshalling the credential spec calls rely on', { skip: !onLinux && 'needs libc.so.6' }, () => {
  const libc = onLinux ? koffi.load('libc.so.6') : undefined;

  it('fills a `_Out_ void **` array slot with a BigInt address', () => {
    const posixMemalign = libc!.func('int posix_memalign(_Out_ void **memptr, size_t alignment, size_t size)');
    const free = libc!.func('void free(void *p)');
    const out: [unknown] = [null];
    assert.equal(posixMemalign(out, 16, 64), 0);
    assert.equal(typeof out[0], 'bigint');
    free(out[0]);
  });

  it('cuts a UTF-16 string at an embedded NUL, which is why such names are refused', () => {
    const wcslen = libc!.func('size_t wcslen(const char32_t *s)');
    assert.equal(wcslen('web\0app'), 3);
  });
});

describe('credential spec directory', () => {
  it('is %ProgramData%\\docker\\CredentialSpecs', () => {
    assert.equal(defaultCredentialSpecsDirectory({ ProgramData: 'D:\\Data' }), 'D:\\Data\\docker\\CredentialSpecs');
    assert.equal(defaultCredentialSpecsDirectory({ ProgramData: '\\\\fs\\pd' }), '\\\\fs\\pd\\docker\\CredentialSpecs');
  });

  it('falls back to C:\\ProgramData when ProgramData is unset, empty or relative', () => {
    for (const env of [{}, { ProgramData: '' }, { ProgramData: 'Data' }, { ProgramData: '\\Data' }]) {
      assert.equal(defaultCredentialSpecsDirectory(env), 'C:\\ProgramData\\docker\\CredentialSpecs', JSON.stringify(env));
    }
  });
});

describe('registry:// specs', () => {
  it('reads under the key Docker uses', () => {
    assert.equal(
      CREDENTIAL_SPECS_KEY,
      'SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\Containers\\CredentialSpecs',
    );
  });

  it('reads the REG_SZ value, passing the subkey and value name exactly', () => {
    const { call, calls } = fakeRegGetValue({ 'webapp1 (prod)': { type: REG_SZ, data: SPEC } });
    assert.equal(readRegistrySpec(call, 'webapp1 (prod)'), SPEC);
    const bytes = (SPEC.length + 1) * 2;
    assert.deepEqual(calls, [
      { subKey: CREDENTIAL_SPECS_KEY, name: 'webapp1 (prod)', flags: RRF_RT_REG_SZ, data: null },
      { subKey: CREDENTIAL_SPECS_KEY, name: 'webapp1 (prod)', flags: RRF_RT_REG_SZ, data: bytes },
    ]);
  });

  it('is null for a missing value and for a missing key', () => {
    assert.equal(readRegistrySpec(fakeRegGetValue({ other: { type: REG_SZ, data: SPEC } }).call, 'webapp1'), null);
    assert.equal(readRegistrySpec(fakeRegGetValue(null).call, 'webapp1'), null);
  });

  it('reports a value of another type as a host fault', () => {
    const { call } = fakeRegGetValue({ webapp1: { type: REG_EXPAND_SZ, data: SPEC } });
    assert.throws(() => readRegistrySpec(call, 'webapp1'), hostFailure(ERROR_UNSUPPORTED_TYPE, /RegGetValueW\(webapp1\)/));
  });

  it('refuses names with a backslash, a NUL, no characters or too many, without calling the registry', () => {
    const never: RegGetValueCall = () => assert.fail('the registry was called');
    for (const name of ['..\\webapp1', 'sub\\webapp1', 'web\0app1', '', 'x'.repeat(MAX_VALUE_NAME_CHARS + 1)]) {
      assert.throws(() => readRegistrySpec(never, name), invalidName, JSON.stringify(name.slice(0, 20)));
    }
    assert.equal(readRegistrySpec(fakeRegGetValue({}).call, 'x'.repeat(MAX_VALUE_NAME_CHARS)), null);
  });
});

describe('listing registry specs', () => {
  it('enumerates until ERROR_NO_MORE_ITEMS, keeps REG_SZ names only, and closes the key', () => {
    const { calls, log } = fakeKey([
      ['webapp1', REG_SZ],
      ['MaxSpecs', REG_DWORD],
      ['webapp2', REG_SZ],
    ]);
    assert.deepEqual(listRegistrySpecs(calls), ['webapp1', 'webapp2']);
    assert.equal(KEY_READ, 0x20019);
    assert.deepEqual(log, ['open CredentialSpecs 20019', 'info', 'enum 0 9', 'enum 1 9', 'enum 2 9', 'enum 3 9', 'close 2e0']);
  });

  it('retries an index once with room for any name when a longer name appeared (ERROR_MORE_DATA)', () => {
    const long = 'webapp-with-a-name-added-after-RegQueryInfoKeyW';
    const { calls, log } = fakeKey(
      [
        ['webapp1', REG_SZ],
        [long, REG_SZ],
      ],
      { reportedMax: 7 },
    );
    assert.deepEqual(listRegistrySpecs(calls), ['webapp1', long]);
    assert.deepEqual(log, ['open CredentialSpecs 20019', 'info', 'enum 0 8', 'enum 1 8', 'enum 1 16384', 'enum 2 16384', 'close 2e0']);
  });

  it('leaves out names no lookup would accept, the default value, and repeats', () => {
    const { calls } = fakeKey([
      ['', REG_SZ],
      ['a\\b', REG_SZ],
      ['webapp1', REG_SZ],
      ['webapp1', REG_SZ],
    ]);
    assert.deepEqual(listRegistrySpecs(calls), ['webapp1']);
  });

  it('lists nothing for a missing key, which is never closed', () => {
    const { calls, log } = fakeKey(null);
    assert.deepEqual(listRegistrySpecs(calls), []);
    assert.deepEqual(log, ['open CredentialSpecs 20019']);
  });

  it('closes the key when RegQueryInfoKeyW or RegEnumValueW fails', () => {
    const enumFails = fakeKey([['webapp1', REG_SZ], ['webapp2', REG_SZ]], { failEnumAt: 1 });
    assert.throws(() => listRegistrySpecs(enumFails.calls), hostFailure(ERROR_ACCESS_DENIED, /RegEnumValueW/));
    assert.deepEqual(enumFails.log.slice(-2), ['enum 1 8', 'close 2e0']);
    const infoFails = fakeKey([['webapp1', REG_SZ]], { failInfo: ERROR_ACCESS_DENIED });
    assert.throws(() => listRegistrySpecs(infoFails.calls), hostFailure(ERROR_ACCESS_DENIED, /RegQueryInfoKeyW/));
    assert.deepEqual(infoFails.log, ['open CredentialSpecs 20019', 'info', 'close 2e0']);
  });

  it('gives up on a second ERROR_MORE_DATA for the same index', () => {
    const { calls, log } = fakeKey([['webapp1', REG_SZ]]);
    const stubborn: RegistryKeyCalls = { ...calls, enumValue: (...args) => (calls.enumValue(...args), ERROR_MORE_DATA) };
    assert.throws(() => listRegistrySpecs(stubborn), hostFailure(ERROR_MORE_DATA, /RegEnumValueW/));
    assert.deepEqual(log.slice(2), ['enum 0 8', 'enum 0 16384', 'close 2e0']);
  });

  it('reports a failed RegOpenKeyExW other than a missing key', () => {
    const calls: RegistryKeyCalls = { ...fakeKey([]).calls, openKey: () => ERROR_ACCESS_DENIED };
    assert.throws(() => listRegistrySpecs(calls), hostFailure(ERROR_ACCESS_DENIED, /RegOpenKeyExW/));
  });

  it('the koffi glue passes HKEY_LOCAL_MACHINE, no options, and NULL for everything not asked for', () => {
    const seen: unknown[][] = [];
    const record = (result: number) => (...args: unknown[]) => (seen.push(args), result);
    const calls = registryKeyCallsWith(record(0), record(0), record(259), record(0));
    const key: [unknown] = [null];
    const name = Buffer.alloc(16);
    const chars: [number] = [8];
    const type: [number] = [0];
    const count: [number] = [0];
    const longest: [number] = [0];
    assert.equal(calls.openKey(CREDENTIAL_SPECS_KEY, KEY_READ, key), 0);
    assert.equal(calls.queryInfoKey(0x2e0n, count, longest), 0);
    assert.equal(calls.enumValue(0x2e0n, 3, name, chars, type), 259);
    assert.equal(calls.closeKey(0x2e0n), 0);
    assert.deepEqual(seen, [
      [HKEY_LOCAL_MACHINE, CREDENTIAL_SPECS_KEY, 0, KEY_READ, key],
      [0x2e0n, null, null, null, null, null, null, count, longest, null, null, null],
      [0x2e0n, 3, name, chars, null, type, null, null],
      [0x2e0n],
    ]);
    assert.equal(seen[0][4], key);
    assert.equal(seen[2][2], name);
  });
});

describe('gMSA checks', () => {
  /**
   * NetQueryServiceAccount over real native memory: on success it allocates an MSA_INFO_0 (koffi.alloc stands in
   * for the NetApi allocator) and stores its address through the output pointer. It answers asynchronously, as
   * the koffi worker-thread call does.
   */
  function fakeNetApi(status: number, state: number | null) {
    const queried: Array<[null, string, number]> = [];
    const freed: bigint[] = [];
    let block = 0n;
    const query = (server: null, account: string, level: number, out: [unknown]) => {
      queried.push([server, account, level]);
      if (state !== null) {
        block = koffi.alloc('uint32_t', 1) as bigint;
        new DataView(koffi.view(block, 4)).setUint32(0, state, true);
        out[0] = block;
      }
      return new Promise<number>((resolve) => setImmediate(() => resolve(status)));
    };
    const free = (buffer: bigint) => {
      freed.push(buffer);
      // Scribble before freeing: the state must have been read already.
      new DataView(koffi.view(buffer, 4)).setUint32(0, 0xdead, true);
      koffi.free(buffer);
      return 0;
    };
    const run = (name: string) => checkServiceAccount((account) => queryServiceAccountWith(query, free, koffiMemory, account), name);
    return { run, queried, freed, block: () => block };
  }

  const expected: Array<[number, boolean, RegExp]> = [
    [MSA_INFO_STATE.MsaInfoNotExist, false, /^does not exist in the domain$/],
    [MSA_INFO_STATE.MsaInfoNotService, false, /^is not a managed service account$/],
    [MSA_INFO_STATE.MsaInfoCannotInstall, false, /may not retrieve its password \(PrincipalsAllowedToRetrieveManagedPassword\)/],
    [MSA_INFO_STATE.MsaInfoCanInstall, true, /^can be installed on this host$/],
    [MSA_INFO_STATE.MsaInfoInstalled, true, /^is installed on this host$/],
  ];

  for (const [state, resolved, detail] of expected) {
    it(`maps MSA_INFO_STATE ${state} to ${resolved}, freeing the buffer once`, async () => {
      const api = fakeNetApi(0, state);
      const result = await api.run('WebApp01');
      assert.equal(result.resolved, resolved);
      assert.match(result.detail, detail);
      assert.deepEqual(api.queried, [[null, 'WebApp01', 0]]);
      assert.deepEqual(api.freed, [api.block()]);
    });
  }

  it('has the lmaccess.h values', () => {
    assert.deepEqual(Object.values(MSA_INFO_STATE), [1, 2, 3, 4, 5]);
  });

  it('answers false with the status for a failed query, freeing a buffer that came back anyway', async () => {
    // NTSTATUS arrives as a signed int32: 0xC0000136 is -1073741514.
    const withBuffer = fakeNetApi(0xc000_0136 | 0, MSA_INFO_STATE.MsaInfoInstalled);
    const result = await withBuffer.run('WebApp01');
    assert.equal(result.resolved, false);
    assert.match(result.detail, /NetQueryServiceAccount failed with 0xC0000136 \(STATUS_OPEN_FAILED: is the host domain-joined/);
    assert.deepEqual(withBuffer.freed, [withBuffer.block()]);
    const without = fakeNetApi(0xc000_005e | 0, null);
    assert.deepEqual(await without.run('WebApp01'), {
      resolved: false,
      detail: 'could not be checked: NetQueryServiceAccount failed with 0xC000005E (STATUS_NO_LOGON_SERVERS: no domain controller could be reached)',
    });
    assert.deepEqual(without.freed, []);
    assert.match((await fakeNetApi(0xc000_9999 | 0, null).run('x')).detail, /failed with 0xC0009999$/);
  });

  it('cannot tell for an unknown state or a success without a buffer', async () => {
    const unknown = fakeNetApi(0, 9);
    assert.deepEqual(await unknown.run('WebApp01'), { resolved: null, detail: 'NetQueryServiceAccount reported an unknown state 9' });
    assert.equal(unknown.freed.length, 1);
    assert.equal((await fakeNetApi(0, null).run('WebApp01')).resolved, null);
  });

  it('asks with the sAMAccountName minus its $, as Test-ADServiceAccount does, and passes other names as given', async () => {
    assert.equal(serviceAccountName('WebApp01$'), 'WebApp01');
    assert.equal(serviceAccountName('WebApp01'), 'WebApp01');
    assert.equal(serviceAccountName('CONTOSO\\WebApp01'), 'CONTOSO\\WebApp01');
    const api = fakeNetApi(0, MSA_INFO_STATE.MsaInfoInstalled);
    await api.run('WebApp01$');
    assert.deepEqual(api.queried, [[null, 'WebApp01', 0]]);
  });

  it('answers false without a call for names no query could mean', async () => {
    for (const name of ['', '$', 'Web\0App$']) {
      assert.deepEqual(
        await checkServiceAccount(() => assert.fail('queried'), name),
        { resolved: false, detail: 'is not a valid account name' },
      );
    }
  });

  it('reads MSA_INFO_0.State as a little-endian 32-bit value', async () => {
    const memory = new BufferMemory(Buffer.from([4, 0, 0, 0]), 0x1000n);
    const freed: bigint[] = [];
    const query = (_s: null, _a: string, _l: number, out: [unknown]) => ((out[0] = 0x1000n), 0);
    const result: ServiceAccountQuery = await queryServiceAccountWith(query, (b) => freed.push(b), memory, 'x');
    assert.deepEqual(result, { status: 0, state: 4 });
    assert.deepEqual(freed, [0x1000n]);
    // After a failure the buffer is freed but not read: its contents are not an MSA_INFO_0.
    const failed = await queryServiceAccountWith((_s, _a, _l, out) => ((out[0] = 0x1000n), 5), (b) => freed.push(b), memory, 'x');
    assert.deepEqual(failed, { status: 5, state: null });
    assert.deepEqual(freed, [0x1000n, 0x1000n]);
  });
});

describe('windowsPlatform credential specs', () => {
  const native = (overrides: Partial<WindowsNative>) => nativeWith(overrides, 'the credspec tests');

  it('defaults file:// specs to the ProgramData directory of this process', () => {
    const platform = windowsPlatform({ native: native({}) });
    assert.equal(platform.credentialSpecs.defaultDirectory, defaultCredentialSpecsDirectory(process.env));
  });

  it('reads, lists and checks through the native calls', async () => {
    const platform = windowsPlatform({
      native: native({
        regGetValue: fakeRegGetValue({ webapp1: { type: REG_SZ, data: SPEC } }).call,
        registryKeyCalls: () => fakeKey([['webapp1', REG_SZ], ['n', REG_DWORD]]).calls,
        queryServiceAccount: async (account) => ({ status: 0, state: account === 'WebApp01' ? 5 : 1 }),
      }),
    });
    assert.equal(await platform.credentialSpecs.readRegistrySpec('webapp1'), SPEC);
    assert.equal(await platform.credentialSpecs.readRegistrySpec('webapp2'), null);
    assert.deepEqual(await platform.credentialSpecs.listRegistrySpecs(), ['webapp1']);
    assert.deepEqual(await platform.credentialSpecs.checkServiceAccount('WebApp01$'), { resolved: true, detail: 'is installed on this host' });
    assert.equal((await platform.credentialSpecs.checkServiceAccount('Other')).resolved, false);
  });

  it('rejects a bad registry name as InvalidParams before loading anything native', async () => {
    let loaded = false;
    const platform = windowsPlatform({
      get native(): WindowsNative {
        loaded = true;
        return native({});
      },
    });
    await assert.rejects(platform.credentialSpecs.readRegistrySpec('a\\b'), invalidName);
    assert.equal(loaded, false);
  });

  it('reports native failures as HostOperationFailed', async () => {
    const platform = windowsPlatform({
      native: native({
        registryKeyCalls: () => ({ ...fakeKey([]).calls, openKey: () => ERROR_ACCESS_DENIED }),
        // A failure of the worker-thread call arrives as a rejection.
        queryServiceAccount: () => Promise.reject(new TypeError('NetQueryServiceAccount failed to run')),
      }),
    });
    await assert.rejects(platform.credentialSpecs.listRegistrySpecs(), hostFailure(ERROR_ACCESS_DENIED, /RegOpenKeyExW/));
    await assert.rejects(platform.credentialSpecs.checkServiceAccount('WebApp01'), (e: unknown) => {
      assert.ok(e instanceof BrokerError);
      assert.equal(e.codeName, 'HostOperationFailed');
      assert.ok(e.cause instanceof TypeError);
      return true;
    });
  });
});
