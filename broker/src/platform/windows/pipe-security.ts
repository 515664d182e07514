import { Win32Error } from './win32.js';

/**
 * The DACL of a listener's named pipe, built from `listeners[].access`, and the native steps that put it on the
 * pipe and read it back. Pure apart from the calls in PipeSecurityCalls, so the exact sequence is checked on
 * Linux against a recording fake.
 */

/** winnt.h: FILE_GENERIC_READ (0x120089) | FILE_GENERIC_WRITE (0x120116) without FILE_CREATE_PIPE_INSTANCE (0x4). */
export const PIPE_CLIENT_RIGHTS = 0x12019b;
/** FILE_CREATE_PIPE_INSTANCE has the value of FILE_APPEND_DATA, so FILE_GENERIC_WRITE would grant it. */
export const FILE_CREATE_PIPE_INSTANCE = 0x4;

/** accctrl.h SE_OBJECT_TYPE: a pipe named `\\.\pipe\x` is a file object (SE_KERNEL_OBJECT by name is only for events, mutexes, semaphores, timers, sections). */
export const SE_FILE_OBJECT = 1;
/** winnt.h SECURITY_INFORMATION bits. */
export const DACL_SECURITY_INFORMATION = 0x4;
export const PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000;
/** sddl.h */
export const SDDL_REVISION_1 = 1;
/** winerror.h */
export const ERROR_PIPE_BUSY = 231;
export const ERROR_NONE_MAPPED = 1332;

/** winnt.h SID_NAME_USE, for messages. */
const SID_TYPE_NAMES: Record<number, string> = {
  1: 'user',
  2: 'group',
  3: 'domain',
  4: 'alias (local group)',
  5: 'well-known group',
  6: 'deleted account',
  7: 'invalid SID',
  8: 'unknown SID',
  9: 'computer',
  10: 'mandatory label',
};
/** The kinds an access entry may resolve to: users, groups and computers, never a domain or a label. */
const GRANTABLE_SID_TYPES = new Set([1, 2, 4, 5, 9]);

/**
 * SDDL SID strings for well-known principals (sddl.h), the ones meaningful on a stand-alone or member server.
 * Domain-relative aliases (DA, DU, ...) are left out: name the group instead, which is resolved explicitly.
 */
export const SDDL_ALIASES: Record<string, string> = {
  AN: 'ANONYMOUS LOGON',
  AU: 'Authenticated Users',
  BA: 'BUILTIN\\Administrators',
  BG: 'BUILTIN\\Guests',
  BO: 'BUILTIN\\Backup Operators',
  BU: 'BUILTIN\\Users',
  IU: 'INTERACTIVE',
  LA: 'the local Administrator account',
  LG: 'the local Guest account',
  LS: 'LOCAL SERVICE',
  NS: 'NETWORK SERVICE',
  NU: 'NETWORK',
  PU: 'BUILTIN\\Power Users',
  RD: 'BUILTIN\\Remote Desktop Users',
  SU: 'SERVICE',
  SY: 'NT AUTHORITY\\SYSTEM',
  WD: 'Everyone',
};

/** Principals that always have full access: the broker runs as one of them and libuv needs FILE_CREATE_PIPE_INSTANCE. */
const ALWAYS_FULL = new Set(['SY', 'BA', 'S-1-5-18', 'S-1-5-32-544']);

export const SID_PATTERN = /^S-1-\d{1,15}(-\d{1,10}){1,15}$/;

export type AccessPrincipal = { kind: 'alias'; value: string } | { kind: 'sid'; value: string } | { kind: 'name'; value: string };

/** How an `access` entry is read: an SDDL alias (two capitals from SDDL_ALIASES), a SID string, or an account name. */
export function classifyPrincipal(entry: string): AccessPrincipal {
  if (Object.hasOwn(SDDL_ALIASES, entry)) return { kind: 'alias', value: entry };
  if (/^S-1-/i.test(entry)) return { kind: 'sid', value: entry.toUpperCase() };
  return { kind: 'name', value: entry };
}

/** Why an `access` entry cannot be used, or null; the schema reports it at the entry. */
export function accessEntryProblem(entry: string): string | null {
  if (entry !== entry.trim()) return 'must not start or end with a space';
  const principal = classifyPrincipal(entry);
  if (principal.kind === 'sid') return SID_PATTERN.test(principal.value) ? null : `'${entry}' is not a SID string such as S-1-5-93-2-1`;
  if (principal.kind === 'name') {
    if (/^[A-Z]{2}$/.test(entry)) return `'${entry}' is not an SDDL alias this broker accepts (${Object.keys(SDDL_ALIASES).join(', ')}); give a SID or an account name`;
    if (entry.length > 256 || /[\0-\x1f"/[\]:|<>+=;,?*]/.test(entry.replace(/^[^\\]*\\/, ''))) return `'${entry}' is not an account name (DOMAIN\\name or name)`;
  }
  return null;
}

/**
 * The pipe's SDDL. `P`: protected, so nothing is inherited; no inheritance flags on the ACEs (a pipe has no
 * children). First a deny for NETWORK, since libuv does not create the pipe with PIPE_REJECT_REMOTE_CLIENTS and a
 * pipe is otherwise reachable over SMB (\\host\pipe\name) by whoever the DACL admits. Then FILE_ALL_ACCESS (`FA`,
 * written specific rather than GA so the read-back has the same text) for SYSTEM, Administrators and the pipe's
 * owner (OWNER RIGHTS: the broker's own account, which must keep FILE_CREATE_PIPE_INSTANCE for libuv to make
 * further instances even when it is neither), and read/write without FILE_CREATE_PIPE_INSTANCE for every other
 * principal, so none of them can create a rogue instance of the broker's pipe.
 */
export function pipeSddl(clientSids: string[]): string {
  const aces = ['(D;;FA;;;NU)', '(A;;FA;;;SY)', '(A;;FA;;;BA)', '(A;;FA;;;OW)'];
  const seen = new Set<string>();
  for (const sid of clientSids) {
    if (ALWAYS_FULL.has(sid) || seen.has(sid)) continue;
    if (!Object.hasOwn(SDDL_ALIASES, sid) && !SID_PATTERN.test(sid)) throw new Error(`not a SID or SDDL alias: ${sid}`);
    seen.add(sid);
    aces.push(`(A;;0x${PIPE_CLIENT_RIGHTS.toString(16)};;;${sid})`);
  }
  return `D:P${aces.join('')}`;
}

/**
 * A DACL's SDDL as its control flags and its ACEs in order. Windows may print a SID as an alias or an alias as a
 * SID, so both texts compared are Windows' own rendering (see applyPipeDacl); the order of allow ACEs carries no
 * meaning, but the deny ACE must stay first, so the order is compared too.
 */
export function parseDaclSddl(sddl: string): { flags: string; aces: string[] } | null {
  const match = /^D:([A-Z]*)((?:\([^()]*\))*)$/.exec(sddl.trim());
  if (!match) return null;
  return { flags: match[1], aces: match[2] === '' ? [] : match[2].slice(1, -1).split(')(').map((ace) => ace.toUpperCase()) };
}

export function sameDacl(expected: string, actual: string): boolean {
  const a = parseDaclSddl(expected);
  const b = parseDaclSddl(actual);
  return a !== null && b !== null && a.flags === b.flags && a.flags.includes('P') && a.aces.join() === b.aces.join();
}

/**
 * The advapi32/kernel32 calls, one method each, arguments as Windows takes them. Outputs that Windows allocates
 * (a security descriptor, a string) come back as addresses and are given back to localFree.
 */
export interface PipeSecurityCalls {
  /** LookupAccountNameW(NULL, name, sid, &cbSid, domain, &cchDomain, &use), then ConvertSidToStringSidW and LocalFree of its string. */
  lookupAccountName(name: string): { sid: string | null; use: number; lastError: number };
  /** ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, revision, &sd, NULL) */
  stringToSecurityDescriptor(sddl: string, revision: number): { sd: bigint; lastError: number };
  /** GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) */
  getSecurityDescriptorDacl(sd: bigint): { ok: boolean; present: boolean; dacl: bigint; lastError: number };
  /** SetNamedSecurityInfoW(path, objectType, info, NULL, NULL, dacl, NULL): a Win32 error code. */
  setNamedSecurityInfo(path: string, objectType: number, info: number, dacl: bigint): number;
  /** GetNamedSecurityInfoW(path, objectType, info, NULL, NULL, &dacl, NULL, &sd): a Win32 error code and the descriptor. */
  getNamedSecurityInfo(path: string, objectType: number, info: number): { status: number; sd: bigint };
  /** ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, revision, info, &string, NULL), the string read and LocalFree'd. */
  securityDescriptorToString(sd: bigint, revision: number, info: number): { sddl: string | null; lastError: number };
  /** LocalFree(memory) */
  localFree(memory: bigint): void;
}

export class PipeSecurityError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipeSecurityError';
  }
}

/** Each entry as a SID string or alias: names through LookupAccountNameW, refused when unknown or not an account. */
export function resolveAccessSids(calls: PipeSecurityCalls, entries: readonly string[]): string[] {
  return entries.map((entry) => {
    const principal = classifyPrincipal(entry);
    if (principal.kind !== 'name') return principal.value;
    const { sid, use, lastError } = calls.lookupAccountName(principal.value);
    if (sid === null) {
      const why = lastError === ERROR_NONE_MAPPED ? 'no such account on this host or its domain' : new Win32Error('LookupAccountNameW', lastError).message;
      throw new PipeSecurityError(`access entry '${entry}': ${why}`);
    }
    if (!GRANTABLE_SID_TYPES.has(use)) throw new PipeSecurityError(`access entry '${entry}' names a ${SID_TYPE_NAMES[use] ?? `SID of type ${use}`}, not a user or group`);
    return sid;
  });
}

/** Waits for the event loop between retries; tests pass one that resolves at once. */
export type Pause = () => Promise<void>;

/** What applyPipeDacl found: Windows' rendering of the DACL it asked for and of the DACL read back. */
export interface AppliedDacl {
  expected: string;
  actual: string;
}

/**
 * Sets the DACL of the pipe by name and reads it back. Each by-name call opens a client end of one of the
 * pipe's listening instances (a pipe has no other way to be opened by name): the caller must drop those
 * connections. With every instance taken (a flood of connections) the open fails with ERROR_PIPE_BUSY; the
 * event loop then gets to accept (and drop) them, and the call is retried.
 */
export async function applyPipeDacl(calls: PipeSecurityCalls, path: string, sddl: string, pause: Pause, attempts = 50): Promise<AppliedDacl> {
  const made = calls.stringToSecurityDescriptor(sddl, SDDL_REVISION_1);
  if (made.sd === 0n) throw new PipeSecurityError(`the pipe DACL ${sddl} is not valid SDDL: ${new Win32Error('ConvertStringSecurityDescriptorToSecurityDescriptorW', made.lastError).message}`);
  let expected: string;
  try {
    const dacl = calls.getSecurityDescriptorDacl(made.sd);
    if (!dacl.ok || !dacl.present || dacl.dacl === 0n) throw new PipeSecurityError(`the pipe DACL ${sddl} has no DACL (GetSecurityDescriptorDacl, error ${dacl.lastError})`);
    // Windows' own rendering of what was asked for, so the comparison below is text against text of one printer.
    expected = renderDacl(calls, made.sd);
    // `>>> 0`: JS bitwise OR is signed, and the SECURITY_INFORMATION argument is a DWORD.
    const info = (DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION) >>> 0;
    await retryBusy(pause, attempts, () => calls.setNamedSecurityInfo(path, SE_FILE_OBJECT, info, dacl.dacl), 'SetNamedSecurityInfoW', path);
  } finally {
    calls.localFree(made.sd);
  }
  let readBack = { status: 0, sd: 0n };
  await retryBusy(pause, attempts, () => (readBack = calls.getNamedSecurityInfo(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION)).status, 'GetNamedSecurityInfoW', path);
  if (readBack.sd === 0n) throw new PipeSecurityError(`GetNamedSecurityInfoW on ${path} returned no security descriptor`);
  let actual: string;
  try {
    actual = renderDacl(calls, readBack.sd);
  } finally {
    calls.localFree(readBack.sd);
  }
  if (!sameDacl(expected, actual)) {
    throw new PipeSecurityError(`the DACL read back from ${path} is ${actual}, not the ${expected} that was set; refusing to serve on it`);
  }
  return { expected, actual };
}

function renderDacl(calls: PipeSecurityCalls, sd: bigint): string {
  const { sddl, lastError } = calls.securityDescriptorToString(sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION);
  if (sddl === null) throw new PipeSecurityError(new Win32Error('ConvertSecurityDescriptorToStringSecurityDescriptorW', lastError).message);
  return sddl;
}

async function retryBusy(pause: Pause, attempts: number, call: () => number, api: string, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const status = call();
    if (status === 0) return;
    if (status !== ERROR_PIPE_BUSY || attempt >= attempts) {
      throw new PipeSecurityError(`${api} on ${path}: ${new Win32Error(api, status).message}`);
    }
    await pause();
  }
}
