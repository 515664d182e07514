import { NotificationType, RequestType } from 'vscode-jsonrpc';

/**
 * Host sessions: a restricted PowerShell runspace in a session host process the broker starts, built from
 * the caller's profile (`sessions` in the policy). Objects travel as CliXml (`PSSerializer`), so callers get
 * `Deserialized.*` objects as with `Invoke-Command`; caller values are data, never script text.
 */

export type SessionLanguageMode = 'FullLanguage' | 'ConstrainedLanguage' | 'NoLanguage';

/** `Busy` while an invocation runs; `Broken` once the session host has gone (the session must be removed). */
export type SessionState = 'Opened' | 'Busy' | 'Broken';

export interface HostSessionInfo {
  /** Broker-wide unique, e.g. `s-3f9c2a1b`. */
  Id: string;
  /** The caller's name for it; unique among the caller's sessions. */
  Name: string;
  /** `host`, or the container name from the policy's `containers` the session runs in. */
  Target: string;
  State: SessionState;
  LanguageMode: SessionLanguageMode;
  /** The session's current location (`Get-Location`), or null when no provider is granted. */
  Location: string | null;
  /** `$PSVersionTable.PSVersion` of the session host, e.g. `7.6.9`. */
  PSVersion: string;
  /** OS process id of the session host. */
  ProcessId: number;
  /** ISO 8601. */
  Created: string;
  /** ISO 8601: last invocation end or creation. */
  LastUsed: string;
  /** Seconds of no invocation before the broker closes it; 0 = never. */
  IdleTimeoutSeconds: number;
  /** The policy rule that allowed it, e.g. `profiles.ops.sessions`. */
  Rule: string;
}

export interface SessionNewParams {
  /** Default: `Session<N>` as `New-PSSession` names them. */
  name?: string;
  /** `host` (default) or a container name the profile's `sessions.targets` lists. */
  target?: string;
}

export type SessionNewResult = HostSessionInfo;

export interface SessionListParams {}

export interface SessionListResult {
  sessions: HostSessionInfo[];
}

export interface SessionRemoveParams {
  sessionId: string;
}

export type SessionRemoveResult = HostSessionInfo;

export interface SessionInvokeParams {
  /** Run in this session; without it a temporary session on `target` is opened and closed around the call. */
  sessionId?: string;
  /** With no `sessionId`: where the temporary session runs (default `host`). */
  target?: string;
  /** PowerShell script text, run as a script block; `param()` binds `arguments` in order. */
  script: string;
  /** CliXml of an array: the arguments (`PSSerializer.Serialize(@(...))`). */
  arguments?: string;
  /** CliXml of an array: the objects piped in (`$input`). */
  input?: string;
  /**
   * CliXml of a hashtable from variable name to value: what the script's `$using:name` references stood for in
   * the caller's session (PowerShell's Invoke-Command semantics). The session host binds them as data.
   */
  using?: string;
  /** Serialization depth of output objects; default and maximum from the profile. */
  depth?: number;
  /** Stop the invocation after this many seconds; at most the profile's `invocationTimeoutSeconds`. */
  timeoutSeconds?: number;
}

export type InvocationState = 'Completed' | 'Failed' | 'Stopped';

export interface SessionInvokeResult {
  sessionId: string;
  invocationId: string;
  /** `Failed` when a terminating error ended it (`error` holds it); `Stopped` after a timeout. */
  state: InvocationState;
  /** CliXml of the terminating ErrorRecord when `State` is `Failed`. */
  error: string | null;
  /** Set when the timeout stopped it. */
  timedOut: boolean;
  /** Output objects sent as `session/output`. */
  outputCount: number;
  /** The session's location after the invocation (for the interactive prompt), or null. */
  location: string | null;
}

export type SessionStream = 'output' | 'error' | 'warning' | 'verbose' | 'debug' | 'information' | 'progress';

/** One record of an invocation, sent before the `session/invoke` response, in the order produced. */
export interface SessionOutputParams {
  sessionId: string;
  invocationId: string;
  stream: SessionStream;
  /** CliXml of one object or record. */
  clixml: string;
}

export namespace SessionNewRequest {
  export const method = 'session/new' as const;
  export const type = new RequestType<SessionNewParams, SessionNewResult, void>(method);
}
export namespace SessionListRequest {
  export const method = 'session/list' as const;
  export const type = new RequestType<SessionListParams, SessionListResult, void>(method);
}
export namespace SessionRemoveRequest {
  export const method = 'session/remove' as const;
  export const type = new RequestType<SessionRemoveParams, SessionRemoveResult, void>(method);
}
export namespace SessionInvokeRequest {
  export const method = 'session/invoke' as const;
  export const type = new RequestType<SessionInvokeParams, SessionInvokeResult, void>(method);
}
export namespace SessionOutputNotification {
  export const method = 'session/output' as const;
  export const type = new NotificationType<SessionOutputParams>(method);
}
