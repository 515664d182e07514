import { createHash } from 'node:crypto';
import { lstat, realpath, stat } from 'node:fs/promises';
import { posix, win32 } from 'node:path';
import { z } from 'zod';
import { FileDataNotification, FileListRequest, FileReadRequest, type HostFileEntry, type LineEncoding } from '../../../typings/index.js';
import { BrokerError, HostOperationFailedError, InvalidParamsError, NotFoundError, PolicyDeniedError } from '../errors.js';
import { isWithin, normalizeHostPath, relativeWithin } from '../policy/paths.js';
import type { FilesGrant } from '../policy/schema.js';
import { callerPath, lexicalRoot, openConfined, resolveRoots, type ConfinementRoot } from './confined.js';
import { defineHandler, type RequestContext } from './types.js';

const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** A listing larger than this is refused rather than built in memory. */
const MAX_LIST_ENTRIES = 50_000;

function filesGrant(context: RequestContext): FilesGrant {
  // The permission check ran first, so the grant exists; this narrows the type.
  const grant = context.profile.grant.files;
  if (!grant) throw new PolicyDeniedError('this profile may not read host files', `profiles.${context.profile.name}.files`);
  return grant;
}

async function profileRoots(context: RequestContext): Promise<ConfinementRoot[]> {
  const grant = filesGrant(context);
  const rule = `profiles.${context.profile.name}.files.roots`;
  return resolveRoots(grant.roots.map((root, index) => ({ ...root, rule: `${rule}.${index}` })), context.platform.files.syntax);
}

function cancelled(): BrokerError {
  return new BrokerError('RequestCancelled', 'the read was cancelled', { reason: 'Cancelled' });
}

export const fileListHandler = defineHandler(FileListRequest.type, {
  permission: 'files.read',
  params: z.strictObject({ path: z.string().min(1).max(32_767), recurse: z.boolean().optional() }),
  async handle(params, context) {
    const { files } = context.platform;
    const syntax = files.syntax;
    const join = syntax === 'win32' ? win32.join : posix.join;
    const requested = callerPath(params.path, syntax);
    const roots = await profileRoots(context);
    const deniedRule = `profiles.${context.profile.name}.files.roots`;
    if (!lexicalRoot(requested, roots, syntax)) throw new PolicyDeniedError(`${requested} is not under a directory this profile may read`, deniedRule, 'NotUnderRoot');

    const entries: HostFileEntry[] = [];
    const pending = [requested];
    for (let first = true; pending.length > 0; first = false) {
      if (context.token.isCancellationRequested) throw cancelled();
      const directory = pending.shift()!;
      let listing: { realPath: string; names: string[] };
      try {
        listing = await files.readDirectory(directory);
      } catch (error) {
        if (!first) continue;
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new NotFoundError(`${directory} does not exist`, { path: directory });
        if (code === 'ENOTDIR') throw new InvalidParamsError(`path: ${directory} is not a directory`, 'path', 'NotADirectory');
        throw new HostOperationFailedError(`cannot list ${directory} (${code ?? 'unknown error'})`, { cause: error });
      }
      const realDirectory = normalizeHostPath(listing.realPath, syntax);
      const root = roots.find((candidate) => isWithin(candidate.real, realDirectory, syntax));
      if (!root) {
        if (first) throw new PolicyDeniedError(`${directory} resolves to a directory outside those this profile may read`, deniedRule, 'OutsideRoot');
        continue;
      }
      for (const name of listing.names.sort()) {
        const entry = await describeEntry(join(realDirectory, name), join(directory, name), name, root, syntax);
        if (!entry) continue;
        entries.push(entry.info);
        if (entries.length > MAX_LIST_ENTRIES) {
          throw new BrokerError('LimitExceeded', `the listing has more than ${MAX_LIST_ENTRIES} entries; list a smaller directory`, { reason: 'TooManyEntries', limit: MAX_LIST_ENTRIES });
        }
        if (params.recurse && entry.descend) pending.push(join(directory, name));
      }
    }
    return { entries };
  },
});

/**
 * One listed name: links are followed only to what stays under the same root, sockets and devices are not
 * listed, files must match the root's include pattern. Directories are listed so a caller can navigate;
 * linked directories are not descended, which also keeps link cycles out of a recursive listing.
 */
async function describeEntry(realFull: string, callerFull: string, name: string, root: ConfinementRoot, syntax: 'posix' | 'win32') {
  let info;
  let descend = false;
  let target = realFull;
  try {
    info = await lstat(realFull);
    if (info.isSymbolicLink()) {
      target = normalizeHostPath(await realpath(realFull), syntax);
      if (!isWithin(root.real, target, syntax)) return undefined;
      info = await stat(realFull);
    } else {
      descend = info.isDirectory();
    }
  } catch {
    return undefined;
  }
  if (info.isFile()) {
    // Listed only what a read would return: not a hard-linked file, only what the include admits.
    if (info.nlink > 1) return undefined;
    if (root.include && !root.include.test(relativeWithin(root.real, target, syntax))) return undefined;
  } else if (!info.isDirectory()) {
    return undefined;
  }
  const entry: HostFileEntry = {
    Name: name,
    FullName: callerFull,
    Type: info.isDirectory() ? 'Directory' : 'File',
    Length: info.isDirectory() ? 0 : info.size,
    LastWriteTime: info.mtime.toISOString(),
    Root: root.declared,
  };
  return { info: entry, descend };
}

/** The byte that ends a line in the encoding, and its width. */
function newline(encoding: LineEncoding): { byte: number; width: number } {
  return encoding === 'utf16le' ? { byte: 0x0a, width: 2 } : { byte: 0x0a, width: 1 };
}

/**
 * Offset where the last `lines` lines start. A newline that ends the file does not open another line, as
 * with `tail -n`. Reads backwards in chunks, so only the tail of a large file is touched.
 */
async function tailStart(read: (position: number, length: number) => Promise<Buffer>, size: number, lines: number, encoding: LineEncoding): Promise<number> {
  if (lines === 0) return size;
  const { byte, width } = newline(encoding);
  let seen = 0;
  let end = size;
  // The file's final newline closes the last line rather than starting a new one.
  if (size >= width) {
    const last = await read(size - width, width);
    if (last[0] === byte && (width === 1 || last[1] === 0)) end = size - width;
  }
  let position = end;
  while (position > 0) {
    const start = Math.max(0, position - CHUNK_BYTES);
    const alignedStart = width === 2 ? start - (start % 2) : start;
    const chunk = await read(alignedStart, position - alignedStart);
    for (let i = chunk.length - width; i >= 0; i -= width) {
      if (chunk[i] === byte && (width === 1 || chunk[i + 1] === 0)) {
        seen++;
        if (seen === lines) return alignedStart + i + width;
      }
    }
    position = alignedStart;
  }
  return 0;
}

/** Offset just past the `lines`th line (its newline included), or `size` when the file has fewer lines. */
async function headEnd(read: (position: number, length: number) => Promise<Buffer>, size: number, lines: number, encoding: LineEncoding, limit: number): Promise<number> {
  if (lines === 0) return 0;
  const { byte, width } = newline(encoding);
  let seen = 0;
  for (let position = 0; position < size; position += CHUNK_BYTES) {
    if (position > limit) break;
    const chunk = await read(position, Math.min(CHUNK_BYTES, size - position));
    for (let i = 0; i + width <= chunk.length; i += width) {
      if (chunk[i] === byte && (width === 1 || chunk[i + 1] === 0)) {
        seen++;
        if (seen === lines) return position + i + width;
      }
    }
  }
  return size;
}

export const fileReadHandler = defineHandler(FileReadRequest.type, {
  permission: 'files.read',
  params: z
    .strictObject({
      path: z.string().min(1).max(32_767),
      token: z.string().min(1).max(128),
      offset: z.number().int().min(0).optional(),
      length: z.number().int().min(0).optional(),
      tail: z.number().int().min(0).optional(),
      head: z.number().int().min(0).optional(),
      lineEncoding: z.enum(['utf8', 'utf16le']).optional(),
    })
    .refine((p) => !(p.tail !== undefined && (p.head !== undefined || p.offset !== undefined)), { message: 'tail cannot be combined with head or offset', path: ['tail'] }),
  async handle(params, context) {
    const { files } = context.platform;
    const requested = callerPath(params.path, files.syntax);
    const grant = filesGrant(context);
    const limit = grant.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
    const roots = await profileRoots(context);
    const file = await openConfined(requested, roots, files, `profiles.${context.profile.name}.files.roots`);
    try {
      // The size at open is the end of this read: a file that grows meanwhile reads to a consistent length.
      const size = file.stats.size;
      const read = async (position: number, length: number) => {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await file.handle.read(buffer, 0, length, position);
        return buffer.subarray(0, bytesRead);
      };
      const encoding = params.lineEncoding ?? 'utf8';
      let start = Math.min(params.offset ?? 0, size);
      let end = size;
      if (params.tail !== undefined) start = await tailStart(read, size, params.tail, encoding);
      if (params.head !== undefined) end = await headEnd(read, size, params.head, encoding, limit + start);
      if (params.length !== undefined) end = Math.min(end, start + params.length);
      if (end - start > limit) {
        throw new BrokerError('LimitExceeded', `reading ${end - start} bytes exceeds this profile's limit of ${limit} bytes per read; read a range with offset and length, or use tail`, {
          reason: 'ReadTooLarge',
          limit,
          rule: `profiles.${context.profile.name}.files.maxReadBytes`,
        });
      }
      const hash = createHash('sha256');
      let position = start;
      while (position < end) {
        if (context.token.isCancellationRequested) throw cancelled();
        const chunk = await read(position, Math.min(CHUNK_BYTES, end - position));
        if (chunk.length === 0) break; // truncated while we read: what was sent is what the hash covers
        hash.update(chunk);
        context.notify(FileDataNotification.type, { token: params.token, offset: position, data: chunk.toString('base64') });
        position += chunk.length;
        await context.drained();
      }
      return { path: requested, size, offset: start, bytesRead: position - start, sha256: hash.digest('hex') };
    } finally {
      await file.handle.close();
    }
  },
});

export const fileHandlers = [fileListHandler, fileReadHandler];
