import { closeSync, fstatSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { pidfdStillNames } from '../platform/linux/pidfd.js';

/** What the kernel says about the process at the other end of a connection. */
export interface PeerIdentity {
  pid?: number;
  uid?: number;
  gid?: number;
  /** The peer's network namespace as `net:[inode]`, pinned at accept time. */
  netns?: string;
  /** The name under /run/netns that refers to the same namespace, if any. */
  netnsName?: string;
  /** Lines of /proc/<pid>/cgroup, read at accept time. */
  cgroups?: string[];
  /** An open fd of the peer's network namespace: actions in the caller's namespace go through it. */
  netnsFd?: number;
}

export class PeerIdentityError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeerIdentityError';
  }
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SO_PEERPIDFD = 77;
const ENOPROTOOPT = 92;
export const NETNS_DIR = '/run/netns';

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;
let getsockopt: GetSockOpt | undefined;
let errnoOf: () => number = () => 0;

async function socketOptions(): Promise<GetSockOpt> {
  if (!getsockopt) {
    const { default: koffi } = await import('koffi');
    const libc = koffi.load('libc.so.6');
    getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *length)') as GetSockOpt;
    errnoOf = () => koffi.errno();
  }
  return getsockopt;
}

/** The OS file descriptor behind an accepted Unix socket (libuv keeps it on the handle). */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new PeerIdentityError('the connection has no file descriptor');
  return fd;
}

/**
 * Identifies a Linux peer: SO_PEERCRED for pid/uid/gid, then the peer's network namespace opened at once.
 * A pid can be reused once its process is gone, so the namespace is opened first and the process is then
 * checked to be still the same one through a pidfd (SO_PEERPIDFD); without that check a caller that exits
 * right after connecting could have its calls run in whatever namespace a new process with its pid is in.
 */
export async function identifyLinuxPeer(socket: Socket): Promise<PeerIdentity> {
  // The descriptor is taken after the await: the first call loads koffi, and meanwhile a peer that hung up
  // can have its socket closed and the number handed to another connection.
  const call = await socketOptions();
  const fd = socketFd(socket);
  const cred = Buffer.alloc(12);
  if (call(fd, SOL_SOCKET, SO_PEERCRED, cred, [cred.length]) !== 0) {
    throw new PeerIdentityError(`getsockopt(SO_PEERCRED) failed with errno ${errnoOf()}`);
  }
  const pid = cred.readInt32LE(0);
  const uid = cred.readUInt32LE(4);
  const gid = cred.readUInt32LE(8);
  const pidfdBuffer = Buffer.alloc(4);
  let pidfd = -1;
  if (call(fd, SOL_SOCKET, SO_PEERPIDFD, pidfdBuffer, [4]) === 0) {
    pidfd = pidfdBuffer.readInt32LE(0);
  } else {
    // Only a kernel without SO_PEERPIDFD (before 6.5) goes on unchecked. Kernels 6.5 to 6.15 refuse a
    // pidfd for a peer that is already reaped (EINVAL): its pid may belong to another process by now.
    const errno = errnoOf();
    if (errno !== ENOPROTOOPT) throw new PeerIdentityError(`peer process ${pid} exited before its namespace could be pinned (SO_PEERPIDFD: errno ${errno})`);
  }
  let netnsFd: number | undefined;
  try {
    netnsFd = openSync(`/proc/${pid}/ns/net`, 'r');
    const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean);
    if (pidfd >= 0 && !pidfdStillNames(pidfd, pid)) {
      throw new PeerIdentityError(`peer process ${pid} exited before its namespace could be pinned`);
    }
    const { ino } = fstatSync(netnsFd);
    const netns = `net:[${ino}]`;
    return { pid, uid, gid, netns, netnsName: namespaceName(netnsFd), cgroups, netnsFd };
  } catch (error) {
    if (netnsFd !== undefined) closeSync(netnsFd);
    if (error instanceof PeerIdentityError) throw error;
    throw new PeerIdentityError(`cannot pin the network namespace of peer process ${pid}`, { cause: error });
  } finally {
    if (pidfd >= 0) closeSync(pidfd);
  }
}

/** The `ip netns` name of a namespace, found by comparing device and inode with /run/netns entries. */
export function namespaceName(netnsFd: number, dir = NETNS_DIR): string | undefined {
  const target = fstatSync(netnsFd);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      const candidate = statSync(join(dir, name));
      if (candidate.ino === target.ino && candidate.dev === target.dev) return name;
    } catch {
      // a namespace being deleted while we look is simply not a match
    }
  }
  return undefined;
}

export function releasePeer(peer: PeerIdentity): void {
  if (peer.netnsFd !== undefined) {
    closeSync(peer.netnsFd);
    peer.netnsFd = undefined;
  }
}
