import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import type { Listener } from '../policy/schema.js';
import { writeStateFile } from '../state-file.js';

export class ListenerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenerError';
  }
}

export const isWindows = process.platform === 'win32';

export function defaultListenerPath(name: string): string {
  return isWindows ? `\\\\.\\pipe\\${name}` : `/run/winshost/${name}.sock`;
}

/** The sockets this broker created, by path, so a later run can tell its own stale socket from a stranger's. */
interface SocketRecord {
  dev: number;
  ino: number;
  pid: number;
}

function recordsFile(stateDir: string): string {
  return join(stateDir, 'sockets.json');
}

function readRecords(stateDir: string): Record<string, SocketRecord> {
  try {
    return JSON.parse(readFileSync(recordsFile(stateDir), 'utf8')) as Record<string, SocketRecord>;
  } catch {
    return {};
  }
}

function writeRecords(stateDir: string, records: Record<string, SocketRecord>): void {
  writeStateFile(recordsFile(stateDir), records);
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Makes the path free for our socket. A live socket, a file that is not a socket, or a dead socket this
 * broker did not create are all refused: removing them could take over another program's endpoint.
 */
async function claimSocketPath(path: string, stateDir: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    return;
  }
  if (!stat.isSocket()) throw new ListenerError(`${path} exists and is not a socket; refusing to replace it`);
  if (await isListening(path)) throw new ListenerError(`${path} is in use by a running process (another broker?)`);
  const record = readRecords(stateDir)[path];
  if (!record || record.ino !== stat.ino || record.dev !== stat.dev) {
    throw new ListenerError(`${path} is a stale socket this broker did not create (no record in ${recordsFile(stateDir)}); remove it by hand if it is safe`);
  }
  unlinkSync(path);
}

function resolveAccount(value: number | string | undefined, database: '/etc/passwd' | '/etc/group'): number | undefined {
  if (value === undefined || typeof value === 'number') return value;
  const line = readFileSync(database, 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[0] === value);
  if (!line) throw new ListenerError(`${database === '/etc/passwd' ? 'user' : 'group'} '${value}' does not exist on this host`);
  return Number(line.split(':')[2]);
}

/** Listens on the listener's socket (or pipe), applies its mode and owner and records it as ours. */
export async function openListener(server: Server, listener: Listener, path: string, stateDir: string): Promise<void> {
  if (isWindows) {
    if (existsSync(path)) throw new ListenerError(`pipe ${path} already exists; refusing to start (another broker, or a squatter)`);
  } else {
    await claimSocketPath(path, stateDir);
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(new ListenerError(`cannot listen on ${path}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
  if (isWindows) return;
  chmodSync(path, parseInt(listener.mode ?? '0660', 8));
  const uid = resolveAccount(listener.owner, '/etc/passwd');
  const gid = resolveAccount(listener.group, '/etc/group');
  if (uid !== undefined || gid !== undefined) chownSync(path, uid ?? -1, gid ?? -1);
  const { dev, ino } = lstatSync(path);
  writeRecords(stateDir, { ...readRecords(stateDir), [path]: { dev, ino, pid: process.pid } });
}

/** Removes our socket and its record at shutdown; a path that is no longer our socket is left alone. */
export function releaseListenerPath(path: string, stateDir: string): void {
  if (isWindows) return;
  const records = readRecords(stateDir);
  const record = records[path];
  try {
    const stat = lstatSync(path);
    if (record && stat.ino === record.ino && stat.dev === record.dev) unlinkSync(path);
  } catch {
    // already gone
  }
  delete records[path];
  writeRecords(stateDir, records);
}
