import assert from 'node:assert/strict';
import { fstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import koffi from 'koffi';
import { BrokerError } from '../../broker/src/errors.js';
import {
  DIRECTORY_BUFFER_BYTES,
  ERROR_NO_MORE_FILES,
  FILE_FULL_DIR_INFO,
  FINAL_PATH_FLAGS,
  FileFullDirectoryInfo,
  FileFullDirectoryRestartInfo,
  INITIAL_PATH_CHARS,
  decodeUtf16,
  finalPathOfHandle,
  handleOfDescriptor,
  listDirectoryOfHandle,
  parseDirectoryEntries,
  readDirectoryThroughHandle,
  realPathOfDescriptor,
  type FileCalls,
  type FinalPathCalls,
} from '../../broker/src/platform/windows/files.js';
import { windowsPlatform } from '../../broker/src/platform/windows/index.js';
import { PROTOTYPES, fileCallsWith } from '../../broker/src/platform/windows/native.js';
import { Win32Error } from '../../broker/src/platform/windows/win32.js';
import { signature } from './fixtures/windows/prototypes.js';
import { nativeWith } from './fixtures/windows/native-fake.js';

const onLinux = process.platform === 'linux';


interface RecordedPath {
  returned: number;
  hex: string;
}
const recorded: Record<'drive' | 'unc', RecordedPath> = JSON.parse(
  readFileSync(new URL('./fixtures/windows/final-paths.json', import.meta.url), 'utf8'),
);

const DRIVE_PATH = String.raw`\\?\C:\ProgramData\docker\CredentialSpecs\webapp1.json`;
const UNC_PATH = String.raw`\\?\UNC\server\share\x`;

function hostFailure(code: number, api: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof BrokerError, `not a BrokerError: ${e}`);
    assert.equal(e.codeName, 'HostOperationFailed');
    assert.equal(e.data.reason, 'Win32Error');
    assert.ok(e.cause instanceof Win32Error);
    assert.equal(e.cause.code, code);
    assert.match(e.cause.api, api);
    return true;
  };
}

/**
 * GetFinalPathNameByHandleW as documented, over a fixed name: a buffer that holds the name and its NUL gets it
 * and the length without the NUL; a shorter one gets nothing and the size needed, NUL included.
 */
function fakeFinalPath(path: string, handleOf: (fd: number) => number | bigint = () => 0x1a4) {
  const calls: Array<{ handle: bigint; chars: number; bufferBytes: number; flags: number }> = [];
  const fake: FinalPathCalls = {
    osfHandle: handleOf,
    getFinalPathNameByHandle(handle, buffer, chars, flags) {
      calls.push({ handle, chars, bufferBytes: buffer.length, flags });
      if (chars < path.length + 1) return { result: path.length + 1, lastError: 0 };
      // Garbage after the NUL: the decoder must go by the returned length alone.
      buffer.fill(0xcc);
      Buffer.from(`${path}\0`, 'utf16le').copy(buffer);
      return { result: path.length, lastError: 0 };
    },
  };
  return { fake, calls };
}

describe('koffi prototypes (files)', () => {
  it('uv_get_osfhandle returns intptr_t so INVALID_HANDLE_VALUE is -1', () => {
    assert.deepEqual(signature(PROTOTYPES.uv_get_osfhandle), {
      name: 'uv_get_osfhandle',
      result: 'intptr_t',
      args: [['int', 'Int32', 4, 'Input']],
    });
  });

  it('GetFinalPathNameByHandleW', () => {
    assert.deepEqual(signature(PROTOTYPES.GetFinalPathNameByHandleW), {
      name: 'GetFinalPathNameByHandleW',
      result: 'uint32_t',
      args: [
        ['void *', 'Pointer', 8, 'Input'],
        // Input, not Output: the Buffer is passed as-is and Windows writes the name into it.
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
      ],
    });
  });

  it('GetFileInformationByHandleEx and GetLastError', () => {
    assert.deepEqual(signature(PROTOTYPES.GetFileInformationByHandleEx), {
      name: 'GetFileInformationByHandleEx',
      result: 'int32_t',
      args: [
        ['void *', 'Pointer', 8, 'Input'],
        ['int32_t', 'Int32', 4, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
      ],
    });
    assert.deepEqual(signature(PROTOTYPES.GetLastError), { name: 'GetLastError', result: 'uint32_t', args: [] });
  });
});

describe('koffi marshalling the file calls rely on', { skip: !onLinux && 'needs libc.so.6' }, () => {
  const libc = onLinux ? koffi.load('libc.so.6') : undefined;

  it('returns intptr_t -1 as the number -1', () => {
    const strtol = libc!.func('intptr_t strtol(const char *s, void *end, int base)');
    assert.equal(strtol('-1', null, 10), -1);
  });

  it('passes a BigInt handle to void * bit for bit', () => {
    const labs = libc!.func('intptr_t labs(void *x)');
    assert.equal(labs(0x1a4n), 0x1a4);
  });
});

describe('UTF-16 path decoding', () => {
  it('decodes the drive-letter result by the returned length', () => {
    const bytes = Buffer.from(recorded.drive.hex, 'hex');
    assert.equal(recorded.drive.returned, 54);
    assert.equal(decodeUtf16(bytes, recorded.drive.returned), DRIVE_PATH);
  });

  it('decodes the UNC result', () => {
    assert.equal(decodeUtf16(Buffer.from(recorded.unc.hex, 'hex'), recorded.unc.returned), UNC_PATH);
  });

  it('ignores whatever follows the counted characters, and reads from a view at an offset', () => {
    const backing = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(recorded.unc.hex, 'hex'), Buffer.alloc(40, 0xcc)]);
    assert.equal(decodeUtf16(backing.subarray(3), recorded.unc.returned), UNC_PATH);
    assert.equal(decodeUtf16(backing.subarray(3), 3), '\\\\?');
  });

  it('keeps non-BMP characters and unpaired surrogates (legal in NTFS names)', () => {
    const units = Uint16Array.of(0x43, 0x3a, 0x5c, 0xd83d, 0xdc33, 0xd800, 0x78);
    const decoded = decodeUtf16(new Uint8Array(units.buffer), units.length);
    assert.deepEqual([...decoded].map((c) => c.codePointAt(0)), [0x43, 0x3a, 0x5c, 0x1f433, 0xd800, 0x78]);
  });

  it('refuses a NUL inside the count and a count the bytes cannot hold', () => {
    const bytes = Buffer.from(recorded.unc.hex, 'hex');
    assert.throws(() => decodeUtf16(bytes, recorded.unc.returned + 1), /NUL/);
    assert.throws(() => decodeUtf16(bytes, bytes.length / 2 + 1), RangeError);
    assert.throws(() => decodeUtf16(bytes, -1), RangeError);
    assert.throws(() => decodeUtf16(bytes, 1.5), RangeError);
  });
});

describe('GetFinalPathNameByHandleW', () => {
  it('asks for a normalized name with the drive letter (both flags are 0)', () => {
    assert.equal(FINAL_PATH_FLAGS, 0);
  });

  it('returns the name from the first call when it fits', () => {
    const { fake, calls } = fakeFinalPath(DRIVE_PATH);
    assert.equal(finalPathOfHandle(fake, 0x1a4n), DRIVE_PATH);
    assert.deepEqual(calls, [{ handle: 0x1a4n, chars: INITIAL_PATH_CHARS, bufferBytes: INITIAL_PATH_CHARS * 2, flags: 0 }]);
  });

  it('grows to the size the too-small call asked for, then reads the name', () => {
    const long = `\\\\?\\C:\\${'deep\\'.repeat(150)}webapp1.json`;
    assert.ok(long.length + 1 > INITIAL_PATH_CHARS);
    const { fake, calls } = fakeFinalPath(long);
    assert.equal(finalPathOfHandle(fake, 0x1a4n), long);
    assert.deepEqual(
      calls.map((c) => [c.chars, c.bufferBytes]),
      [
        [INITIAL_PATH_CHARS, INITIAL_PATH_CHARS * 2],
        [long.length + 1, (long.length + 1) * 2],
      ],
    );
  });

  it('treats a result equal to the buffer size as too small and grows by at least one', () => {
    const sizes: number[] = [];
    const path = 'x'.repeat(INITIAL_PATH_CHARS);
    const fake: FinalPathCalls = {
      osfHandle: () => 4,
      getFinalPathNameByHandle(_handle, buffer, chars) {
        sizes.push(chars);
        // A count that left out the NUL: exactly the buffer size.
        if (chars <= path.length) return { result: path.length, lastError: 0 };
        Buffer.from(path, 'utf16le').copy(buffer);
        return { result: path.length, lastError: 0 };
      },
    };
    assert.equal(finalPathOfHandle(fake, 4n), path);
    assert.deepEqual(sizes, [INITIAL_PATH_CHARS, INITIAL_PATH_CHARS + 1]);
  });

  it('reports a failure (0) with the GetLastError code', () => {
    const fake: FinalPathCalls = { osfHandle: () => 4, getFinalPathNameByHandle: () => ({ result: 0, lastError: 3 }) };
    assert.throws(() => finalPathOfHandle(fake, 4n), hostFailure(3, /GetFinalPathNameByHandleW/));
  });

  it('gives up when the name keeps growing, and never allocates an absurd size', () => {
    let calls = 0;
    const growing: FinalPathCalls = {
      osfHandle: () => 4,
      getFinalPathNameByHandle: (_h, _b, chars) => ((calls += 1), { result: chars + 10, lastError: 0 }),
    };
    assert.throws(() => finalPathOfHandle(growing, 4n), hostFailure(122, /GetFinalPathNameByHandleW/));
    assert.equal(calls, 4);
    let absurd = 0;
    const broken: FinalPathCalls = {
      osfHandle: () => 4,
      getFinalPathNameByHandle: () => ((absurd += 1), { result: 0xffff_ffff, lastError: 0 }),
    };
    assert.throws(() => finalPathOfHandle(broken, 4n), hostFailure(122, /GetFinalPathNameByHandleW/));
    assert.equal(absurd, 1);
  });
});

describe('descriptor to handle', () => {
  it('turns the uv_get_osfhandle result into a BigInt handle', () => {
    const { fake } = fakeFinalPath(DRIVE_PATH, (fd) => (fd === 7 ? 0x1a4 : -1));
    assert.equal(handleOfDescriptor(fake, 7), 0x1a4n);
    assert.equal(handleOfDescriptor({ ...fake, osfHandle: () => 0x7fff_0000_0000n }, 7), 0x7fff_0000_0000n);
  });

  it('refuses INVALID_HANDLE_VALUE, the no-console -2, NULL, and a handle read as unsigned', () => {
    for (const raw of [-1, -2, 0, 0xffff_ffff_ffff_ffffn]) {
      const { fake } = fakeFinalPath(DRIVE_PATH, () => raw);
      assert.throws(() => handleOfDescriptor(fake, 7), hostFailure(6, /uv_get_osfhandle\(7\)/), String(raw));
    }
  });

  it('does not call into the CRT with a descriptor that cannot be one', () => {
    for (const fd of [-1, 1.5, Number.NaN, 2 ** 31]) {
      const fake: FinalPathCalls = {
        osfHandle: () => assert.fail('called with an invalid descriptor'),
        getFinalPathNameByHandle: () => assert.fail('no handle to ask about'),
      };
      assert.throws(() => handleOfDescriptor(fake, fd), hostFailure(6, /uv_get_osfhandle/));
    }
  });

  it('realPathOfDescriptor asks about the handle of that descriptor', () => {
    const { fake, calls } = fakeFinalPath(UNC_PATH, (fd) => (fd === 12 ? 0x2b8 : -1));
    assert.equal(realPathOfDescriptor(fake, 12), UNC_PATH);
    assert.deepEqual(calls.map((c) => c.handle), [0x2b8n]);
  });
});

describe('the koffi glue for file calls', () => {
  it('reads GetLastError right after a failure and only then', () => {
    const log: string[] = [];
    let fail = false;
    const calls = fileCallsWith(
      (fd) => (log.push(`uv_get_osfhandle ${fd}`), 0x1a4),
      (handle, buffer, chars, flags) => (log.push(`GetFinalPathNameByHandleW ${handle} ${buffer.length} ${chars} ${flags}`), fail ? 0 : 5),
      (handle, infoClass, buffer, bytes) => (log.push(`GetFileInformationByHandleEx ${handle} ${infoClass} ${buffer.length} ${bytes}`), fail ? 0 : 1),
      () => (log.push('GetLastError'), 18),
    );
    assert.equal(calls.osfHandle(3), 0x1a4);
    assert.deepEqual(calls.getFinalPathNameByHandle(0x1a4n, Buffer.alloc(20), 10, 0), { result: 5, lastError: 0 });
    assert.deepEqual(calls.getFileInformationByHandleEx(0x1a4n, 15, Buffer.alloc(64)), { ok: true, lastError: 0 });
    fail = true;
    assert.deepEqual(calls.getFinalPathNameByHandle(0x1a4n, Buffer.alloc(20), 10, 0), { result: 0, lastError: 18 });
    assert.deepEqual(calls.getFileInformationByHandleEx(0x1a4n, 14, Buffer.alloc(64)), { ok: false, lastError: 18 });
    assert.deepEqual(log, [
      'uv_get_osfhandle 3',
      'GetFinalPathNameByHandleW 420 20 10 0',
      'GetFileInformationByHandleEx 420 15 64 64',
      'GetFinalPathNameByHandleW 420 20 10 0',
      'GetLastError',
      'GetFileInformationByHandleEx 420 14 64 64',
      'GetLastError',
    ]);
  });
});

// winbase.h FILE_FULL_DIR_INFO transcribed into koffi, so koffi computes the layout independently of files.ts.
const FILE_FULL_DIR_INFO_T = koffi.struct({
  NextEntryOffset: 'uint32_t',
  FileIndex: 'uint32_t',
  CreationTime: 'int64_t',
  LastAccessTime: 'int64_t',
  LastWriteTime: 'int64_t',
  ChangeTime: 'int64_t',
  EndOfFile: 'int64_t',
  AllocationSize: 'int64_t',
  FileAttributes: 'uint32_t',
  FileNameLength: 'uint32_t',
  EaSize: 'uint32_t',
  FileName: koffi.array('uint16_t', 1),
});

/** A buffer of FILE_FULL_DIR_INFO entries as the file system fills it: 8-byte aligned, chained by NextEntryOffset. */
function directoryImage(names: Array<string | Uint16Array>, size = DIRECTORY_BUFFER_BYTES): Buffer {
  const buffer = Buffer.alloc(size, 0xcc);
  const nameOffset = koffi.offsetof(FILE_FULL_DIR_INFO_T, 'FileName');
  let offset = 0;
  names.forEach((name, index) => {
    const units = typeof name === 'string' ? Buffer.from(name, 'utf16le') : Buffer.from(name.buffer, name.byteOffset, name.byteLength);
    const length = Math.ceil((nameOffset + units.length) / 8) * 8;
    const last = index === names.length - 1;
    buffer.fill(0, offset, offset + length);
    buffer.writeUInt32LE(last ? 0 : length, offset + koffi.offsetof(FILE_FULL_DIR_INFO_T, 'NextEntryOffset'));
    buffer.writeUInt32LE(0x10, offset + koffi.offsetof(FILE_FULL_DIR_INFO_T, 'FileAttributes'));
    buffer.writeUInt32LE(units.length, offset + koffi.offsetof(FILE_FULL_DIR_INFO_T, 'FileNameLength'));
    units.copy(buffer, offset + nameOffset);
    offset += length;
  });
  return buffer;
}

describe('FILE_FULL_DIR_INFO', () => {
  it('has the offsets files.ts reads', () => {
    assert.deepEqual(FILE_FULL_DIR_INFO, {
      NextEntryOffset: koffi.offsetof(FILE_FULL_DIR_INFO_T, 'NextEntryOffset'),
      FileAttributes: koffi.offsetof(FILE_FULL_DIR_INFO_T, 'FileAttributes'),
      FileNameLength: koffi.offsetof(FILE_FULL_DIR_INFO_T, 'FileNameLength'),
      FileName: koffi.offsetof(FILE_FULL_DIR_INFO_T, 'FileName'),
    });
    assert.equal(FILE_FULL_DIR_INFO.FileName, 68);
  });

  it('walks the chain, leaving out . and ..', () => {
    const image = directoryImage(['.', '..', 'webapp1.json', 'Ω Zürich.json', 'sub dir']);
    assert.deepEqual(parseDirectoryEntries(image), ['webapp1.json', 'Ω Zürich.json', 'sub dir']);
  });

  it('keeps a name with an unpaired surrogate', () => {
    const [name] = parseDirectoryEntries(directoryImage([Uint16Array.of(0x61, 0xdc00, 0x62)]));
    assert.deepEqual([...name].map((c) => c.charCodeAt(0)), [0x61, 0xdc00, 0x62]);
  });

  it('refuses corrupt entries instead of reading past them', () => {
    const backwards = directoryImage(['a.json', 'b.json']);
    backwards.writeUInt32LE(8, 0); // shorter than the entry itself
    assert.throws(() => parseDirectoryEntries(backwards), /points back/);
    const overrun = directoryImage(['a.json']);
    overrun.writeUInt32LE(0x1_0000, FILE_FULL_DIR_INFO.FileNameLength);
    assert.throws(() => parseDirectoryEntries(overrun), /name of 65536 bytes/);
    const odd = directoryImage(['a.json']);
    odd.writeUInt32LE(3, FILE_FULL_DIR_INFO.FileNameLength);
    assert.throws(() => parseDirectoryEntries(odd), /name of 3 bytes/);
    const runaway = directoryImage(['a.json'], 128);
    runaway.writeUInt32LE(80, 0);
    assert.throws(() => parseDirectoryEntries(runaway), /overruns/);
  });
});

describe('GetFileInformationByHandleEx enumeration', () => {
  function fakeDirectory(batches: string[][], finalError = ERROR_NO_MORE_FILES) {
    const classes: number[] = [];
    const calls: FileCalls = {
      ...fakeFinalPath(DRIVE_PATH).fake,
      getFileInformationByHandleEx(handle, infoClass, buffer) {
        assert.equal(handle, 0x1a4n);
        assert.equal(buffer.length, DIRECTORY_BUFFER_BYTES);
        classes.push(infoClass);
        const batch = batches[classes.length - 1];
        if (!batch) return { ok: false, lastError: finalError };
        directoryImage(batch).copy(buffer);
        return { ok: true, lastError: 0 };
      },
    };
    return { calls, classes };
  }

  it('restarts on the first call, continues on the next, and stops at ERROR_NO_MORE_FILES', () => {
    const { calls, classes } = fakeDirectory([['.', '..', 'a.json', 'b.json'], ['c.json']]);
    assert.deepEqual(listDirectoryOfHandle(calls, 0x1a4n), ['a.json', 'b.json', 'c.json']);
    assert.deepEqual(classes, [FileFullDirectoryRestartInfo, FileFullDirectoryInfo, FileFullDirectoryInfo]);
    assert.deepEqual([FileFullDirectoryInfo, FileFullDirectoryRestartInfo], [14, 15]);
  });

  it('lists an empty directory as empty', () => {
    assert.deepEqual(listDirectoryOfHandle(fakeDirectory([]).calls, 0x1a4n), []);
  });

  it('reports other errors with their code', () => {
    assert.throws(() => listDirectoryOfHandle(fakeDirectory([['a']], 5).calls, 0x1a4n), hostFailure(5, /GetFileInformationByHandleEx/));
  });
});

describe('readDirectoryThroughHandle', { skip: !onLinux && 'opens a directory with POSIX semantics' }, () => {
  const scratch = mkdtempSync(join(tmpdir(), 'winshost-windows-files-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  writeFileSync(join(scratch, 'file.json'), '{}');

  it('takes the real path and the names from the handle of the opened directory, then closes it', async () => {
    const descriptors: number[] = [];
    const handles: bigint[] = [];
    const calls: FileCalls = {
      osfHandle: (fd) => (descriptors.push(fd), fstatSync(fd).isDirectory() ? 0x1a4 : -1),
      getFinalPathNameByHandle(handle, buffer) {
        handles.push(handle);
        Buffer.from(`${UNC_PATH}\0`, 'utf16le').copy(buffer);
        return { result: UNC_PATH.length, lastError: 0 };
      },
      getFileInformationByHandleEx(handle, infoClass, buffer) {
        handles.push(handle);
        if (infoClass !== FileFullDirectoryRestartInfo) return { ok: false, lastError: ERROR_NO_MORE_FILES };
        directoryImage(['.', '..', 'x.json']).copy(buffer);
        return { ok: true, lastError: 0 };
      },
    };
    assert.deepEqual(await readDirectoryThroughHandle(scratch, async () => calls), { realPath: UNC_PATH, names: ['x.json'] });
    assert.equal(descriptors.length, 1);
    assert.deepEqual(handles, [0x1a4n, 0x1a4n, 0x1a4n]);
    assert.throws(() => fstatSync(descriptors[0]), { code: 'EBADF' });
  });

  it('fails like Node for a missing path or a file, without loading the native calls', async () => {
    const never = async (): Promise<FileCalls> => assert.fail('native calls needed before the directory was opened');
    await assert.rejects(readDirectoryThroughHandle(join(scratch, 'missing'), never), { code: 'ENOENT' });
    await assert.rejects(readDirectoryThroughHandle(join(scratch, 'file.json'), never), { code: 'ENOTDIR' });
  });
});

describe('windowsPlatform files', () => {
  const native = (calls: FileCalls) => nativeWith({ fileCalls: () => calls }, 'the file tests');

  it('checks paths with win32 syntax and resolves descriptors through the native calls', async () => {
    const { fake, calls } = fakeFinalPath(DRIVE_PATH, (fd) => (fd === 9 ? 0x1a4 : -1));
    const platform = windowsPlatform({ native: native({ ...fake, getFileInformationByHandleEx: () => assert.fail() }) });
    assert.equal(platform.files.syntax, 'win32');
    assert.equal(await platform.files.realPathOfDescriptor(9), DRIVE_PATH);
    assert.deepEqual(calls.map((c) => c.handle), [0x1a4n]);
  });

  it('reports a descriptor without a handle as HostOperationFailed', async () => {
    const { fake } = fakeFinalPath(DRIVE_PATH, () => -1);
    const platform = windowsPlatform({ native: native({ ...fake, getFileInformationByHandleEx: () => assert.fail() }) });
    await assert.rejects(platform.files.realPathOfDescriptor(9), hostFailure(6, /uv_get_osfhandle/));
  });

  it('keeps Node open errors for readDirectory', { skip: !onLinux && 'POSIX paths' }, async () => {
    const { fake } = fakeFinalPath(DRIVE_PATH);
    const platform = windowsPlatform({ native: native({ ...fake, getFileInformationByHandleEx: () => assert.fail() }) });
    await assert.rejects(platform.files.readDirectory('/nonexistent/winshost'), { code: 'ENOENT' });
  });
});
