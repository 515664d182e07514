import { NotificationType, RequestType } from 'vscode-jsonrpc';

/** A port a process exposes on the host, e.g. `tcp/80`. */
export type ExposedPort = `${'tcp' | 'udp'}/${number}`;

export interface ProcessStartParams {
  /** The program, as a canonical absolute host path: links and `..` are refused, not resolved. */
  path: string;
  args?: string[];
  /** Variables to set; only names the policy lists. The broker's own environment is not passed on. */
  env?: Record<string, string>;
  /** Working directory; must be under one of the rule's `workingDirectories`. */
  cwd?: string;
  exposes?: ExposedPort[];
  /** Keep running after the caller disconnects (and across broker restarts), if the rule allows it. */
  detach?: boolean;
  /** Stream output to this connection as `process/output` notifications from the start. */
  stream?: boolean;
  /** Keep stdin open for `process/write`. Otherwise stdin is empty. */
  stdin?: boolean;
}

export type ProcessState = 'Running' | 'Exited';

export interface HostProcessInfo {
  /** The OS process id on the host. */
  Id: number;
  Path: string;
  Arguments: string[];
  WorkingDirectory: string;
  State: ProcessState;
  /** Set once exited: the exit code, or null when ended by a signal or when unknown (an adopted process). */
  ExitCode: number | null;
  /** The signal that ended it (Linux), or null. */
  Signal: string | null;
  Detached: boolean;
  Exposes: ExposedPort[];
  /** ISO 8601. */
  StartTime: string;
  ExitTime: string | null;
  /** The rule that allowed it, e.g. `profiles.ingress.processes.0`. */
  Rule: string;
}

export type ProcessStartResult = HostProcessInfo;

export interface ProcessListParams {}

export interface ProcessListResult {
  processes: HostProcessInfo[];
}

export interface ProcessIdParams {
  processId: number;
}

export interface ProcessWaitParams extends ProcessIdParams {
  /** Give up after this many milliseconds and answer with the process still running. */
  timeoutMs?: number;
  /** Stream buffered and new output to this connection while waiting. */
  stream?: boolean;
}

export type ProcessWaitResult = HostProcessInfo;

export interface ProcessStopParams extends ProcessIdParams {
  /** Milliseconds between the polite signal (SIGTERM / CTRL_BREAK) and the forced kill; default 5000. */
  timeoutMs?: number;
}

export type ProcessStopResult = HostProcessInfo;

export interface ProcessWriteParams extends ProcessIdParams {
  /** Base64 bytes for stdin. */
  data?: string;
  /** Close stdin after writing. */
  close?: boolean;
}

export interface ProcessWriteResult {
  bytesWritten: number;
}

export interface ProcessReceiveParams extends ProcessIdParams {
  /** At most this many bytes per stream; default 1 MiB. */
  maxBytes?: number;
}

/** Output buffered since the last receive (or since start when nobody streamed it). */
export interface ProcessReceiveResult {
  stdout: string;
  stderr: string;
  /** True when the process has exited and everything it wrote has been received. */
  complete: boolean;
  process: HostProcessInfo;
}

export interface ProcessOutputParams {
  processId: number;
  stream: 'stdout' | 'stderr';
  /** Base64 of the bytes. */
  data: string;
}

export interface ProcessExitedParams {
  processId: number;
  exitCode: number | null;
  signal: string | null;
}

export namespace ProcessStartRequest {
  export const method = 'process/start' as const;
  export const type = new RequestType<ProcessStartParams, ProcessStartResult, void>(method);
}
export namespace ProcessListRequest {
  export const method = 'process/list' as const;
  export const type = new RequestType<ProcessListParams, ProcessListResult, void>(method);
}
export namespace ProcessWaitRequest {
  export const method = 'process/wait' as const;
  export const type = new RequestType<ProcessWaitParams, ProcessWaitResult, void>(method);
}
export namespace ProcessStopRequest {
  export const method = 'process/stop' as const;
  export const type = new RequestType<ProcessStopParams, ProcessStopResult, void>(method);
}
export namespace ProcessWriteRequest {
  export const method = 'process/write' as const;
  export const type = new RequestType<ProcessWriteParams, ProcessWriteResult, void>(method);
}
export namespace ProcessReceiveRequest {
  export const method = 'process/receive' as const;
  export const type = new RequestType<ProcessReceiveParams, ProcessReceiveResult, void>(method);
}
export namespace ProcessOutputNotification {
  export const method = 'process/output' as const;
  export const type = new NotificationType<ProcessOutputParams>(method);
}
export namespace ProcessExitedNotification {
  export const method = 'process/exited' as const;
  export const type = new NotificationType<ProcessExitedParams>(method);
}
