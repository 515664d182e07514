/**
 * pidfds: a descriptor that names one process, where a pid number names whichever process the kernel last
 * gave it to. Taken before something is opened by pid (`/proc/<pid>/ns/*`) and checked after, a pidfd tells
 * whether the pid still named the same process throughout. Peers get theirs from the socket (SO_PEERPIDFD,
 * peer.ts); container targets found by pid (sessions.ts) take one with pidfd_open(2).
 */
import { readFileSync } from 'node:fs';

/** pidfd_open(2) in the generic syscall table, which x86_64 and aarch64 share from this call on. */
const PIDFD_OPEN_SYSCALL = 434;
export const ENOSYS = 38;

type PidfdOpen = (pid: number) => number;
let pidfdOpen: PidfdOpen | undefined;
let errnoOf: () => number = () => 0;

async function loadPidfdOpen(): Promise<PidfdOpen> {
  if (!pidfdOpen) {
    const { default: koffi } = await import('koffi');
    const libc = koffi.load('libc.so.6');
    let call: PidfdOpen;
    try {
      const wrapper = libc.func('int pidfd_open(int pid, unsigned int flags)') as (pid: number, flags: number) => number;
      call = (pid) => wrapper(pid, 0);
    } catch {
      // glibc before 2.36 has no wrapper; the raw syscall is the same call.
      const syscall = libc.func('long syscall(long number, ...)') as (...args: unknown[]) => number | bigint;
      call = (pid) => Number(syscall(PIDFD_OPEN_SYSCALL, 'int', pid, 'unsigned int', 0));
    }
    errnoOf = () => koffi.errno();
    pidfdOpen = call;
  }
  return pidfdOpen;
}

/** A pidfd for `pid` (close-on-exec, as pidfd_open makes them), or the errno pidfd_open(2) failed with. */
export async function openPidfd(pid: number): Promise<{ fd: number } | { errno: number }> {
  const call = await loadPidfdOpen();
  const fd = call(pid);
  return fd >= 0 ? { fd } : { errno: errnoOf() };
}

/**
 * A pidfd's fdinfo says `Pid: -1` once its process is gone (reaped: a zombie still holds its pid, so no other
 * process can have it yet).
 */
export function pidfdStillNames(pidfd: number, pid: number): boolean {
  const info = readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8');
  const match = /^Pid:\s*(-?\d+)/m.exec(info);
  return match !== null && Number(match[1]) === pid;
}
