import type { WindowsVersionInfo } from '../../../../typings/index.js';
import type { HostFacts } from '../types.js';
import { ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_SUCCESS, win32Failure } from './win32.js';

/**
 * winreg.h: `(HKEY)(ULONG_PTR)((LONG)0x80000002)`. The LONG cast sign-extends, so on 64-bit Windows the handle
 * is 0xFFFFFFFF80000002, not 0x80000002.
 */
export const HKEY_LOCAL_MACHINE = 0xffff_ffff_8000_0002n;
export const RRF_RT_REG_SZ = 0x0000_0002;
export const RRF_RT_REG_DWORD = 0x0000_0010;

export const CURRENT_VERSION_KEY = 'SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion';

/**
 * RegGetValueW(HKEY_LOCAL_MACHINE, subKey, valueName, flags, NULL, data, &size) — the one registry call the host
 * facts need, reduced so tests can stand in for advapi32. `data` null asks for the size only.
 */
export type RegGetValueCall = (
  subKey: string,
  valueName: string,
  flags: number,
  data: Buffer | null,
  size: [number],
) => number;

/** REG_DWORD data: 4 bytes, little-endian (REG_DWORD_BIG_ENDIAN is a different type, excluded by the flag). */
export function decodeRegDword(data: Uint8Array): number {
  if (data.length < 4) throw new RangeError(`REG_DWORD data is ${data.length} bytes, expected 4`);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32LE(0);
}

/**
 * REG_SZ data: UTF-16LE, normally with one terminating NUL (RegGetValueW adds one if the stored value lacks
 * it). Everything from the first NUL on is dropped, so a value stored with extra NULs or a stray odd byte
 * decodes to the same string.
 */
export function decodeRegSz(data: Uint8Array): string {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength - (data.byteLength % 2));
  let end = 0;
  while (end < bytes.length && (bytes[end] !== 0 || bytes[end + 1] !== 0)) end += 2;
  return bytes.toString('utf16le', 0, end);
}

const MAX_ATTEMPTS = 3;

/**
 * Reads one value: a first call for the size, a second into a buffer of that size. A value rewritten larger in
 * between gives ERROR_MORE_DATA with the new size, which is retried. A missing value (or key) is null.
 */
export function readRegistryValue(call: RegGetValueCall, subKey: string, name: string, kind: 'dword'): number | null;
export function readRegistryValue(call: RegGetValueCall, subKey: string, name: string, kind: 'sz'): string | null;
export function readRegistryValue(
  call: RegGetValueCall,
  subKey: string,
  valueName: string,
  kind: 'dword' | 'sz',
): number | string | null {
  const flags = kind === 'dword' ? RRF_RT_REG_DWORD : RRF_RT_REG_SZ;
  const size: [number] = [0];
  let status = call(subKey, valueName, flags, null, size);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (status === ERROR_FILE_NOT_FOUND) return null;
    if (status !== ERROR_SUCCESS && status !== ERROR_MORE_DATA) break;
    const data = Buffer.alloc(size[0]);
    status = call(subKey, valueName, flags, data, size);
    if (status === ERROR_SUCCESS) {
      const filled = data.subarray(0, Math.min(size[0], data.length));
      return kind === 'dword' ? decodeRegDword(filled) : decodeRegSz(filled);
    }
  }
  throw win32Failure(`RegGetValueW(${valueName})`, status);
}

export function readWindowsVersion(call: RegGetValueCall): WindowsVersionInfo {
  const dword = (name: string) => readRegistryValue(call, CURRENT_VERSION_KEY, name, 'dword');
  const sz = (name: string) => readRegistryValue(call, CURRENT_VERSION_KEY, name, 'sz');
  return {
    CurrentMajorVersionNumber: dword('CurrentMajorVersionNumber'),
    CurrentMinorVersionNumber: dword('CurrentMinorVersionNumber'),
    CurrentBuildNumber: sz('CurrentBuildNumber'),
    UBR: dword('UBR'),
    ReleaseId: sz('ReleaseId'),
    BuildLabEx: sz('BuildLabEx'),
    CurrentBuild: sz('CurrentBuild'),
    ProductName: sz('ProductName'),
    DisplayVersion: sz('DisplayVersion'),
  };
}

/** What the host facts take from node:os, injectable for tests. */
export interface OsFacts {
  hostname(): string;
  release(): string;
  arch(): string;
  uptime(): number;
  now(): number;
}

/** `uname -m` words, so Windows and Linux hosts report the same architecture names. */
const ARCHITECTURES: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i686', arm: 'armv7l' };

export function windowsHostFacts(version: WindowsVersionInfo, os: OsFacts): HostFacts {
  const release = os.release();
  const major = version.CurrentMajorVersionNumber;
  const minor = version.CurrentMinorVersionNumber;
  const build = version.CurrentBuildNumber ?? version.CurrentBuild;
  // Before Windows 10 the Major/Minor DWORDs do not exist; os.release() (from RtlGetVersion) is then the version.
  const osVersion = major !== null && minor !== null && build !== null ? `${major}.${minor}.${build}` : release;
  const uptime = Math.floor(os.uptime());
  return {
    HostName: os.hostname(),
    Platform: 'windows',
    OSName: version.ProductName ?? 'Windows',
    OSVersion: osVersion,
    OSBuild: build === null ? null : version.UBR === null ? build : `${build}.${version.UBR}`,
    KernelVersion: release,
    Architecture: ARCHITECTURES[os.arch()] ?? os.arch(),
    UptimeSeconds: uptime,
    BootTime: new Date(Math.floor(os.now() / 1000) * 1000 - uptime * 1000).toISOString(),
    WindowsVersion: version,
  };
}
