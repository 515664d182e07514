import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { createMessageConnection, NullLogger, ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import { ErrorCodes, type CallerInfo, type ErrorData } from '../../../typings/index.js';
import { paramsDigest, type AuditDecision, type AuditEntry, type AuditLog } from '../audit.js';
import { BrokerError, HostOperationFailedError, InvalidParamsError, PolicyDeniedError } from '../errors.js';
import type { Handler } from '../handlers/index.js';
import type { BrokerServices } from '../handlers/types.js';
import { decide, type ProfileSelection } from '../policy/decide.js';
import type { HostPlatform } from '../platform/index.js';
import { FramedMessageWriter, FramingError, HardenedMessageReader, type FramingLimits, type RejectedMessage } from './framing.js';
import type { TokenBucket } from './limits.js';
import { releasePeer, type PeerIdentity } from './peer.js';

export interface ConnectionOptions {
  listener: string;
  /** Undefined when no profile of the listener matches the peer: every request is then denied. */
  selection: ProfileSelection | undefined;
  peer: PeerIdentity;
  handlers: Map<string, Handler>;
  platform: HostPlatform;
  audit: AuditLog;
  brokerVersion: string;
  limits: FramingLimits;
  log: (message: string) => void;
  services: BrokerServices;
  /** Set when the connection is over a limit at accept: its first request gets this error, then it closes. */
  refusal?: BrokerError;
  /** The profile's shared request budget, when the profile sets `limits.requestsPerSecond`. */
  rate?: { bucket: TokenBucket; rule: string };
  /** Milliseconds without a request or anything in flight before closing; 0 = never. */
  idleTimeoutMs: number;
  /** The policy's `audit.failOpen`: serve even while the audit log cannot be written. */
  auditFailOpen: boolean;
}

let nextConnectionId = 1;

/** Requests read but not yet answered before reading pauses; keeps a flooding caller from growing memory. */
const MAX_PENDING_REQUESTS = 64;
/** Unsent response bytes before reading pauses, for a caller that writes but does not read. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
/** Unsent bytes above which a streaming handler waits for the caller to read. */
const STREAM_HIGH_WATER_BYTES = 1024 * 1024;
/** A refused connection gets this long to send the request its refusal answers; it holds a descriptor meanwhile. */
const REFUSED_GRACE_MS = 10_000;
/** Reasons for which the broker itself turned the request away, audited as `deny` like a policy denial. */
const REFUSAL_REASONS = new Set(['TooManyConnections', 'RateLimited', 'AuditUnavailable']);

/**
 * One caller. Requests go through: handshake state → method lookup → policy → params → handler, and every
 * one of them ends in exactly one audit line. Errors that are not BrokerErrors are logged with an id and
 * reach the caller only as that id.
 */
export class CallerConnection {
  private readonly rpc: MessageConnection;
  private readonly writer: FramedMessageWriter;
  private initialized = false;
  private pending = 0;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  readonly caller: CallerInfo;
  readonly id = nextConnectionId++;
  /** Over a limit at accept: answered once and closed, and not counted against the limit. */
  readonly refused: boolean;

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    const { peer, selection } = options;
    this.refused = options.refusal !== undefined;
    this.caller = {
      listener: options.listener,
      profile: selection?.name ?? '',
      pid: peer.pid,
      uid: peer.uid,
      gid: peer.gid,
      netns: peer.netns,
      netnsName: peer.netnsName,
    };
    const reader = new HardenedMessageReader(
      socket,
      options.limits,
      (rejected) => this.reject(rejected),
      (violation) => this.onViolation(violation),
    );
    this.writer = new FramedMessageWriter(socket);
    this.rpc = createMessageConnection(reader, this.writer, NullLogger);
    this.rpc.onRequest((method, params, token) => this.dispatch(method, params, token));
    this.rpc.onClose(() => this.dispose());
    socket.on('close', () => this.dispose());
    socket.on('error', () => this.dispose());
    socket.on('drain', () => this.resumeIfIdle());
    this.rpc.listen();
    this.armIdle();
  }

  private idleLimitMs(): number {
    if (this.options.refusal) return this.options.idleTimeoutMs ? Math.min(this.options.idleTimeoutMs, REFUSED_GRACE_MS) : REFUSED_GRACE_MS;
    return this.options.idleTimeoutMs;
  }

  /** (Re)starts the idle clock: called at accept, when the last request finishes and on every notification sent. */
  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const limit = this.idleLimitMs();
    if (this.closed || !limit) return;
    this.idleTimer = setTimeout(() => this.onIdle(limit), limit);
    this.idleTimer.unref();
  }

  /**
   * A request in flight (a `process/wait`, a `file/read` stream) keeps the connection, and so does a running
   * process tied to it: closing would stop that process, and its streamed output may just be quiet. An open
   * session keeps it too: sessions have their own idle timeout, and closing the connection would end them.
   */
  private busy(): boolean {
    if (this.pending > 0) return true;
    if (this.options.services.sessions.hasSessions(this.id)) return true;
    const own = this.options.services.processes.visible({ connectionId: this.id, uid: -1, profile: '', listener: '' });
    return own.some((p) => p.State === 'Running' && !p.Detached);
  }

  private onIdle(limit: number): void {
    if (this.closed) return;
    if (this.busy()) {
      this.armIdle();
      return;
    }
    this.options.audit.record({
      ...this.auditBase(),
      method: '<idle>',
      paramsDigest: null,
      decision: 'deny',
      rule: this.options.refusal ? null : `listeners.${this.options.listener}.idleTimeoutSeconds`,
      durationMs: limit,
      resultCode: 0,
      reason: 'IdleTimeout',
    });
    this.options.log(`closing connection from pid ${this.caller.pid ?? '?'}: idle for ${limit / 1000} s`);
    this.dispose();
  }

  private auditBase(): { time: string; listener: string; profile: string | null; peer: AuditEntry['peer'] } {
    return {
      time: new Date().toISOString(),
      listener: this.options.listener,
      profile: this.options.selection?.name ?? null,
      peer: { pid: this.caller.pid, uid: this.caller.uid, gid: this.caller.gid, netns: this.caller.netns, netnsName: this.caller.netnsName },
    };
  }

  /** Checks that come before anything about the method: limits at accept, the audit log, the profile. */
  private admit(method: string): void {
    const { refusal, selection } = this.options;
    if (refusal) {
      // Answer, then close: the caller sees why instead of a broken pipe.
      setImmediate(() => this.socket.end(() => this.socket.destroy()));
      throw refusal;
    }
    const unavailable = this.options.audit.unavailable();
    if (unavailable && !this.options.auditFailOpen) {
      throw new HostOperationFailedError(`${unavailable}; the broker refuses requests it cannot audit`, { reason: 'AuditUnavailable' });
    }
    if (!selection) {
      throw new PolicyDeniedError(`no profile of listener '${this.options.listener}' matches this caller (uid ${this.caller.uid ?? '?'}, gid ${this.caller.gid ?? '?'})`, `listeners.${this.options.listener}.profiles`, 'NoProfileMatched');
    }
    if (!this.initialized && method !== 'initialize') {
      throw new BrokerError('ServerNotInitialized', `call 'initialize' before '${method}'`, { reason: 'NotInitialized' });
    }
    const rate = this.options.rate;
    if (rate && method !== 'initialize' && !rate.bucket.take()) {
      throw new BrokerError('LimitExceeded', `profile '${selection.name}' allows ${rate.bucket.rate} request(s) per second for all its callers together; slow down`, {
        reason: 'RateLimited',
        limit: rate.bucket.rate,
        rule: rate.rule,
      });
    }
  }

  private async dispatch(method: string, rawParams: unknown, token: CancellationToken): Promise<unknown> {
    const started = performance.now();
    this.pending++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.pending >= MAX_PENDING_REQUESTS || this.socket.writableLength >= MAX_UNSENT_BYTES) this.socket.pause();
    let decision: AuditDecision = 'error';
    let rule: string | null = null;
    let resultCode = 0;
    let reason: string | undefined;
    try {
      this.admit(method);
      const { handlers } = this.options;
      const selection = this.options.selection!;
      const handler = handlers.get(method);
      if (!handler) throw new BrokerError('MethodNotFound', `method '${method}' does not exist`, { reason: 'UnknownMethod' });
      const verdict = decide(selection.name, selection.profile, handler.permission);
      rule = verdict.rule;
      if (!verdict.allowed) throw new PolicyDeniedError(`profile '${selection.name}' does not grant ${method} (${verdict.rule})`, verdict.rule);
      const params = parseParams(handler.params, rawParams);
      decision = 'allow';
      const result = await handler.handle(params, {
        platform: this.options.platform,
        brokerVersion: this.options.brokerVersion,
        caller: this.caller,
        peer: this.options.peer,
        grantedMethods: () => this.grantedMethods(),
        token,
        profile: { name: selection.name, grant: selection.profile },
        // Never throws: a stream (a session host's output, a process's) may still deliver after the caller
        // has gone, and vscode-jsonrpc throws synchronously on a disposed connection.
        notify: (type, notification) => {
          if (this.closed) return;
          this.armIdle();
          try {
            void this.rpc.sendNotification(type, notification as never).catch(() => this.socket.destroy());
          } catch {
            this.socket.destroy();
          }
        },
        drained: () => this.drained(),
        congested: () => !this.closed && this.socket.writableLength >= STREAM_HIGH_WATER_BYTES,
        connectionId: this.id,
        services: this.options.services,
      });
      if (method === 'initialize') this.initialized = true;
      return result;
    } catch (error) {
      const response = this.toResponseError(error, method);
      resultCode = response.code;
      reason = (response.data as ErrorData | undefined)?.reason;
      // A handler's own denial names the finer rule (a path, an argument, a pin): that is what decided.
      rule = (response.data as ErrorData | undefined)?.rule ?? rule;
      if (resultCode === ErrorCodes.PolicyDenied || (reason !== undefined && REFUSAL_REASONS.has(reason))) decision = 'deny';
      throw response;
    } finally {
      // Bookkeeping first: nothing after it may leave the connection counting a request that ended.
      this.pending--;
      this.resumeIfIdle();
      if (this.pending === 0) this.armIdle();
      this.options.audit.record({
        ...this.auditBase(),
        method,
        paramsDigest: paramsDigest(rawParams),
        decision,
        rule,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        resultCode,
        ...(reason ? { reason } : {}),
      });
    }
  }

  /** Streaming handlers wait here so a caller that reads slowly slows the stream instead of growing memory. */
  private drained(): Promise<void> {
    if (this.closed || this.socket.writableLength < STREAM_HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private grantedMethods(): string[] {
    const selection = this.options.selection;
    if (!selection) return [];
    return [...this.options.handlers.values()]
      .filter((handler) => decide(selection.name, selection.profile, handler.permission).allowed)
      .map((handler) => handler.method);
  }

  private toResponseError(error: unknown, method: string): ResponseError<ErrorData> {
    if (error instanceof BrokerError) return error.toResponseError();
    if (error instanceof ResponseError) return error as ResponseError<ErrorData>;
    const incident = randomUUID();
    this.options.log(`internal error ${incident} in ${method}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return new ResponseError(ErrorCodes.InternalError, `internal error in the broker (incident ${incident})`, { reason: 'InternalError', incident });
  }

  /** A well-framed message that is not a request: answer it and keep reading. */
  private reject(rejected: RejectedMessage): void {
    this.options.audit.record({
      ...this.auditBase(),
      method: '<invalid>',
      paramsDigest: null,
      decision: 'error',
      rule: null,
      durationMs: 0,
      resultCode: rejected.code,
      reason: rejected.code === ErrorCodes.ParseError ? 'ParseError' : 'InvalidRequest',
    });
    void this.writer
      .write({ jsonrpc: '2.0', id: rejected.id, error: { code: rejected.code, message: rejected.message, data: { reason: rejected.code === ErrorCodes.ParseError ? 'ParseError' : 'InvalidRequest' } } } as never)
      .catch(() => this.socket.destroy());
  }

  /** After a framing violation the stream cannot be resynchronised: write nothing more and close. */
  private onViolation(violation: FramingError): void {
    this.options.log(`closing connection from pid ${this.caller.pid ?? '?'}: ${violation.reason}: ${violation.message}`);
    this.socket.destroy();
  }

  private resumeIfIdle(): void {
    if (this.closed) return;
    if (this.pending < MAX_PENDING_REQUESTS && this.socket.writableLength < MAX_UNSENT_BYTES && this.socket.isPaused()) this.socket.resume();
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.rpc.dispose();
    this.socket.destroy();
    releasePeer(this.options.peer);
    void this.options.services.processes.connectionClosed(this.id);
    void this.options.services.sessions.connectionClosed(this.id);
  }
}

function parseParams<P>(schema: z.ZodType<P>, raw: unknown): P {
  if (Array.isArray(raw)) throw new InvalidParamsError('params must be an object, not an array', '');
  const result = schema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const field = [...issue.path, ...(unknownKey !== undefined ? [unknownKey] : [])].join('.');
  const message = unknownKey !== undefined ? `unknown field '${field}'` : `${field || 'params'}: ${issue.message}`;
  throw new InvalidParamsError(message, field);
}
