import { open } from 'node:fs/promises';
import { win32Failure } from './win32.js';

/**
 * fileapi.h. FILE_NAME_NORMALIZED asks for the name with every link followed and short (8.3) components
 * expanded; VOLUME_NAME_DOS for a drive letter (`\\?\C:\...`) or `\\?\UNC\server\share\...` instead of a
 * volume GUID or NT device path, so the result compares with policy roots written as drive paths.
 */
export const FILE_NAME_NORMALIZED = 0x0;
export const VOLUME_NAME_DOS = 0x0;
export const FINAL_PATH_FLAGS = FILE_NAME_NORMALIZED | VOLUME_NAME_DOS;

/** winerror.h codes only this file uses. */
export const ERROR_INVALID_HANDLE = 6;
export const ERROR_NO_MORE_FILES = 18;
export const ERROR_INSUFFICIENT_BUFFER = 122;

/** minwinbase.h FILE_INFO_BY_HANDLE_CLASS: the Restart class starts the enumeration over, the other goes on. */
export const FileFullDirectoryInfo = 14;
export const FileFullDirectoryRestartInfo = 15;

/**
 * winbase.h FILE_FULL_DIR_INFO: ULONG NextEntryOffset, ULONG FileIndex, six LARGE_INTEGERs (8-aligned, from
 * offset 8), ULONG FileAttributes, ULONG FileNameLength (bytes), ULONG EaSize, WCHAR FileName[]. No pointers,
 * so the offsets are the same in 32- and 64-bit processes.
 */
export const FILE_FULL_DIR_INFO = { NextEntryOffset: 0, FileAttributes: 56, FileNameLength: 60, FileName: 68 } as const;
/** Many entries per call; one entry is at most 68 + 255 * 2 bytes (NTFS names are at most 255 characters). */
export const DIRECTORY_BUFFER_BYTES = 64 * 1024;

/**
 * MAX_PATH plus the `\\?\` prefix and room to spare: almost every path fits the first call. Longer ones cost
 * one more call.
 */
export const INITIAL_PATH_CHARS = 512;
/**
 * A counted NT name holds at most 32,767 characters, and the DOS form differs from it only in its prefix.
 * Anything past this bound is a broken return value, and allocating what it asks for could take the broker down.
 */
export const MAX_PATH_CHARS = 0x1_0000;
const MAX_ATTEMPTS = 4;

/** One GetFinalPathNameByHandleW call, with GetLastError read immediately after a failure (result 0). */
export interface FinalPathResult {
  result: number;
  lastError: number;
}

/** The native calls behind `realPathOfDescriptor`, reduced so tests can stand in for node.exe and kernel32. */
export interface FinalPathCalls {
  /**
   * uv_get_osfhandle(fd): the HANDLE behind a C-runtime descriptor of the CRT that libuv (and so Node's fs)
   * uses; -1 (INVALID_HANDLE_VALUE) or -2 for a descriptor without one.
   */
  osfHandle(fd: number): number | bigint;
  /** GetFinalPathNameByHandleW(handle, buffer, chars, flags), `buffer` holding `chars` UTF-16 units. */
  getFinalPathNameByHandle(handle: bigint, buffer: Buffer, chars: number, flags: number): FinalPathResult;
}

/** GetFileInformationByHandleEx(handle, infoClass, buffer, buffer.length), GetLastError read on failure. */
export interface DirectoryCalls {
  getFileInformationByHandleEx(handle: bigint, infoClass: number, buffer: Buffer): { ok: boolean; lastError: number };
}

export interface FileCalls extends FinalPathCalls, DirectoryCalls {}

/**
 * `chars` UTF-16LE code units from the start of `bytes`, exactly: the count the API reported, not a scan for a
 * NUL, so a stale tail in a reused buffer cannot leak into the name. Unpaired surrogates (legal in NTFS names)
 * are kept as they are, which JS strings can hold. A NUL inside the counted range is refused: no Windows path
 * contains one, and a name cut short at it would be a different path.
 */
export function decodeUtf16(bytes: Uint8Array, chars: number): string {
  if (!Number.isInteger(chars) || chars < 0 || chars * 2 > bytes.byteLength) {
    throw new RangeError(`${chars} UTF-16 characters do not fit in ${bytes.byteLength} bytes`);
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, chars * 2).toString('utf16le');
  if (text.includes('\0')) throw new RangeError('a NUL character inside the reported length');
  return text;
}

/**
 * The final path of an open handle. The result is the length without the NUL when the buffer sufficed, and
 * the size needed, NUL included, when it did not; 0 is a failure, explained by GetLastError. The name can
 * change between calls (a rename), so the size is asked for again each time, a bounded number of times.
 */
export function finalPathOfHandle(calls: FinalPathCalls, handle: bigint): string {
  let chars = INITIAL_PATH_CHARS;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const buffer = Buffer.alloc(chars * 2);
    const { result, lastError } = calls.getFinalPathNameByHandle(handle, buffer, chars, FINAL_PATH_FLAGS);
    const needed = result >>> 0;
    if (needed === 0) throw win32Failure('GetFinalPathNameByHandleW', lastError);
    if (needed < chars) return decodeUtf16(buffer, needed);
    if (needed > MAX_PATH_CHARS) break;
    // A success is always shorter than the buffer, so `needed === chars` is a short buffer too; growing by at
    // least one keeps a count that left out the NUL from asking for the same size forever.
    chars = Math.max(needed, chars + 1);
  }
  throw win32Failure('GetFinalPathNameByHandleW', ERROR_INSUFFICIENT_BUFFER);
}

/**
 * The HANDLE of a Node file descriptor. Node's fs descriptors on Windows belong to the C runtime linked into
 * node.exe; uv_get_osfhandle consults that runtime's table (see native.ts). The handle stays owned by that
 * descriptor: it is never closed here, and it is valid only while the caller keeps the descriptor open.
 */
export function handleOfDescriptor(calls: FinalPathCalls, fd: number): bigint {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) throw win32Failure(`uv_get_osfhandle(${fd})`, ERROR_INVALID_HANDLE);
  const raw = calls.osfHandle(fd);
  const handle = typeof raw === 'bigint' ? BigInt.asIntN(64, raw) : BigInt(raw);
  // -1 is INVALID_HANDLE_VALUE, -2 a standard stream without a console; no real handle is 0 or negative.
  if (handle <= 0n) throw win32Failure(`uv_get_osfhandle(${fd})`, ERROR_INVALID_HANDLE);
  return handle;
}

/** The raw `\\?\C:\...` (or `\\?\UNC\...`) path the descriptor refers to; the caller normalizes it. */
export function realPathOfDescriptor(calls: FinalPathCalls, fd: number): string {
  return finalPathOfHandle(calls, handleOfDescriptor(calls, fd));
}

/**
 * The names in one buffer of FILE_FULL_DIR_INFO entries. The call does not say how many bytes it wrote: the
 * chain ends at the entry whose NextEntryOffset is 0. Every entry is bounds-checked against the buffer, so a
 * corrupt offset is an exception, never a read past it. `.` and `..` are left out, as readdir does.
 */
export function parseDirectoryEntries(bytes: Buffer): string[] {
  const names: string[] = [];
  for (let offset = 0; ; ) {
    if (offset + FILE_FULL_DIR_INFO.FileName > bytes.length) throw new RangeError(`directory entry at ${offset} overruns the buffer`);
    const next = bytes.readUInt32LE(offset + FILE_FULL_DIR_INFO.NextEntryOffset);
    const nameBytes = bytes.readUInt32LE(offset + FILE_FULL_DIR_INFO.FileNameLength);
    const nameStart = offset + FILE_FULL_DIR_INFO.FileName;
    if (nameBytes % 2 !== 0 || nameStart + nameBytes > bytes.length) throw new RangeError(`directory entry at ${offset} has a name of ${nameBytes} bytes`);
    const name = decodeUtf16(bytes.subarray(nameStart, nameStart + nameBytes), nameBytes / 2);
    if (name !== '.' && name !== '..') names.push(name);
    if (next === 0) return names;
    // Entries follow each other, 8-byte aligned; a next entry that does not move forward past this one is corrupt.
    if (next < FILE_FULL_DIR_INFO.FileName + nameBytes) throw new RangeError(`directory entry at ${offset} points back into itself`);
    offset += next;
  }
}

/**
 * Every name in the directory `handle` refers to, read through the handle itself: what is listed is the
 * directory that was opened, even if its path is changed meanwhile (libuv opens with FILE_SHARE_DELETE, so it
 * can be renamed while open).
 */
export function listDirectoryOfHandle(calls: DirectoryCalls, handle: bigint): string[] {
  const names: string[] = [];
  for (let first = true; ; first = false) {
    const buffer = Buffer.alloc(DIRECTORY_BUFFER_BYTES);
    const infoClass = first ? FileFullDirectoryRestartInfo : FileFullDirectoryInfo;
    const { ok, lastError } = calls.getFileInformationByHandleEx(handle, infoClass, buffer);
    if (!ok) {
      if (lastError === ERROR_NO_MORE_FILES) return names;
      throw win32Failure('GetFileInformationByHandleEx', lastError);
    }
    for (const name of parseDirectoryEntries(buffer)) names.push(name);
  }
}

function notADirectory(path: string): NodeJS.ErrnoException {
  // The shape Node gives ENOTDIR, which the file handlers map to NotADirectory.
  return Object.assign(new Error(`ENOTDIR: not a directory, scandir '${path}'`), { code: 'ENOTDIR', syscall: 'scandir', path });
}

/**
 * Opens the directory (libuv opens directories too, with FILE_FLAG_BACKUP_SEMANTICS), then takes both its
 * real path and its names from that one handle, so the path checked is the directory listed. Errors of the
 * open itself (ENOENT, EACCES) are Node's, as on Linux. `calls` is asked for only once the open succeeded.
 */
export async function readDirectoryThroughHandle(
  path: string,
  calls: () => Promise<FileCalls>,
): Promise<{ realPath: string; names: string[] }> {
  const directory = await open(path, 'r');
  try {
    if (!(await directory.stat()).isDirectory()) throw notADirectory(path);
    const native = await calls();
    const handle = handleOfDescriptor(native, directory.fd);
    const realPath = finalPathOfHandle(native, handle);
    return { realPath, names: listDirectoryOfHandle(native, handle) };
  } finally {
    await directory.close();
  }
}
