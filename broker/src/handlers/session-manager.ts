import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { CancellationToken } from 'vscode-jsonrpc';
import { SessionOutputNotification, type CallerInfo, type HostSessionInfo, type SessionInvokeParams, type SessionInvokeResult, type SessionOutputParams } from '../../../typings/index.js';
import { paramsDigest, type AuditLog } from '../audit.js';
import { BrokerError, InvalidParamsError, PolicyDeniedError } from '../errors.js';
import type { HostPlatformSessions, ResolvedContainer } from '../platform/types.js';
import type { Policy, Profile, SessionsGrant } from '../policy/schema.js';
import type { SessionHostConfig } from '../sessions/host-protocol.js';
import { SESSION_HOST_RUNTIME_ENVIRONMENT, SessionHost, sessionHostArgs, sessionHostAssemblyPath, sessionHostScriptPath, type DoneEvent } from '../sessions/session-host.js';

/**
 * Eight random hex digits. From randomUUID, whose digits before the first dash are all random: it draws from a
 * cached entropy pool, where randomBytes asks OpenSSL every time (10 µs, on each invocation).
 */
function randomHex8(): string {
  return randomUUID().slice(0, 8);
}

/** Defaults of the policy's session keys (schema.ts documents them). */
export const SessionDefaults = {
  warm: 1,
  sessionsPerProfile: 4,
  idleTimeoutSeconds: 900,
  depth: 1,
  maxDepth: 2,
  targets: ['host'],
} as const;

/** How long a session host may take to build a runspace (module imports included). */
const OPEN_TIMEOUT_MS = 60_000;
/** How long a stopped pipeline may take to end before the host is killed and the session broken. */
const STOP_GRACE_MS = 5000;
/** How long a closing host may take to dispose its runspace and exit. */
const CLOSE_GRACE_MS = 2000;
/** Back-off for replacing warm hosts that die or fail to start: doubling from this, up to the maximum. */
const WARM_RETRY_BASE_MS = 500;
const WARM_RETRY_MAX_MS = 60_000;

/** Who opened a session: it is only ever visible to, and usable from, that connection. */
export interface SessionOwner {
  connectionId: number;
  caller: CallerInfo;
  /** The caller's profile as its connection has it. */
  profileName: string;
  profile: Profile;
}

/** What an invocation reports to its caller. */
export interface InvocationCaller {
  notify(params: SessionOutputParams): void;
  congested(): boolean;
  drained(): Promise<void>;
  token: CancellationToken;
}


export interface SessionManagerOptions {
  platform: HostPlatformSessions;
  audit: AuditLog;
  /** The session hosts' working directory. */
  stateDir: string;
  /** The broker's current policy: `sessionHost` and `containers` are read from it when they are needed. */
  policy(): Policy;
  /** The largest message a caller takes; a host line may be twice that, an output object a quarter. */
  maxMessageBytes(): number;
  log(message: string): void;
}

interface ManagedSession {
  info: HostSessionInfo;
  host: SessionHost;
  owner: SessionOwner;
  /** Opened by `session/invoke` without a session id: not listed, closed when the invocation ends. */
  temporary: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  detachExit: () => void;
}

interface WarmHost {
  /** The executable and environment it was started with: a policy change that alters them retires it. */
  key: string;
  started: Promise<SessionHost>;
  host: SessionHost | undefined;
  taken: boolean;
}

const sessionsRule = (profileName: string) => `profiles.${profileName}.sessions`;

/**
 * Host sessions: one session host process each, tied to the connection that opened it. A pool of warm hosts
 * (started and `ready`, no runspace yet) makes opening a `host` session cost only the runspace. Limits are
 * per profile across its callers; an idle session is closed on its own clock, not the connection's.
 */
export class SessionManager {
  private readonly sessions = new Map<string, ManagedSession>();
  /** Sessions being opened, per profile: they count against the limit before they exist. */
  private readonly opening = new Map<string, number>();
  /** Names being opened, per connection (`<id>/<lowercase name>`), so two opens cannot take the same one. */
  private readonly pendingNames = new Set<string>();
  /** Opens in flight per connection; a connection that closes meanwhile is remembered until they finish. */
  private readonly openingByConnection = new Map<number, number>();
  private readonly abandonedConnections = new Set<number>();
  private readonly nameCounters = new Map<number, number>();
  private pool: WarmHost[] = [];
  private warmFailures = 0;
  private refillTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: SessionManagerOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  }

  /** Ends what the previous run's hosts left, then starts the warm pool when the policy grants sessions on the host to anyone. */
  start(): void {
    const ended = this.options.platform.restore?.(this.options.stateDir, this.options.log) ?? 0;
    if (ended) this.options.log(`previous run: ended what ${ended} session host(s) left behind`);
    this.refill();
  }

  /** A new policy: warm hosts started with another executable or environment are replaced. */
  policyChanged(): void {
    const key = this.launchKey();
    for (const warm of this.pool.filter((w) => w.key !== key)) this.retire(warm);
    this.warmFailures = 0;
    this.refill();
  }

  private warmWanted(): number {
    const policy = this.options.policy();
    const granted = Object.values(policy.profiles).some((profile) => {
      const grant = profile.sessions;
      return grant !== undefined && grant.enabled !== false && (grant.targets ?? SessionDefaults.targets).includes('host');
    });
    return granted ? (policy.sessionHost?.warm ?? SessionDefaults.warm) : 0;
  }

  private launchKey(): string {
    const host = this.options.policy().sessionHost;
    return JSON.stringify([host?.executable ?? null, host?.environment ?? {}]);
  }

  private refill(): void {
    if (this.stopped || this.refillTimer) return;
    const wanted = this.warmWanted();
    while (this.pool.length > wanted) this.retire(this.pool[this.pool.length - 1]);
    while (this.pool.length < wanted) this.pool.push(this.startWarm());
  }

  private retire(warm: WarmHost): void {
    this.pool = this.pool.filter((w) => w !== warm);
    void warm.started.then((host) => host.close(CLOSE_GRACE_MS)).catch(() => {});
  }

  /** A warm host that died or did not start: the next one waits longer, so a broken setup is not a tight loop. */
  private backOff(why: string): void {
    this.warmFailures++;
    if (this.stopped || this.refillTimer) return;
    const delay = Math.min(WARM_RETRY_MAX_MS, WARM_RETRY_BASE_MS * 2 ** Math.min(this.warmFailures - 1, 16));
    this.options.log(`warm session host: ${why}; starting another in ${delay / 1000} s`);
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, delay);
    this.refillTimer.unref();
  }

  private startWarm(): WarmHost {
    const warm: WarmHost = { key: this.launchKey(), started: undefined!, host: undefined, taken: false };
    warm.started = this.launch(undefined).then(
      (host) => {
        warm.host = host;
        host.onExit((error) => {
          if (warm.taken || !this.pool.includes(warm)) return;
          this.pool = this.pool.filter((w) => w !== warm);
          this.backOff(`it ended while waiting (${error.message})`);
        });
        return host;
      },
      (error: Error) => {
        if (!warm.taken && this.pool.includes(warm)) {
          this.pool = this.pool.filter((w) => w !== warm);
          this.backOff(`it did not start (${error.message})`);
        }
        throw error;
      },
    );
    warm.started.catch(() => {});
    return warm;
  }

  /** A ready host for the `host` target: a warm one when there is one (or one starting), else a new one. */
  private async hostForHostTarget(): Promise<SessionHost> {
    const key = this.launchKey();
    const usable = this.pool.filter((w) => w.key === key && (w.host === undefined || w.host.alive));
    const warm = usable.find((w) => w.host !== undefined) ?? usable[0];
    if (!warm) return this.launch(undefined);
    warm.taken = true;
    this.pool = this.pool.filter((w) => w !== warm);
    this.warmFailures = 0;
    this.refill();
    const host = await warm.started;
    // It may have died between the check and now; a fresh one is still better than an error.
    return host.alive ? host : this.launch(undefined);
  }

  private async launch(container: ResolvedContainer | undefined): Promise<SessionHost> {
    const policy = this.options.policy();
    const executable = policy.sessionHost?.executable ?? (await this.options.platform.defaultExecutable());
    return SessionHost.start({
      platform: this.options.platform,
      executable,
      args: sessionHostArgs(sessionHostScriptPath(), sessionHostAssemblyPath()),
      env: { ...SESSION_HOST_RUNTIME_ENVIRONMENT, ...(policy.sessionHost?.environment ?? {}) },
      cwd: this.options.stateDir,
      container,
      maxLineBytes: 2 * this.options.maxMessageBytes(),
      log: this.options.log,
    });
  }

  /** Whether the connection has sessions: they keep it open against the connection's idle timeout. */
  hasSessions(connectionId: number): boolean {
    for (const session of this.sessions.values()) if (session.owner.connectionId === connectionId) return true;
    return (this.openingByConnection.get(connectionId) ?? 0) > 0;
  }

  list(connectionId: number): HostSessionInfo[] {
    return [...this.sessions.values()].filter((s) => s.owner.connectionId === connectionId && !s.temporary).map((s) => ({ ...s.info }));
  }

  /** The caller's session; another caller's, or an unknown id, is the same NotFound so ids leak nothing. */
  private get(connectionId: number, sessionId: string): ManagedSession {
    const session = this.sessions.get(sessionId);
    if (!session || session.owner.connectionId !== connectionId || session.temporary) {
      throw new BrokerError('NotFound', `no session ${sessionId} of yours`, { reason: 'SessionNotFound', sessionId });
    }
    return session;
  }

  private countFor(profileName: string): number {
    let count = this.opening.get(profileName) ?? 0;
    for (const session of this.sessions.values()) if (session.owner.profileName === profileName) count++;
    return count;
  }

  private defaultName(connectionId: number): string {
    const taken = new Set([...this.sessions.values()].filter((s) => s.owner.connectionId === connectionId).map((s) => s.info.Name.toLowerCase()));
    for (let n = this.nameCounters.get(connectionId) ?? 1; ; n++) {
      const name = `Session${n}`;
      if (!taken.has(name.toLowerCase()) && !this.pendingNames.has(`${connectionId}/${name.toLowerCase()}`)) {
        this.nameCounters.set(connectionId, n + 1);
        return name;
      }
    }
  }

  /** Opens a session; `temporary` ones are for a single invocation and stay out of lists and names. */
  async open(owner: SessionOwner, request: { name?: string; target?: string }, temporary = false): Promise<HostSessionInfo> {
    return { ...(await this.openSession(owner, request, temporary)).info };
  }

  private async openSession(owner: SessionOwner, request: { name?: string; target?: string }, temporary: boolean): Promise<ManagedSession> {
    const { profileName, connectionId } = owner;
    const grant: SessionsGrant = owner.profile.sessions ?? {};
    const rule = sessionsRule(profileName);
    const target = request.target ?? 'host';
    const targets: readonly string[] = grant.targets ?? SessionDefaults.targets;
    if (!targets.includes(target)) {
      throw new PolicyDeniedError(`profile '${profileName}' may not open sessions on '${target}' (it may on: ${targets.join(', ')})`, `${rule}.targets`, 'TargetNotAllowed');
    }
    const name = temporary ? '<temporary>' : (request.name ?? this.defaultName(connectionId));
    const nameKey = `${connectionId}/${name.toLowerCase()}`;
    if (!temporary) {
      const inUse = [...this.sessions.values()].some((s) => s.owner.connectionId === connectionId && !s.temporary && s.info.Name.toLowerCase() === name.toLowerCase());
      if (inUse || this.pendingNames.has(nameKey)) throw new BrokerError('Conflict', `you already have a session named '${name}'`, { reason: 'SessionNameInUse', name });
    }
    const limit = owner.profile.limits?.sessions ?? SessionDefaults.sessionsPerProfile;
    if (this.countFor(profileName) >= limit) {
      throw new BrokerError('LimitExceeded', `profile '${profileName}' already has ${limit} session(s) open, its limit; remove one first`, {
        reason: 'SessionLimit',
        limit,
        rule: `profiles.${profileName}.limits.sessions`,
      });
    }
    this.opening.set(profileName, (this.opening.get(profileName) ?? 0) + 1);
    this.openingByConnection.set(connectionId, (this.openingByConnection.get(connectionId) ?? 0) + 1);
    if (!temporary) this.pendingNames.add(nameKey);
    let host: SessionHost | undefined;
    try {
      const config: SessionHostConfig = {
        languageMode: grant.languageMode ?? 'NoLanguage',
        commands: grant.commands ?? [],
        modules: grant.modules ?? [],
        providers: grant.providers ?? [],
        programs: grant.programs ?? [],
        maxObjectBytes: Math.floor(this.options.maxMessageBytes() / 4),
      };
      if (target === 'host') {
        host = await this.hostForHostTarget();
      } else {
        const ref = this.options.policy().containers?.[target];
        if (!ref) throw new BrokerError('NotFound', `container '${target}' is not defined in the broker's policy`, { reason: 'ContainerNotFound', container: target });
        const container = await this.options.platform.resolveContainer(target, ref);
        try {
          Object.assign(config, container.openConfig);
          host = await this.launch(container);
        } finally {
          container.release();
        }
      }
      const opened = await host.open(config, OPEN_TIMEOUT_MS);
      const now = new Date().toISOString();
      const idleTimeoutSeconds = grant.idleTimeoutSeconds ?? SessionDefaults.idleTimeoutSeconds;
      const session: ManagedSession = {
        info: {
          Id: this.newId(),
          Name: name,
          Target: target,
          State: 'Opened',
          LanguageMode: opened.languageMode,
          Location: opened.location,
          PSVersion: host.ready?.psVersion ?? '',
          ProcessId: host.pid,
          Created: now,
          LastUsed: now,
          IdleTimeoutSeconds: idleTimeoutSeconds,
          Rule: rule,
        },
        host,
        owner,
        temporary,
        idleTimer: undefined,
        detachExit: () => {},
      };
      session.detachExit = host.onExit((error) => this.onHostGone(session, error.message));
      this.sessions.set(session.info.Id, session);
      if (this.abandonedConnections.has(connectionId)) {
        void this.closeSession(session);
        throw new BrokerError('NotFound', 'the connection closed while the session was opening', { reason: 'SessionNotFound' });
      }
      if (!temporary) this.armIdle(session);
      return session;
    } catch (error) {
      host?.kill();
      throw error;
    } finally {
      this.opening.set(profileName, (this.opening.get(profileName) ?? 1) - 1);
      const left = (this.openingByConnection.get(connectionId) ?? 1) - 1;
      if (left > 0) this.openingByConnection.set(connectionId, left);
      else {
        this.openingByConnection.delete(connectionId);
        this.abandonedConnections.delete(connectionId);
      }
      this.pendingNames.delete(nameKey);
    }
  }

  private newId(): string {
    for (;;) {
      const id = `s-${randomHex8()}`;
      if (!this.sessions.has(id)) return id;
    }
  }

  private onHostGone(session: ManagedSession, why: string): void {
    if (!this.sessions.has(session.info.Id)) return;
    session.info.State = 'Broken';
    this.options.log(`session ${session.info.Id} of pid ${session.owner.caller.pid ?? '?'} is broken: ${why}`);
  }

  /** (Re)starts the session's idle clock; a Broken session also goes when it runs out. */
  private armIdle(session: ManagedSession): void {
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = undefined;
    const seconds = session.info.IdleTimeoutSeconds;
    if (!seconds || session.temporary) return;
    session.idleTimer = setTimeout(() => this.onIdle(session), seconds * 1000);
    session.idleTimer.unref();
  }

  private onIdle(session: ManagedSession): void {
    if (!this.sessions.has(session.info.Id)) return;
    if (session.info.State === 'Busy') return this.armIdle(session);
    const { caller, profileName } = session.owner;
    this.options.audit.record({
      time: new Date().toISOString(),
      listener: caller.listener,
      profile: profileName,
      peer: { pid: caller.pid, uid: caller.uid, gid: caller.gid, netns: caller.netns, netnsName: caller.netnsName },
      method: '<idle>',
      // The digest of `{ sessionId }`: the same as that of a session/remove of this session, so the two correlate.
      paramsDigest: paramsDigest({ sessionId: session.info.Id }),
      decision: 'deny',
      rule: `${sessionsRule(profileName)}.idleTimeoutSeconds`,
      durationMs: session.info.IdleTimeoutSeconds * 1000,
      resultCode: 0,
      reason: 'SessionIdleTimeout',
    });
    this.options.log(`closing session ${session.info.Id} of pid ${caller.pid ?? '?'}: idle for ${session.info.IdleTimeoutSeconds} s`);
    void this.closeSession(session);
  }

  private async closeSession(session: ManagedSession, countedUntilGone = false): Promise<void> {
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.detachExit();
    if (!countedUntilGone) this.sessions.delete(session.info.Id);
    await session.host.close(CLOSE_GRACE_MS).catch(() => session.host.kill());
    this.sessions.delete(session.info.Id);
  }

  async remove(connectionId: number, sessionId: string): Promise<HostSessionInfo> {
    const session = this.get(connectionId, sessionId);
    const info = { ...session.info };
    await this.closeSession(session);
    return info;
  }

  async invoke(owner: SessionOwner, request: SessionInvokeParams, caller: InvocationCaller): Promise<SessionInvokeResult> {
    const grant: SessionsGrant = owner.profile.sessions ?? {};
    const depth = request.depth ?? SessionDefaults.depth;
    const maxDepth = grant.maxDepth ?? SessionDefaults.maxDepth;
    if (depth > maxDepth) {
      throw new InvalidParamsError(`depth: at most ${maxDepth} (${sessionsRule(owner.profileName)}.maxDepth)`, 'depth', 'DepthTooLarge');
    }
    if (request.sessionId !== undefined && request.target !== undefined) {
      throw new InvalidParamsError('target: a session runs where it was opened; give target only without sessionId', 'target', 'TargetWithSession');
    }
    if (caller.token.isCancellationRequested) throw cancelled();
    const session = request.sessionId !== undefined ? this.get(owner.connectionId, request.sessionId) : await this.openSession(owner, { target: request.target }, true);
    try {
      return await this.run(session, request, depth, grant, caller);
    } finally {
      // The answer need not wait for the host to exit; the session still counts against the limit until it has.
      if (session.temporary) void this.closeSession(session, true);
    }
  }

  private async run(session: ManagedSession, request: SessionInvokeParams, depth: number, grant: SessionsGrant, caller: InvocationCaller): Promise<SessionInvokeResult> {
    const { info, host } = session;
    if (info.State === 'Broken') {
      throw new BrokerError('HostOperationFailed', `session ${info.Id} is broken (its session host has gone); remove it and open another`, { reason: 'SessionBroken', sessionId: info.Id });
    }
    if (info.State === 'Busy') throw new BrokerError('Conflict', `session ${info.Id} is running another invocation`, { reason: 'SessionBusy', sessionId: info.Id });
    const invocationId = `i-${randomHex8()}`;
    info.State = 'Busy';
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = undefined;

    let outputCount = 0;
    const running = host.invoke(
      { id: invocationId, script: request.script, arguments: request.arguments ?? null, input: request.input ?? null, using: request.using ?? null, depth },
      {
        output: (event) => {
          if (event.stream === 'output') outputCount++;
          caller.notify({ sessionId: info.Id, invocationId, stream: event.stream, clixml: event.clixml });
        },
        congested: caller.congested,
        drained: caller.drained,
      },
    );
    running.catch(() => {});

    let timedOut = false;
    let wasCancelled = false;
    let stopping: Promise<void> | undefined;
    /** Stop the pipeline; a host that does not end it in time is killed, which breaks the session. */
    const stop = () =>
      (stopping ??= (async () => {
        host.stop(invocationId);
        let timer: NodeJS.Timeout | undefined;
        const ended = await Promise.race([running.then(() => true, () => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_GRACE_MS)))]);
        clearTimeout(timer);
        if (!ended) {
          this.options.log(`session ${info.Id}: the pipeline did not stop within ${STOP_GRACE_MS / 1000} s; killing its host`);
          host.kill();
        }
      })());
    const limits = [request.timeoutSeconds, grant.invocationTimeoutSeconds].filter((s): s is number => s !== undefined && s > 0);
    const timeoutSeconds = limits.length ? Math.min(...limits) : 0;
    const timer = timeoutSeconds
      ? setTimeout(() => {
          timedOut = true;
          void stop();
        }, timeoutSeconds * 1000)
      : undefined;
    const onCancel = caller.token.onCancellationRequested(() => {
      wasCancelled = true;
      void stop();
    });
    let done: DoneEvent;
    try {
      done = await running;
    } catch (error) {
      if (wasCancelled) throw cancelled();
      if (timedOut) {
        // Killed because it would not stop: the invocation did end where the timeout said, the session did not survive it.
        return { sessionId: info.Id, invocationId, state: 'Stopped', error: null, timedOut: true, outputCount, location: null };
      }
      if (error instanceof BrokerError && error.data.reason !== 'SessionBusy' && !host.alive) {
        throw new BrokerError('HostOperationFailed', `the session host of ${info.Id} ended during the invocation: ${error.message}`, { reason: 'SessionHostExited', sessionId: info.Id });
      }
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
      onCancel.dispose();
      await stopping;
      info.LastUsed = new Date().toISOString();
      if (!host.alive) info.State = 'Broken';
      else if (info.State === 'Busy') info.State = 'Opened';
      if (this.sessions.has(info.Id)) this.armIdle(session);
    }
    if (wasCancelled) throw cancelled();
    info.Location = done.location;
    return {
      sessionId: info.Id,
      invocationId,
      state: done.state,
      error: done.error,
      timedOut: timedOut && done.state === 'Stopped',
      outputCount,
      location: done.location,
    };
  }

  /** A caller went away: its sessions end with it. */
  async connectionClosed(connectionId: number): Promise<void> {
    if ((this.openingByConnection.get(connectionId) ?? 0) > 0) this.abandonedConnections.add(connectionId);
    this.nameCounters.delete(connectionId);
    const owned = [...this.sessions.values()].filter((s) => s.owner.connectionId === connectionId);
    await Promise.all(owned.map((session) => this.closeSession(session)));
  }

  /** Broker shutdown: every session and warm host ends. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    const pool = this.pool.splice(0);
    await Promise.all([
      ...[...this.sessions.values()].map((session) => this.closeSession(session)),
      ...pool.map((warm) => warm.started.then((host) => host.close(CLOSE_GRACE_MS)).catch(() => {})),
    ]);
  }

  /** Warm hosts that are ready now (for tests and diagnostics). */
  warmReady(): number[] {
    return this.pool.filter((w) => w.host?.alive).map((w) => w.host!.pid);
  }
}

function cancelled(): BrokerError {
  return new BrokerError('RequestCancelled', 'the invocation was cancelled', { reason: 'Cancelled' });
}
