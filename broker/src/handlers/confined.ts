import { constants, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { HostOperationFailedError, InvalidParamsError, NotFoundError, PolicyDeniedError } from '../errors.js';
import { globToRegExp } from '../policy/decide.js';
import { isWithin, normalizeAbsolutePath, normalizeHostPath, PathRuleError, relativeWithin, type PathSyntax } from '../policy/paths.js';
import type { HostPlatformFiles } from '../platform/types.js';

/** A directory a caller may read under, as declared and as it really is on disk now. */
export interface ConfinementRoot {
  /** The policy's path, normalized: what callers write. */
  declared: string;
  /** Its real path (symlinks resolved): what opened handles are compared with. */
  real: string;
  include?: RegExp;
  /** The policy rule to name in a denial. */
  rule: string;
}

/** A caller's path, checked against the path rules; a violation is the caller's error, naming the field. */
export function callerPath(input: string, syntax: PathSyntax, field = 'path'): string {
  try {
    return normalizeAbsolutePath(input, syntax);
  } catch (error) {
    if (error instanceof PathRuleError) throw new InvalidParamsError(`${field}: ${error.message}`, field, error.reason);
    throw error;
  }
}

/**
 * Resolves policy roots now, not at policy load: a root may be created, or be a symlink that is changed,
 * while the broker runs. Roots that do not exist are left out (nothing under them can be read).
 */
export async function resolveRoots(roots: { path: string; include?: string; rule: string }[], syntax: PathSyntax): Promise<ConfinementRoot[]> {
  const resolved: ConfinementRoot[] = [];
  for (const root of roots) {
    const declared = normalizeHostPath(root.path, syntax);
    let real: string;
    try {
      real = normalizeHostPath(await realpath(declared), syntax);
    } catch {
      continue;
    }
    resolved.push({ declared, real, include: root.include ? globToRegExp(root.include) : undefined, rule: root.rule });
  }
  return resolved;
}

/** The first root the path is under by name, before anything is opened. */
export function lexicalRoot(path: string, roots: ConfinementRoot[], syntax: PathSyntax): ConfinementRoot | undefined {
  return roots.find((root) => isWithin(root.declared, path, syntax) || isWithin(root.real, path, syntax));
}

export interface ConfinedFile {
  handle: FileHandle;
  realPath: string;
  root: ConfinementRoot;
  stats: Stats;
}

// O_NONBLOCK keeps a FIFO planted under a root from hanging the broker in open(); O_NOCTTY keeps a tty from
// becoming the broker's. Neither exists on Windows.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/**
 * Opens a file for reading, then decides on what was opened: the real path of the handle must be under a
 * root (a separator boundary, after every link), match that root's include pattern, and be a regular file.
 * Deciding on the handle, not on the name, leaves no window between check and open.
 */
export async function openConfined(path: string, roots: ConfinementRoot[], files: HostPlatformFiles, deniedRule: string): Promise<ConfinedFile> {
  const syntax = files.syntax;
  if (!lexicalRoot(path, roots, syntax)) throw new PolicyDeniedError(`${path} is not under a directory this profile may read`, deniedRule, 'NotUnderRoot');
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${path} does not exist`, { path });
    if (code === 'EACCES' || code === 'EPERM') throw new HostOperationFailedError(`the broker may not open ${path} (${code})`, { cause: error, reason: 'AccessDenied' });
    if (code === 'ELOOP') throw new PolicyDeniedError(`${path} is a symbolic link loop`, deniedRule, 'LinkLoop');
    throw new HostOperationFailedError(`cannot open ${path} (${code ?? 'unknown error'})`, { cause: error });
  }
  try {
    const realPath = normalizeHostPath(await files.realPathOfDescriptor(handle.fd), syntax);
    const root = roots.find((candidate) => isWithin(candidate.real, realPath, syntax));
    if (!root) throw new PolicyDeniedError(`${path} resolves to a file outside the directories this profile may read`, deniedRule, 'OutsideRoot');
    const stats = await handle.stat();
    if (!stats.isFile()) throw new InvalidParamsError(`path: ${path} is not a regular file`, 'path', 'NotAFile');
    // A hard link has no "real" path to check: the same file may have another name outside every root.
    if (stats.nlink > 1) throw new PolicyDeniedError(`${path} has ${stats.nlink} hard links; a file with other names may live outside the allowed directories`, deniedRule, 'HardLinked');
    if (root.include && !root.include.test(relativeWithin(root.real, realPath, syntax))) {
      throw new PolicyDeniedError(`${path} is under ${root.declared} but not matched by its include pattern`, `${root.rule}.include`, 'NotIncluded');
    }
    return { handle, realPath, root, stats };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
