import type { CancellationToken, NotificationType, RequestType } from 'vscode-jsonrpc';
import type { Profile } from '../policy/schema.js';
import type { z } from 'zod';
import type { CallerInfo } from '../../../typings/index.js';
import type { Permission } from '../policy/decide.js';
import type { HostPlatform } from '../platform/index.js';
import type { PeerIdentity } from '../server/peer.js';

/** What a handler may know about the request it serves. */
export interface RequestContext {
  platform: HostPlatform;
  brokerVersion: string;
  caller: CallerInfo;
  peer: PeerIdentity;
  /** Methods the caller's profile grants, for the handshake's capabilities. */
  grantedMethods(): string[];
  token: CancellationToken;
  /** The caller's profile, for handlers whose grant has more than yes or no (roots, allow lists). */
  profile: { name: string; grant: Profile };
  /** Sends a notification to this caller. */
  notify<P>(type: NotificationType<P>, params: P): void;
  /** Resolves when the caller has taken what was sent so far (or the connection closed). */
  drained(): Promise<void>;
  /** True while so much is unsent to this caller that a stream should pause. */
  congested(): boolean;
  /** Identifies this connection while it lasts; what it started is tied to it. */
  connectionId: number;
  /** Broker-wide state that outlives a request. */
  services: BrokerServices;
}

/** State the broker keeps across requests and connections. */
export interface BrokerServices {
  processes: import('./process-manager.js').ProcessManager;
  proxy: import('./proxy-manager.js').ProxyManager;
  sessions: import('./session-manager.js').SessionManager;
}

export interface Handler<P = unknown, R = unknown> {
  method: string;
  permission: Permission;
  /** Strict: unknown fields are errors, so a misspelt option is never silently ignored. */
  params: z.ZodType<P>;
  handle(params: P, context: RequestContext): Promise<R>;
}

/** Ties a handler to its declaration in typings/, so params and result are checked against the protocol. */
export function defineHandler<P, R>(
  type: RequestType<P, R, void>,
  definition: { permission: Permission; params: z.ZodType<P>; handle(params: P, context: RequestContext): Promise<R> },
): Handler<P, R> {
  return { method: type.method, ...definition };
}
