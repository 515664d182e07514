import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PROTOTYPES, pipeSecurityCallsWith, type SecurityFns } from '../../broker/src/platform/windows/native.js';
import {
  applyPipeDacl,
  DACL_SECURITY_INFORMATION,
  ERROR_NONE_MAPPED,
  ERROR_PIPE_BUSY,
  PIPE_CLIENT_RIGHTS,
  pipeSddl,
  PROTECTED_DACL_SECURITY_INFORMATION,
  resolveAccessSids,
  sameDacl,
  SE_FILE_OBJECT,
  type PipeSecurityCalls,
} from '../../broker/src/platform/windows/pipe-security.js';
import { parsePolicy, PolicyError } from '../../broker/src/policy/load.js';
import type { Listener } from '../../broker/src/policy/schema.js';
import { ListenerError, openListener, type WindowsPipeDeps } from '../../broker/src/server/listener.js';
import { BufferMemory } from '../../broker/src/platform/windows/memory.js';
import { signature } from './fixtures/windows/prototypes.js';

const BASE = 'D:P(D;;FA;;;NU)(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;OW)';
const SD = 0x5000n;
const DACL = 0x5014n;
const READ_SD = 0x6000n;

/**
 * A recording PipeSecurityCalls. Windows renders SDDL back as given here (the real rendering is compared the same
 * way: both sides come from ConvertSecurityDescriptorToStringSecurityDescriptorW); `readBack` replaces what the
 * pipe's descriptor renders as, `setStatus` what SetNamedSecurityInfoW returns, one entry per call.
 */
function recordingCalls(options: { accounts?: Record<string, [string, number]>; readBack?: string; setStatus?: number[]; onSet?: () => void } = {}) {
  const calls: unknown[][] = [];
  let asked = '';
  const setStatus = [...(options.setStatus ?? [])];
  const fake: PipeSecurityCalls = {
    lookupAccountName(name) {
      calls.push(['LookupAccountNameW', name]);
      const found = options.accounts?.[name];
      return found ? { sid: found[0], use: found[1], lastError: 0 } : { sid: null, use: 0, lastError: ERROR_NONE_MAPPED };
    },
    stringToSecurityDescriptor(sddl, revision) {
      calls.push(['ConvertStringSecurityDescriptorToSecurityDescriptorW', sddl, revision]);
      asked = sddl;
      return { sd: SD, lastError: 0 };
    },
    getSecurityDescriptorDacl(sd) {
      calls.push(['GetSecurityDescriptorDacl', sd]);
      return { ok: true, present: true, dacl: DACL, lastError: 0 };
    },
    setNamedSecurityInfo(path, objectType, info, dacl) {
      calls.push(['SetNamedSecurityInfoW', path, objectType, info, dacl]);
      options.onSet?.();
      return setStatus.shift() ?? 0;
    },
    getNamedSecurityInfo(path, objectType, info) {
      calls.push(['GetNamedSecurityInfoW', path, objectType, info]);
      return { status: 0, sd: READ_SD };
    },
    securityDescriptorToString(sd, revision, info) {
      calls.push(['ConvertSecurityDescriptorToStringSecurityDescriptorW', sd, revision, info]);
      return { sddl: sd === READ_SD ? (options.readBack ?? asked) : asked, lastError: 0 };
    },
    localFree(memory) {
      calls.push(['LocalFree', memory]);
    },
  };
  return { fake, calls };
}

const PIPE = '\\\\.\\pipe\\winshost';
const noPause = async () => {};

describe('pipe DACL: SDDL from policy', () => {
  it('defaults to SYSTEM, Administrators and the owner, with NETWORK denied first', () => {
    assert.equal(pipeSddl([]), BASE);
  });

  it('gives every other principal read/write without FILE_CREATE_PIPE_INSTANCE', () => {
    assert.equal(PIPE_CLIENT_RIGHTS, (0x120089 | 0x120116) & ~0x4);
    assert.equal(pipeSddl(['S-1-5-93-2-1', 'BU']), `${BASE}(A;;0x12019b;;;S-1-5-93-2-1)(A;;0x12019b;;;BU)`);
  });

  it('keeps SYSTEM and Administrators at full access whichever way they are named, once each', () => {
    assert.equal(pipeSddl(['SY', 'BA', 'S-1-5-18', 'S-1-5-32-544', 'S-1-5-93-2-2', 'S-1-5-93-2-2']), `${BASE}(A;;0x12019b;;;S-1-5-93-2-2)`);
  });

  it('resolves account names through LookupAccountNameW and passes SIDs and aliases through', () => {
    const { fake, calls } = recordingCalls({ accounts: { 'NT AUTHORITY\\LOCAL SERVICE': ['S-1-5-19', 5], 'HOST\\winshost-users': ['S-1-5-21-1-2-3-1001', 4] } });
    const sids = resolveAccessSids(fake, ['BA', 's-1-5-93-2-1', 'NT AUTHORITY\\LOCAL SERVICE', 'HOST\\winshost-users']);
    assert.deepEqual(sids, ['BA', 'S-1-5-93-2-1', 'S-1-5-19', 'S-1-5-21-1-2-3-1001']);
    assert.deepEqual(calls, [
      ['LookupAccountNameW', 'NT AUTHORITY\\LOCAL SERVICE'],
      ['LookupAccountNameW', 'HOST\\winshost-users'],
    ]);
    assert.equal(pipeSddl(sids), `${BASE}(A;;0x12019b;;;S-1-5-93-2-1)(A;;0x12019b;;;S-1-5-19)(A;;0x12019b;;;S-1-5-21-1-2-3-1001)`);
  });

  it('refuses an unknown account and a name that is a domain, naming the entry', () => {
    const { fake } = recordingCalls({ accounts: { CONTOSO: ['S-1-5-21-9-9-9', 3] } });
    assert.throws(() => resolveAccessSids(fake, ['HOST\\nobody']), /access entry 'HOST\\nobody': no such account/);
    assert.throws(() => resolveAccessSids(fake, ['CONTOSO']), /access entry 'CONTOSO' names a domain, not a user or group/);
  });

  it('is validated by the policy schema at the entry', () => {
    const policy = (access: string) => `listeners:\n  - name: w\n    access: [${access}]\n    profiles: [p]\nprofiles:\n  p: { host: { read: true } }\n`;
    assert.deepEqual(parsePolicy(policy("BA, 'S-1-5-93-2-1', 'NT AUTHORITY\\LOCAL SERVICE'"), 'p.yaml').listeners[0].access, ['BA', 'S-1-5-93-2-1', 'NT AUTHORITY\\LOCAL SERVICE']);
    assert.throws(() => parsePolicy(policy("'S-1-5-x'"), 'p.yaml'), (error: unknown) => error instanceof PolicyError && /p\.yaml:3:\d+: listeners\.0\.access\.0: 'S-1-5-x' is not a SID string/.test(error.message));
    assert.throws(() => parsePolicy(policy('XY'), 'p.yaml'), /listeners\.0\.access\.0: 'XY' is not an SDDL alias this broker accepts/);
    assert.throws(() => parsePolicy(policy("'HOST\\a;b'"), 'p.yaml'), /listeners\.0\.access\.0: 'HOST\\a;b' is not an account name/);
  });

  it('compares DACLs by flags and ACEs, and only protected ones', () => {
    assert.ok(sameDacl(`${BASE}(A;;0x12019b;;;BU)`, `${BASE}(A;;0x12019B;;;BU)`));
    assert.ok(!sameDacl(BASE, 'D:(D;;FA;;;NU)(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;OW)'));
    assert.ok(!sameDacl(BASE, `${BASE}(A;;FA;;;WD)`));
    assert.ok(!sameDacl('D:(A;;FA;;;SY)', 'D:(A;;FA;;;SY)'), 'an unprotected DACL never passes');
  });
});

describe('pipe DACL: native calls', () => {
  it('makes the descriptor, sets the DACL by name (protected), reads it back and frees everything, in order', async () => {
    const { fake, calls } = recordingCalls();
    const sddl = pipeSddl(['S-1-5-93-2-1']);
    const applied = await applyPipeDacl(fake, PIPE, sddl, noPause);
    assert.deepEqual(applied, { expected: sddl, actual: sddl });
    assert.equal(SE_FILE_OBJECT, 1);
    assert.equal((DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION) >>> 0, 0x80000004);
    assert.deepEqual(calls, [
      ['ConvertStringSecurityDescriptorToSecurityDescriptorW', sddl, 1],
      ['GetSecurityDescriptorDacl', SD],
      ['ConvertSecurityDescriptorToStringSecurityDescriptorW', SD, 1, 4],
      ['SetNamedSecurityInfoW', PIPE, 1, 0x80000004, DACL],
      ['LocalFree', SD],
      ['GetNamedSecurityInfoW', PIPE, 1, 4],
      ['ConvertSecurityDescriptorToStringSecurityDescriptorW', READ_SD, 1, 4],
      ['LocalFree', READ_SD],
    ]);
  });

  it('refuses when the DACL read back differs, and still frees both descriptors', async () => {
    const { fake, calls } = recordingCalls({ readBack: `${BASE}(A;;FA;;;WD)` });
    await assert.rejects(applyPipeDacl(fake, PIPE, BASE, noPause), /the DACL read back from .* is D:P.*\(A;;FA;;;WD\), not the D:P.* that was set; refusing to serve on it/);
    assert.deepEqual(calls.filter((call) => call[0] === 'LocalFree'), [['LocalFree', SD], ['LocalFree', READ_SD]]);
  });

  it('refuses when SetNamedSecurityInfoW fails, and retries it while every pipe instance is busy', async () => {
    const denied = recordingCalls({ setStatus: [5] });
    await assert.rejects(applyPipeDacl(denied.fake, PIPE, BASE, noPause), /SetNamedSecurityInfoW on \\\\\.\\pipe\\winshost: SetNamedSecurityInfoW failed with Win32 error 5/);
    assert.deepEqual(denied.calls.at(-1), ['LocalFree', SD]);
    assert.ok(!denied.calls.some((call) => call[0] === 'GetNamedSecurityInfoW'));

    let pauses = 0;
    const busy = recordingCalls({ setStatus: [ERROR_PIPE_BUSY, ERROR_PIPE_BUSY, 0] });
    await applyPipeDacl(busy.fake, PIPE, BASE, async () => void pauses++);
    assert.equal(pauses, 2);
    assert.equal(busy.calls.filter((call) => call[0] === 'SetNamedSecurityInfoW').length, 3);
  });

  it('the glue passes NULLs where the SDK allows them and frees every string Windows allocates', () => {
    const log: unknown[][] = [];
    const strings = Buffer.alloc(64);
    strings.write('S-1-5-19\0', 0, 'utf16le');
    strings.write('D:P(A;;FA;;;SY)\0', 20, 'utf16le');
    const base = 0x9000n;
    const fns: SecurityFns = {
      LookupAccountNameW: (system, name, sid, sidBytes, domain, domainChars, use) => (log.push(['LookupAccountNameW', system, name, sid.length, sidBytes[0], domain.length, domainChars[0]]), (use[0] = 5), 1),
      ConvertSidToStringSidW: (_sid, out) => ((out[0] = base), 1),
      ConvertStringSecurityDescriptorToSecurityDescriptorW: (sddl, revision, out, size) => (log.push(['CSSD', sddl, revision, size]), (out[0] = SD), 1),
      GetSecurityDescriptorDacl: (sd, present, dacl) => ((present[0] = 1), (dacl[0] = DACL), log.push(['GSDD', sd]), 1),
      SetNamedSecurityInfoW: (...args) => (log.push(['SetNamedSecurityInfoW', ...args]), 0),
      GetNamedSecurityInfoW: (path, type, info, owner, group, _dacl, sacl, sd) => (log.push(['GetNamedSecurityInfoW', path, type, info, owner, group, sacl]), (sd[0] = READ_SD), 0),
      ConvertSecurityDescriptorToStringSecurityDescriptorW: (sd, revision, info, out, length) => (log.push(['CSDS', sd, revision, info, length]), (out[0] = base + 20n), 1),
      LocalFree: (memory) => (log.push(['LocalFree', memory]), null),
      GetLastError: () => 0,
    };
    const calls = pipeSecurityCallsWith(fns, new BufferMemory(strings, base));
    assert.deepEqual(calls.lookupAccountName('NT AUTHORITY\\LOCAL SERVICE'), { sid: 'S-1-5-19', use: 5, lastError: 0 });
    assert.deepEqual(calls.securityDescriptorToString(READ_SD, 1, 4), { sddl: 'D:P(A;;FA;;;SY)', lastError: 0 });
    assert.equal(calls.setNamedSecurityInfo(PIPE, 1, 0x80000004, DACL), 0);
    assert.deepEqual(calls.getNamedSecurityInfo(PIPE, 1, 4), { status: 0, sd: READ_SD });
    assert.deepEqual(log, [
      ['LookupAccountNameW', null, 'NT AUTHORITY\\LOCAL SERVICE', 68, 68, 512, 256],
      ['LocalFree', base],
      ['CSDS', READ_SD, 1, 4, null],
      ['LocalFree', base + 20n],
      ['SetNamedSecurityInfoW', PIPE, 1, 0x80000004, null, null, DACL, null],
      ['GetNamedSecurityInfoW', PIPE, 1, 4, null, null, null],
    ]);
  });

  it('declares the prototypes with the SDK types', () => {
    assert.deepEqual(signature(PROTOTYPES.SetNamedSecurityInfoW), {
      name: 'SetNamedSecurityInfoW',
      result: 'uint32_t',
      args: [
        ['char16_t *', 'String16', 8, 'Input'],
        ['int32_t', 'Int32', 4, 'Input'],
        ['uint32_t', 'UInt32', 4, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
        ['void *', 'Pointer', 8, 'Input'],
      ],
    });
    assert.deepEqual(signature(PROTOTYPES.GetNamedSecurityInfoW).args.map((arg) => arg[3]), ['Input', 'Input', 'Input', 'Input', 'Input', 'Output', 'Input', 'Output']);
    assert.deepEqual(signature(PROTOTYPES.LookupAccountNameW).args.map((arg) => arg[3]), ['Input', 'Input', 'Input', 'Input/Output', 'Input', 'Input/Output', 'Output']);
    assert.deepEqual(signature(PROTOTYPES.ConvertStringSecurityDescriptorToSecurityDescriptorW).args.map((arg) => arg[0]), ['char16_t *', 'uint32_t', 'void **', 'uint32_t *']);
    assert.deepEqual(signature(PROTOTYPES.ConvertSecurityDescriptorToStringSecurityDescriptorW).args.map((arg) => arg[0]), ['void *', 'uint32_t', 'uint32_t', 'void **', 'uint32_t *']);
    assert.deepEqual(signature(PROTOTYPES.GetSecurityDescriptorDacl).args.map((arg) => arg[3]), ['Input', 'Output', 'Output', 'Output']);
    assert.equal(signature(PROTOTYPES.ConvertSidToStringSidW).result, 'int32_t');
    assert.equal(signature(PROTOTYPES.LocalFree).result, 'void *');
  });
});

/** The Windows listener path, run over a Unix socket standing in for the pipe. */
describe('pipe DACL: the listener (squatting, the gate)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'winshost-pipe-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const listener = (access?: string[]): Listener => ({ name: 'winshost', profiles: ['default'], ...(access ? { access } : {}) });
  const deps = (fake: PipeSecurityCalls, more: Partial<WindowsPipeDeps> = {}): Partial<WindowsPipeDeps> => ({
    exists: () => false,
    security: async () => fake,
    pause: noPause,
    sentinelTimeoutMs: 60_000,
    ...more,
  });
  const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
  /** A client that records whether it got any byte and when it was closed. */
  const client = (path: string, write?: string) => {
    const socket = connect(path);
    const seen = { data: 0, closed: new Promise<void>((resolve) => socket.once('close', () => resolve())) };
    socket.on('data', (chunk) => (seen.data += chunk.length));
    socket.on('error', () => {});
    if (write) socket.write(write);
    return { socket, seen };
  };

  it('refuses a pipe name that already exists, before listening or calling Windows (row 19)', async () => {
    const { fake, calls } = recordingCalls();
    const server = createServer();
    await assert.rejects(
      openListener(server, listener(), PIPE, dir, { platform: 'win32', pipe: deps(fake, { exists: (path) => path === PIPE }) }),
      (error: unknown) => error instanceof ListenerError && /pipe \\\\\.\\pipe\\winshost already exists; refusing to start \(another broker, or a squatter\)/.test(error.message),
    );
    assert.equal(server.listening, false);
    assert.deepEqual(calls, []);
  });

  it('refuses a name taken between the check and listen (the first instance fails), and touches no DACL', async () => {
    const path = join(dir, `squat-${n++}.sock`);
    const squatter = createServer().listen(path);
    await new Promise((resolve) => squatter.once('listening', resolve));
    const { fake, calls } = recordingCalls();
    const server = createServer();
    await assert.rejects(openListener(server, listener(), path, dir, { platform: 'win32', pipe: deps(fake) }), /already exists; refusing to start/);
    assert.ok(!calls.some((call) => call[0] === 'SetNamedSecurityInfoW'));
    await close(squatter);
  });

  it('refuses to start when an access entry names no account, before the pipe exists', async () => {
    const { fake } = recordingCalls();
    const server = createServer();
    await assert.rejects(openListener(server, listener(['HOST\\nobody']), join(dir, 'x.sock'), dir, { platform: 'win32', pipe: deps(fake) }), /listener winshost: access entry 'HOST\\nobody': no such account/);
    assert.equal(server.listening, false);
  });

  it('closes the pipe and refuses to start when the DACL read back differs', async () => {
    const path = join(dir, `mismatch-${n++}.sock`);
    const { fake } = recordingCalls({ readBack: 'D:(A;;GA;;;WD)' });
    const server = createServer();
    await assert.rejects(openListener(server, listener(), path, dir, { platform: 'win32', pipe: deps(fake) }), /listener winshost: the DACL read back .* refusing to serve on it/);
    assert.equal(server.listening, false);
  });

  it('drops every connection made before the DACL is in place, and hands later ones to the handler', async () => {
    const path = join(dir, `gate-${n++}.sock`);
    const handled: Socket[] = [];
    const server = createServer((socket) => {
      handled.push(socket);
      socket.end('hello');
    });
    const early: ReturnType<typeof client>[] = [];
    // SetNamedSecurityInfoW opens the pipe by name, as a client; a squatter may race in under the default DACL.
    const { fake } = recordingCalls({ onSet: () => early.push(client(path), client(path, 'Content-Length: 2\r\n\r\n{}')) });
    await openListener(server, listener(['S-1-5-93-2-1']), path, dir, { platform: 'win32', pipe: deps(fake) });
    const late = client(path);
    await late.seen.closed;
    for (const { seen } of early) {
      await seen.closed;
      assert.equal(seen.data, 0, 'a connection made before the DACL got no byte');
    }
    assert.equal(late.seen.data, 5);
    assert.equal(handled.length, 1, 'only the connection after the DACL reached the handler');
    await close(server);
  });
});
