/**
 * Path rules for host paths callers send. Pure string work: the same rules run on Linux (`posix`) and on
 * Windows (`win32`), so both are tested everywhere. Rejection is preferred over rewriting: every form that
 * Windows would silently reinterpret (trailing dots, short names, device names, streams) is refused rather
 * than "fixed", because a fixed-up name is a name the policy never saw.
 */

export type PathSyntax = 'posix' | 'win32';

export type PathRuleReason =
  | 'Empty'
  | 'NotAbsolute'
  | 'NotRelative'
  | 'ParentSegment'
  | 'DriveRelative'
  | 'UncPath'
  | 'DevicePath'
  | 'DeviceName'
  | 'AlternateDataStream'
  | 'TrailingDotOrSpace'
  | 'ShortName'
  | 'InvalidCharacter';

export class PathRuleError extends Error {
  readonly reason: PathRuleReason;
  readonly input: string;

  constructor(reason: PathRuleReason, input: string, message: string) {
    super(message);
    this.name = 'PathRuleError';
    this.reason = reason;
    this.input = input;
  }
}

/** Validates and normalizes an absolute host path a caller sent. */
export function normalizeAbsolutePath(input: string, syntax: PathSyntax): string {
  checkCommon(input, syntax);
  if (syntax === 'posix') {
    if (!input.startsWith('/')) fail('NotAbsolute', input, `'${input}' is not an absolute path: it must start with '/'`);
    return joinPosix(segmentsOf(input, syntax));
  }
  const form = win32Form(input);
  switch (form.kind) {
    case 'drive':
      break;
    case 'driveRelative':
      fail('DriveRelative', input, driveRelativeMessage(input));
    case 'rooted':
      fail('NotAbsolute', input, `'${input}' has no drive letter; give the full path, e.g. C:\\...`);
    case 'relative':
      fail('NotAbsolute', input, `'${input}' is not an absolute path; give the full path, e.g. C:\\...`);
    default:
      failForm(form.kind, input);
  }
  const segments = segmentsOf(input.slice(2), syntax);
  checkWin32Segments(segments, input);
  return joinWin32Drive(input[0], segments);
}

/** Validates and normalizes a relative name (a credential spec `file://NAME`). */
export function normalizeRelativePath(input: string, syntax: PathSyntax): string {
  checkCommon(input, syntax);
  let segments: string[];
  if (syntax === 'posix') {
    if (input.startsWith('/')) fail('NotRelative', input, `'${input}' is an absolute path; give a name relative to the directory`);
    segments = segmentsOf(input, syntax);
  } else {
    const form = win32Form(input);
    switch (form.kind) {
      case 'relative':
        break;
      case 'drive':
      case 'rooted':
        fail('NotRelative', input, `'${input}' is an absolute path; give a name relative to the directory`);
      case 'driveRelative':
        fail('DriveRelative', input, driveRelativeMessage(input));
      default:
        failForm(form.kind, input);
    }
    segments = segmentsOf(input, syntax);
    checkWin32Segments(segments, input);
  }
  // `.` or `./` would name the directory itself, which is not a file anyone can ask for.
  if (segments.length === 0) fail('Empty', input, `'${input}' names no file, only the directory itself`);
  return segments.join(separatorOf(syntax));
}

/**
 * True when candidate is root or below it, segment by segment (a separator boundary: /a/root does not
 * contain /a/root2), case-insensitively for win32. Both are normalized already.
 */
export function isWithin(root: string, candidate: string, syntax: PathSyntax): boolean {
  return withinSegments(root, candidate, syntax) !== undefined;
}

/** The same path, segment by segment (case-insensitively for win32). Both are normalized already. */
export function samePath(a: string, b: string, syntax: PathSyntax): boolean {
  return isWithin(a, b, syntax) && isWithin(b, a, syntax);
}

/** candidate relative to root with '/' separators, '' for the root itself; throws if not within. */
export function relativeWithin(root: string, candidate: string, syntax: PathSyntax): string {
  const rest = withinSegments(root, candidate, syntax);
  // Not a PathRuleError: callers check isWithin first, so reaching this is a broker bug, not bad input.
  if (rest === undefined) throw new RangeError(`'${candidate}' is not within '${root}'`);
  return rest.join('/');
}

/**
 * Normalizes a path that came from the OS (a real path of an opened handle, a policy root after realpath)
 * — same output form as normalizeAbsolutePath but trusting the OS for the forms callers may not use; on
 * win32 it turns `\\?\C:\x` into `C:\x` and rejects `\\?\UNC\...` as UncPath.
 */
export function normalizeHostPath(input: string, syntax: PathSyntax): string {
  if (input === '') fail('Empty', input, 'the path is empty');
  // Names the OS hands back may hold characters callers may not send (a Linux name with a newline, a
  // Windows file created through \\?\ with a trailing dot); they are real names, so only NUL is refused.
  if (input.includes('\0')) fail('InvalidCharacter', input, `'${printable(input)}' contains a NUL character`);
  checkNoParent(input, syntax);
  if (syntax === 'posix') {
    if (!input.startsWith('/')) fail('NotAbsolute', input, `'${input}' is not an absolute path: it must start with '/'`);
    return joinPosix(segmentsOf(input, syntax));
  }
  let path = input;
  const unified = input.replace(/\//g, '\\');
  // GetFinalPathNameByHandle and friends answer in the \\?\ form; a drive path under it is an ordinary
  // drive path, anything else (a volume GUID, a share) is not something a policy root can name.
  if (/^\\\\\?\\[A-Za-z]:\\/.test(unified)) path = input.slice(4);
  else if (/^\\\\\?\\UNC(\\|$)/i.test(unified)) failForm('unc', input);
  const form = win32Form(path);
  switch (form.kind) {
    case 'drive':
      break;
    case 'driveRelative':
      fail('DriveRelative', input, driveRelativeMessage(input));
    case 'rooted':
    case 'relative':
      fail('NotAbsolute', input, `'${input}' is not an absolute drive path`);
    default:
      failForm(form.kind, input);
  }
  return joinWin32Drive(path[0], segmentsOf(path.slice(2), syntax));
}

// ---------------------------------------------------------------------------------------------------------

type Win32FormKind = 'drive' | 'driveRelative' | 'rooted' | 'relative' | 'unc' | 'device';

function win32Form(input: string): { kind: Win32FormKind } {
  const s = input.replace(/\//g, '\\');
  // \??\ is the NT object namespace: Win32 passes it through untouched, so it reaches any device.
  if (s.startsWith('\\??\\')) return { kind: 'device' };
  if (s.startsWith('\\\\')) {
    // \\.\ and \\?\ skip Win32 normalization and reach devices and raw volumes.
    if ((s[2] === '.' || s[2] === '?') && (s.length === 3 || s[3] === '\\')) return { kind: 'device' };
    return { kind: 'unc' };
  }
  if (s.startsWith('\\')) return { kind: 'rooted' };
  if (/^[A-Za-z]:/.test(s)) return { kind: s[2] === '\\' ? 'drive' : 'driveRelative' };
  return { kind: 'relative' };
}

function failForm(kind: Win32FormKind, input: string): never {
  if (kind === 'unc') fail('UncPath', input, `'${input}' is on a network share; only local drive paths are allowed`);
  fail('DevicePath', input, `'${input}' uses a device path prefix (\\\\?\\, \\\\.\\ or \\??\\); give a plain drive path`);
}

function driveRelativeMessage(input: string): string {
  // C:foo means "foo in drive C's current directory", which depends on process state nobody can see.
  return `'${input}' is relative to the current directory of drive ${input[0].toUpperCase()}:; put a separator after the colon`;
}

/** Rules that hold for every path in both syntaxes, checked before any other so the reason is stable. */
function checkCommon(input: string, syntax: PathSyntax): void {
  if (typeof input !== 'string' || input === '') fail('Empty', String(input ?? ''), 'the path is empty');
  const control = [...input].find((c) => c.charCodeAt(0) < 0x20);
  if (control !== undefined) {
    const code = control.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase();
    const what = control === '\0' ? 'a NUL character' : `the control character U+${code}`;
    fail('InvalidCharacter', input, `'${printable(input)}' contains ${what}`);
  }
  checkNoParent(input, syntax);
}

/**
 * `..` is refused outright instead of resolved: on a real filesystem `link/..` is the parent of the link's
 * target, not the directory holding the link, so lexical resolution would check one path and open another.
 */
function checkNoParent(input: string, syntax: PathSyntax): void {
  if (rawSegments(input, syntax).includes('..')) {
    fail('ParentSegment', input, `'${printable(input)}' contains a '..' segment; parent references are not allowed`);
  }
}

function rawSegments(input: string, syntax: PathSyntax): string[] {
  return input.split(syntax === 'win32' ? /[\\/]/ : '/');
}

/** Segments without empty ones (repeated or trailing separators) and without `.`. */
function segmentsOf(input: string, syntax: PathSyntax): string[] {
  return rawSegments(input, syntax).filter((segment) => segment !== '' && segment !== '.');
}

function separatorOf(syntax: PathSyntax): string {
  return syntax === 'win32' ? '\\' : '/';
}

function joinPosix(segments: string[]): string {
  return '/' + segments.join('/');
}

function joinWin32Drive(letter: string, segments: string[]): string {
  return `${letter.toUpperCase()}:\\${segments.join('\\')}`;
}

const reservedDeviceNames = new Set([
  'CON', 'PRN', 'AUX', 'NUL', 'CONIN$', 'CONOUT$', 'CLOCK$',
  ...['COM', 'LPT'].flatMap((port) => [...'0123456789\u00B9\u00B2\u00B3'].map((digit) => port + digit)),
]);

function checkWin32Segments(segments: string[], input: string): void {
  for (const segment of segments) {
    const invalid = [...segment].find((c) => '<>"|?*'.includes(c));
    if (invalid !== undefined) {
      fail('InvalidCharacter', input, `segment '${segment}' of '${input}' contains '${invalid}', which Windows does not allow in names`);
    }
    // Only the drive's colon survives to here (it was sliced off); any other names an NTFS stream, so
    // `spec.json:x` or `spec.json::$DATA` would read something other than the file the policy admits.
    if (segment.includes(':')) {
      fail('AlternateDataStream', input, `segment '${segment}' of '${input}' contains ':', which names an alternate data stream`);
    }
    // Windows matches the part before the first dot, trailing spaces stripped: `nul.json` and `CON .txt`
    // open the device, wherever they sit in the path.
    const base = segment.split('.')[0].replace(/ +$/, '').toUpperCase();
    if (reservedDeviceNames.has(base)) {
      fail('DeviceName', input, `segment '${segment}' of '${input}' is the reserved Windows device name ${base}`);
    }
    // Windows strips trailing dots and spaces, so `secret.json.` opens `secret.json`: a name the policy
    // would compare as different from the file actually opened.
    if (/[. ]$/.test(segment)) {
      fail('TrailingDotOrSpace', input, `segment '${segment}' of '${input}' ends with a dot or a space, which Windows strips`);
    }
    if (looksLikeShortName(segment)) {
      fail('ShortName', input, `segment '${segment}' of '${input}' looks like an 8.3 short name; use the full long name`);
    }
  }
}

/**
 * Short names alias a long name (`CREDEN~1.JSO` opens `credentials.json`), so allowing them would let a
 * caller reach a file under a name no allow list or glob was written for. Generated short names are 8.3
 * shaped with `~digits` ending the base, which a long name only matches by looking exactly like one.
 */
function looksLikeShortName(segment: string): boolean {
  const dot = segment.indexOf('.');
  const base = dot === -1 ? segment : segment.slice(0, dot);
  const extension = dot === -1 ? '' : segment.slice(dot + 1);
  return base.length <= 8 && /~[0-9]+$/.test(base) && extension.length <= 3 && !extension.includes('.');
}

/**
 * Root and candidate as segment lists, compared one by one so `/srv/logs` never contains `/srv/logs2`.
 * Returns the candidate's segments below root (original case), undefined when not within.
 */
function withinSegments(root: string, candidate: string, syntax: PathSyntax): string[] | undefined {
  const rootSegments = comparableSegments(root, syntax);
  const candidateSegments = comparableSegments(candidate, syntax);
  if (candidateSegments.length < rootSegments.length) return undefined;
  const fold = syntax === 'win32' ? upcase : (s: string) => s;
  for (let i = 0; i < rootSegments.length; i++) {
    if (fold(rootSegments[i]) !== fold(candidateSegments[i])) return undefined;
  }
  return candidateSegments.slice(rootSegments.length);
}

function comparableSegments(path: string, syntax: PathSyntax): string[] {
  if (syntax === 'posix') return path.split('/').filter((s) => s !== '');
  return path.split('\\').filter((s) => s !== '');
}

/**
 * Case folding the way NTFS compares names: one character to one character. String.toUpperCase alone
 * would turn `ß` into `SS` and make `C:\Straße` contain `C:\STRASSE\x`, two different directories.
 */
function upcase(s: string): string {
  let out = '';
  for (const c of s) {
    const u = c.toUpperCase();
    out += [...u].length === 1 ? u : c;
  }
  return out;
}

function printable(input: string): string {
  return input.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function fail(reason: PathRuleReason, input: string, message: string): never {
  throw new PathRuleError(reason, input, message);
}
