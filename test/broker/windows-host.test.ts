import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BrokerError } from '../../broker/src/errors.js';
import {
  CURRENT_VERSION_KEY,
  HKEY_LOCAL_MACHINE,
  RRF_RT_REG_DWORD,
  RRF_RT_REG_SZ,
  decodeRegDword,
  decodeRegSz,
  readRegistryValue,
  readWindowsVersion,
  windowsHostFacts,
  type OsFacts,
  type RegGetValueCall,
} from '../../broker/src/platform/windows/host.js';

interface RecordedValue {
  type: 'REG_SZ' | 'REG_DWORD';
  hex: string;
}

const recorded: Record<string, RecordedValue> = JSON.parse(
  readFileSync(new URL('./fixtures/windows/currentversion-2022.json', import.meta.url), 'utf8'),
);
const bytesOf = (name: string) => Buffer.from(recorded[name].hex, 'hex');

const ERROR_SUCCESS = 0;
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_MORE_DATA = 234;
const ERROR_UNSUPPORTED_TYPE = 1630;

/**
 * RegGetValueW's documented behaviour over a value map: RRF_RT_* restricts the type, NULL data asks for the size,
 * a short buffer gets ERROR_MORE_DATA plus the size needed.
 */
function fakeRegistry(values: Record<string, RecordedValue>, onCall?: (name: string, data: Buffer | null) => void) {
  const calls: Array<{ subKey: string; name: string; flags: number; data: number | null }> = [];
  const call: RegGetValueCall = (subKey, name, flags, data, size) => {
    calls.push({ subKey, name, flags, data: data ? data.length : null });
    onCall?.(name, data);
    const value = values[name];
    if (subKey !== CURRENT_VERSION_KEY || !value) return ERROR_FILE_NOT_FOUND;
    const allowed = value.type === 'REG_SZ' ? RRF_RT_REG_SZ : RRF_RT_REG_DWORD;
    if ((flags & allowed) === 0) return ERROR_UNSUPPORTED_TYPE;
    const bytes = Buffer.from(value.hex, 'hex');
    if (data === null) {
      size[0] = bytes.length;
      return ERROR_SUCCESS;
    }
    if (data.length < bytes.length) {
      size[0] = bytes.length;
      return ERROR_MORE_DATA;
    }
    bytes.copy(data);
    size[0] = bytes.length;
    return ERROR_SUCCESS;
  };
  return { call, calls };
}

describe('registry value decoding', () => {
  it('decodes recorded REG_DWORD bytes little-endian', () => {
    assert.equal(decodeRegDword(bytesOf('CurrentMajorVersionNumber')), 10);
    assert.equal(decodeRegDword(bytesOf('CurrentMinorVersionNumber')), 0);
    assert.equal(decodeRegDword(bytesOf('UBR')), 2340);
    assert.equal(decodeRegDword(Uint8Array.from([0xff, 0xff, 0xff, 0xff])), 0xffff_ffff);
    assert.throws(() => decodeRegDword(Uint8Array.from([1, 2])), RangeError);
  });

  it('decodes recorded REG_SZ bytes without the terminating NUL', () => {
    assert.equal(decodeRegSz(bytesOf('ProductName')), 'Windows Server 2022 Datacenter');
    assert.equal(decodeRegSz(bytesOf('BuildLabEx')), '20348.1.amd64fre.fe_release.210507-1500');
    assert.equal(decodeRegSz(bytesOf('CurrentBuildNumber')), '20348');
  });

  it('stops at the first NUL and tolerates extra NULs, a missing NUL and an odd length', () => {
    const utf16 = (s: string) => Buffer.from(s, 'utf16le');
    assert.equal(decodeRegSz(utf16('21H2\0\0')), '21H2');
    assert.equal(decodeRegSz(utf16('21H2')), '21H2');
    assert.equal(decodeRegSz(Buffer.concat([utf16('21H2\0'), Buffer.from([0x41])])), '21H2');
    assert.equal(decodeRegSz(utf16('a\0b\0')), 'a');
    assert.equal(decodeRegSz(utf16('Ω Zürich\0')), 'Ω Zürich');
    assert.equal(decodeRegSz(new Uint8Array(0)), '');
  });

  it('decodes from a view into a larger buffer', () => {
    const backing = Buffer.concat([Buffer.from([9, 9, 9]), bytesOf('UBR'), bytesOf('ReleaseId')]);
    assert.equal(decodeRegDword(backing.subarray(3, 7)), 2340);
    assert.equal(decodeRegSz(backing.subarray(7)), '2009');
  });
});

describe('RegGetValueW calls', () => {
  it('passes HKEY_LOCAL_MACHINE sign-extended to 64 bits', () => {
    assert.equal(HKEY_LOCAL_MACHINE, 0xffff_ffff_8000_0002n);
    assert.equal(BigInt.asIntN(64, HKEY_LOCAL_MACHINE), BigInt(0x8000_0002 | 0));
  });

  it('asks for the size first, then reads with the type restriction of the value', () => {
    const { call, calls } = fakeRegistry(recorded);
    assert.equal(readRegistryValue(call, CURRENT_VERSION_KEY, 'UBR', 'dword'), 2340);
    assert.equal(readRegistryValue(call, CURRENT_VERSION_KEY, 'ProductName', 'sz'), 'Windows Server 2022 Datacenter');
    assert.deepEqual(calls, [
      { subKey: CURRENT_VERSION_KEY, name: 'UBR', flags: RRF_RT_REG_DWORD, data: null },
      { subKey: CURRENT_VERSION_KEY, name: 'UBR', flags: RRF_RT_REG_DWORD, data: 4 },
      { subKey: CURRENT_VERSION_KEY, name: 'ProductName', flags: RRF_RT_REG_SZ, data: null },
      { subKey: CURRENT_VERSION_KEY, name: 'ProductName', flags: RRF_RT_REG_SZ, data: 62 },
    ]);
  });

  it('returns null for ERROR_FILE_NOT_FOUND', () => {
    const { call, calls } = fakeRegistry(recorded);
    assert.equal(readRegistryValue(call, CURRENT_VERSION_KEY, 'NoSuchValue', 'sz'), null);
    assert.equal(calls.length, 1);
  });

  it('retries when the value grew between the size call and the read', () => {
    const values = { ...recorded };
    let grown = false;
    const { call, calls } = fakeRegistry(values, (name, data) => {
      if (name === 'DisplayVersion' && data && !grown) {
        grown = true;
        values.DisplayVersion = { type: 'REG_SZ', hex: Buffer.from('24H2 (updated)\0', 'utf16le').toString('hex') };
      }
    });
    assert.equal(readRegistryValue(call, CURRENT_VERSION_KEY, 'DisplayVersion', 'sz'), '24H2 (updated)');
    assert.deepEqual(
      calls.map((c) => c.data),
      [null, 10, 30],
    );
  });

  it('turns other statuses into HostOperationFailed', () => {
    const { call } = fakeRegistry(recorded);
    assert.throws(
      () => readRegistryValue(call, CURRENT_VERSION_KEY, 'ProductName', 'dword'),
      (e: unknown) => e instanceof BrokerError && e.codeName === 'HostOperationFailed' && /1630/.test(e.message),
    );
  });
});

describe('Windows host facts', () => {
  const os: OsFacts = {
    hostname: () => 'frank-wins-dev',
    release: () => '10.0.20348',
    arch: () => 'x64',
    uptime: () => 3723.9,
    now: () => Date.parse('2025-03-01T12:00:00.750Z'),
  };

  it('reads the wins get-version values from the recorded registry', () => {
    assert.deepEqual(readWindowsVersion(fakeRegistry(recorded).call), {
      CurrentMajorVersionNumber: 10,
      CurrentMinorVersionNumber: 0,
      CurrentBuildNumber: '20348',
      UBR: 2340,
      ReleaseId: '2009',
      BuildLabEx: '20348.1.amd64fre.fe_release.210507-1500',
      CurrentBuild: '20348',
      ProductName: 'Windows Server 2022 Datacenter',
      DisplayVersion: '21H2',
    });
  });

  it('derives the host facts', () => {
    const version = readWindowsVersion(fakeRegistry(recorded).call);
    assert.deepEqual(windowsHostFacts(version, os), {
      HostName: 'frank-wins-dev',
      Platform: 'windows',
      OSName: 'Windows Server 2022 Datacenter',
      OSVersion: '10.0.20348',
      OSBuild: '20348.2340',
      KernelVersion: '10.0.20348',
      Architecture: 'x86_64',
      UptimeSeconds: 3723,
      BootTime: '2025-03-01T10:57:57.000Z',
      WindowsVersion: version,
    });
  });

  it('falls back when values are missing (pre-Windows 10, or a stripped image)', () => {
    const missing = new Set(['ProductName', 'UBR', 'CurrentMajorVersionNumber']);
    const rest = Object.fromEntries(Object.entries(recorded).filter(([name]) => !missing.has(name)));
    const version = readWindowsVersion(fakeRegistry(rest).call);
    assert.equal(version.ProductName, null);
    assert.equal(version.UBR, null);
    const facts = windowsHostFacts(version, { ...os, release: () => '10.0.20348.2340', arch: () => 'arm64' });
    assert.equal(facts.OSName, 'Windows');
    assert.equal(facts.OSVersion, '10.0.20348.2340');
    assert.equal(facts.OSBuild, '20348');
    assert.equal(facts.Architecture, 'aarch64');
  });
});
