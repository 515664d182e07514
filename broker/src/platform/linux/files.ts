import { constants } from 'node:fs';
import { open, readdir, readlink } from 'node:fs/promises';
import type { HostPlatformFiles } from '../types.js';

export const linuxFiles: HostPlatformFiles = {
  syntax: 'posix',
  // The kernel's own name for what the descriptor refers to, every symlink already followed.
  realPathOfDescriptor: (fd) => readlink(`/proc/self/fd/${fd}`),
  async readDirectory(path) {
    const directory = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      const fdPath = `/proc/self/fd/${directory.fd}`;
      return { realPath: await readlink(fdPath), names: await readdir(fdPath) };
    } finally {
      await directory.close();
    }
  },
};
