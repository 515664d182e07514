import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { hostname, machine, release, uptime } from 'node:os';
import type { HostFacts, HostPlatformHost } from '../types.js';

/** KEY=value lines of os-release(5), quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    values[match[1]] = match[2].replace(/^(["'])(.*)\1$/, '$2').replace(/\\(.)/g, '$1');
  }
  return values;
}

/** os-release changes only with an upgrade; re-reading it at most once a minute keeps host/info cheap. */
const OS_RELEASE_TTL_MS = 60_000;
let cachedOsRelease: { values: Promise<Record<string, string>>; readAt: number } | undefined;

function osRelease(): Promise<Record<string, string>> {
  if (!cachedOsRelease || Date.now() - cachedOsRelease.readAt > OS_RELEASE_TTL_MS) {
    cachedOsRelease = { values: readOsRelease(), readAt: Date.now() };
  }
  return cachedOsRelease.values;
}

async function readOsRelease(): Promise<Record<string, string>> {
  for (const path of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return parseOsRelease(await readFile(path, 'utf8'));
    } catch {
      // try the next location os-release(5) names
    }
  }
  return {};
}

// The kernel release and machine cannot change while the broker runs; the hostname can.
const kernelRelease = release();
const kernelMachine = machine();

// os.uptime() reads /proc/uptime (about 4 µs, the dearest part of host/info), so it is read once a minute
// and carried forward with the monotonic clock in between.
const UPTIME_RESYNC_MS = 60_000;
let uptimeBase = { seconds: uptime(), at: performance.now() };

function hostUptime(): number {
  const now = performance.now();
  if (now - uptimeBase.at > UPTIME_RESYNC_MS) uptimeBase = { seconds: uptime(), at: now };
  return uptimeBase.seconds + (now - uptimeBase.at) / 1000;
}

export const linuxHost: HostPlatformHost = {
  async info(): Promise<HostFacts> {
    const osReleaseValues = await osRelease();
    const up = hostUptime();
    return {
      HostName: hostname(),
      Platform: 'linux',
      OSName: osReleaseValues.PRETTY_NAME ?? osReleaseValues.NAME ?? 'Linux',
      OSVersion: osReleaseValues.VERSION_ID ?? kernelRelease,
      OSBuild: osReleaseValues.BUILD_ID ?? osReleaseValues.VERSION_ID ?? null,
      KernelVersion: kernelRelease,
      Architecture: kernelMachine,
      UptimeSeconds: Math.floor(up),
      BootTime: new Date(Math.round(Date.now() / 1000 - up) * 1000).toISOString(),
    };
  },
};
