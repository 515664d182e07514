/**
 * The WinsHost wire protocol: constants shared by the broker, the Node client and (by string) the
 * PowerShell module. JSON-RPC 2.0 with LSP framing (`Content-Length: N\r\n\r\n` + N bytes of UTF-8 JSON).
 */

/** Major protocol version. Within a major only additions are allowed. */
export const ProtocolVersion = 1 as const;

/** Framing limits the broker enforces before buffering a message body. */
export const FramingDefaults = {
  maxHeaderBytes: 8 * 1024,
  maxMessageBytes: 4 * 1024 * 1024,
} as const;

/**
 * Error codes on the wire. The standard JSON-RPC codes plus WinsHost's application codes.
 * The PowerShell module maps each application code to an ErrorCategory (see `ErrorCategories`).
 */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The caller cancelled the request with `$/cancelRequest`. */
  RequestCancelled: -32800,
  PolicyDenied: -32001,
  ServerNotInitialized: -32002,
  NotFound: -32003,
  Conflict: -32004,
  LimitExceeded: -32005,
  NotSupportedOnPlatform: -32006,
  HostOperationFailed: -32007,
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorCodeName];

/** What each application error becomes in PowerShell (System.Management.Automation.ErrorCategory). */
export const ErrorCategories: Record<ErrorCodeName, string> = {
  ParseError: 'ParserError',
  InvalidRequest: 'InvalidData',
  MethodNotFound: 'NotImplemented',
  InvalidParams: 'InvalidArgument',
  InternalError: 'NotSpecified',
  RequestCancelled: 'OperationStopped',
  PolicyDenied: 'PermissionDenied',
  ServerNotInitialized: 'InvalidOperation',
  NotFound: 'ObjectNotFound',
  Conflict: 'ResourceExists',
  LimitExceeded: 'LimitsExceeded',
  NotSupportedOnPlatform: 'NotImplemented',
  HostOperationFailed: 'InvalidOperation',
};

/** `error.data` of every error the broker sends. */
export interface ErrorData {
  /** Stable machine-readable reason, e.g. `FieldInvalid`, `RuleDenied`, `NotGranted`. */
  reason: string;
  /** For PolicyDenied: the policy rule that decided, e.g. `profiles.default.network`. */
  rule?: string;
  /** For InvalidParams: the JSON path of the failing field, e.g. `interfaceIndex`. */
  field?: string;
  [key: string]: unknown;
}
