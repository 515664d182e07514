import path from 'node:path';
import koffi, { type LibraryHandle } from 'koffi';
import { HKEY_LOCAL_MACHINE, type RegGetValueCall } from './host.js';
import { AF_UNSPEC, X64 } from './layout.js';
import { BufferMemory, type NativeMemory } from './memory.js';
import {
  ADAPTER_FLAGS,
  fetchAdapterBuffer,
  parseAdapterList,
  parseRouteTable,
  routeTableSize,
  type RawAdapter,
  type RawRoute,
} from './network.js';
import { ERROR_NOT_FOUND, ERROR_SUCCESS, win32Failure } from './win32.js';

/**
 * The thin koffi layer: prototypes, lazy DLL loading, and the calls that hand raw memory to the parsers in
 * network.ts / host.ts. Nothing here runs at import time, so the module loads on Linux (where tests check the
 * prototypes parse) and a DLL is only opened by the first call that needs it.
 *
 * Buffers are passed as `void *`: koffi hands native code the Buffer's own memory (no copy), which matters
 * because GetAdaptersAddresses stores absolute pointers into the buffer it filled.
 */
export const PROTOTYPES = {
  /** iphlpapi.h: ULONG GetAdaptersAddresses(ULONG Family, ULONG Flags, PVOID Reserved, PIP_ADAPTER_ADDRESSES AdapterAddresses, PULONG SizePointer) */
  GetAdaptersAddresses:
    'uint32_t __stdcall GetAdaptersAddresses(uint32_t Family, uint32_t Flags, void *Reserved, void *AdapterAddresses, _Inout_ uint32_t *SizePointer)',
  /** netioapi.h: NETIO_STATUS GetIpForwardTable2(ADDRESS_FAMILY Family, PMIB_IPFORWARD_TABLE2 *Table) */
  GetIpForwardTable2: 'uint32_t __stdcall GetIpForwardTable2(uint16_t Family, _Out_ void **Table)',
  /** netioapi.h: VOID FreeMibTable(PVOID Memory) */
  FreeMibTable: 'void __stdcall FreeMibTable(void *Memory)',
  /** winreg.h: LSTATUS RegGetValueW(HKEY hkey, LPCWSTR lpSubKey, LPCWSTR lpValue, DWORD dwFlags, LPDWORD pdwType, PVOID pvData, LPDWORD pcbData) */
  RegGetValueW:
    'int32_t __stdcall RegGetValueW(void *hkey, const char16_t *lpSubKey, const char16_t *lpValue, uint32_t dwFlags, uint32_t *pdwType, void *pvData, _Inout_ uint32_t *pcbData)',
} as const;

type KoffiFunction = ReturnType<LibraryHandle['func']>;

interface IpHelper {
  GetAdaptersAddresses: KoffiFunction;
  GetIpForwardTable2: KoffiFunction;
  FreeMibTable: KoffiFunction;
}

interface Advapi {
  RegGetValueW: KoffiFunction;
}

let ipHelper: IpHelper | undefined;
let advapi: Advapi | undefined;

/** The offsets in layout.ts are the 64-bit ones; a 32-bit process would read every structure wrongly. */
function assert64Bit(): void {
  if (koffi.sizeof('void *') !== X64.pointerSize) {
    throw new Error('the Windows backend supports 64-bit processes only (x64, arm64)');
  }
}

/**
 * iphlpapi.dll is not a KnownDLL, so a bare name would be searched for next to node.exe first; the broker runs
 * privileged, so it names the System32 copy outright.
 */
function loadSystemLibrary(name: string): LibraryHandle {
  assert64Bit();
  return koffi.load(path.win32.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', name));
}

function loadIpHelper(): IpHelper {
  if (!ipHelper) {
    const lib = loadSystemLibrary('iphlpapi.dll');
    ipHelper = {
      GetAdaptersAddresses: lib.func(PROTOTYPES.GetAdaptersAddresses),
      GetIpForwardTable2: lib.func(PROTOTYPES.GetIpForwardTable2),
      FreeMibTable: lib.func(PROTOTYPES.FreeMibTable),
    };
  }
  return ipHelper;
}

function loadAdvapi(): Advapi {
  if (!advapi) {
    const lib = loadSystemLibrary('advapi32.dll');
    advapi = { RegGetValueW: lib.func(PROTOTYPES.RegGetValueW) };
  }
  return advapi;
}

/** Reads process memory by address through koffi; for memory the OS owns and we do not copy first. */
export const koffiMemory: NativeMemory = {
  u8: (address) => koffi.decode.uint8(checked(address)),
  u16: (address) => koffi.decode.uint16(checked(address)),
  u32: (address) => koffi.decode.uint32(checked(address)),
  u64: (address) => BigInt(koffi.decode.uint64(checked(address))),
  pointer: (address) => BigInt(koffi.decode.uint64(checked(address))),
  bytes: (address, length) => new Uint8Array(koffi.view(checked(address), length)).slice(),
  wstring: (address) => koffi.decode.string16(checked(address)),
  cstring: (address) => koffi.decode.string(checked(address)),
};

function checked(address: bigint): bigint {
  // koffi would dereference NULL and take the process down; an exception is recoverable.
  if (address === 0n) throw new RangeError('read through a NULL pointer');
  return address;
}

export const regGetValue: RegGetValueCall = (subKey, valueName, flags, data, size) =>
  loadAdvapi().RegGetValueW(HKEY_LOCAL_MACHINE, subKey, valueName, flags, null, data, size) as number;

export function readAdapters(): RawAdapter[] {
  return readAdaptersWith(loadIpHelper().GetAdaptersAddresses);
}

export function readRoutes(): RawRoute[] {
  const { GetIpForwardTable2, FreeMibTable } = loadIpHelper();
  return readRoutesWith(GetIpForwardTable2, FreeMibTable);
}

/** The koffi-call shapes of the iphlpapi functions, so tests can run the glue below with stand-ins on Linux. */
export type GetAdaptersAddressesFn = (
  family: number,
  flags: number,
  reserved: null,
  buffer: Buffer,
  size: [number],
) => unknown;
export type GetIpForwardTable2Fn = (family: number, table: [unknown]) => unknown;
export type FreeMibTableFn = (memory: bigint) => unknown;

export function readAdaptersWith(getAdaptersAddresses: GetAdaptersAddressesFn): RawAdapter[] {
  const buffer = fetchAdapterBuffer(
    (target, size) => getAdaptersAddresses(AF_UNSPEC, ADAPTER_FLAGS, null, target, size) as number,
  );
  if (!buffer) return [];
  // The list and everything it points to live inside `buffer`, so bounds-checked reads of it see it all.
  const memory = new BufferMemory(buffer, koffi.address(buffer));
  return parseAdapterList(memory, memory.base);
}

export function readRoutesWith(getIpForwardTable2: GetIpForwardTable2Fn, freeMibTable: FreeMibTableFn): RawRoute[] {
  const out: [unknown] = [null];
  const status = getIpForwardTable2(AF_UNSPEC, out) as number;
  if (status === ERROR_NOT_FOUND) return [];
  if (status !== ERROR_SUCCESS) throw win32Failure('GetIpForwardTable2', status);
  const table = out[0] === null || out[0] === undefined ? 0n : BigInt(out[0] as bigint | number);
  if (table === 0n) return [];
  let copy: Buffer;
  try {
    const size = routeTableSize(koffiMemory.u32(table + BigInt(X64.MIB_IPFORWARD_TABLE2.NumEntries)));
    copy = Buffer.from(koffiMemory.bytes(table, size));
  } finally {
    freeMibTable(table);
  }
  // Parsed from a copy mapped at the original address, so the rows stay readable after FreeMibTable.
  return parseRouteTable(new BufferMemory(copy, table), table);
}
