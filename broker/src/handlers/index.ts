import { credentialSpecHandlers } from './credspec.js';
import { fileHandlers } from './files.js';
import { hostHandlers } from './host.js';
import { initializeHandler } from './initialize.js';
import { networkHandlers } from './network.js';
import { processHandlers } from './processes.js';
import { proxyHandlers } from './proxy.js';
import { sessionHandlers } from './sessions.js';
import type { Handler } from './types.js';

export type { Handler, RequestContext } from './types.js';

/** Every request the broker serves, by method. */
export function createHandlerRegistry(): Map<string, Handler> {
  const all = [initializeHandler, ...hostHandlers, ...networkHandlers, ...fileHandlers, ...credentialSpecHandlers, ...processHandlers, ...proxyHandlers, ...sessionHandlers] as Handler[];
  return new Map(all.map((handler) => [handler.method, handler]));
}
