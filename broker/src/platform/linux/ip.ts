import { execFile } from 'node:child_process';
import { HostOperationFailedError } from '../../errors.js';

/**
 * Runs `ip -j …` (iproute2 speaks rtnetlink for us) and parses its JSON. The broker's own namespace is the
 * host's, so what it reports is the host's view whatever namespace the caller is in.
 */
export function ipJson<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['-j', ...args], { timeout: 10_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new HostOperationFailedError(
            missing ? "'ip' (iproute2) is not installed on the host" : `ip ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`,
            { cause: error, reason: missing ? 'ToolMissing' : 'OperationFailed' },
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(stdout || '[]') as T);
      } catch (parseError) {
        reject(new HostOperationFailedError(`ip ${args.join(' ')} printed output that is not JSON`, { cause: parseError }));
      }
    });
  });
}
