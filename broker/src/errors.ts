import { ResponseError } from 'vscode-jsonrpc/node';
import { ErrorCodes, type ErrorCodeName, type ErrorData } from '../../typings/index.js';

/**
 * Every error the broker means to send to a caller. `code` is the stable JSON-RPC code, `data.reason` a
 * stable word; `cause` keeps the underlying error for the broker's own log and never goes on the wire.
 */
export class BrokerError extends Error {
  readonly codeName: ErrorCodeName;
  readonly data: ErrorData;

  constructor(codeName: ErrorCodeName, message: string, data: ErrorData, options?: { cause?: unknown }) {
    super(message, options);
    this.name = `WinsHost${codeName}Error`;
    this.codeName = codeName;
    this.data = data;
  }

  get code(): number {
    return ErrorCodes[this.codeName];
  }

  toResponseError(): ResponseError<ErrorData> {
    return new ResponseError(this.code, this.message, this.data);
  }
}

export class PolicyDeniedError extends BrokerError {
  constructor(message: string, rule: string, reason = 'NotGranted') {
    super('PolicyDenied', message, { reason, rule });
  }
}

export class InvalidParamsError extends BrokerError {
  constructor(message: string, field: string, reason = 'FieldInvalid') {
    super('InvalidParams', message, { reason, field });
  }
}

export class NotFoundError extends BrokerError {
  constructor(message: string, data: Omit<ErrorData, 'reason'> = {}) {
    super('NotFound', message, { reason: 'NotFound', ...data });
  }
}

export class HostOperationFailedError extends BrokerError {
  constructor(message: string, options?: { cause?: unknown; reason?: string }) {
    super('HostOperationFailed', message, { reason: options?.reason ?? 'OperationFailed' }, options);
  }
}

export class NotSupportedOnPlatformError extends BrokerError {
  constructor(message: string, platform: string) {
    super('NotSupportedOnPlatform', message, { reason: 'NotSupported', platform });
  }
}
