import { PolicySchema, type Policy } from './schema.js';
import type { LoadedPolicy } from './load.js';

/**
 * With no policy file: one listener, one profile that reads host facts and networks and nothing else. The
 * socket is world-connectable because that profile grants only what any host user can already read, and
 * containers usually run as uids the host does not know.
 */
export const builtInPolicy: Policy = PolicySchema.parse({
  version: 1,
  listeners: [{ name: 'winshost', mode: '0666', profiles: ['default'] }],
  profiles: {
    default: {
      host: { read: true },
      network: { read: true },
    },
  },
});

export function loadBuiltInPolicy(): LoadedPolicy {
  return { policy: builtInPolicy, source: '<built-in>' };
}
