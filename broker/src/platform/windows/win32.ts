import { HostOperationFailedError } from '../../errors.js';

/** winerror.h codes the backend branches on. */
export const ERROR_SUCCESS = 0;
export const ERROR_FILE_NOT_FOUND = 2;
export const ERROR_NOT_ENOUGH_MEMORY = 8;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_BUFFER_OVERFLOW = 111;
export const ERROR_NO_DATA = 232;
export const ERROR_MORE_DATA = 234;
export const ERROR_NOT_FOUND = 1168;
export const ERROR_UNSUPPORTED_TYPE = 1630;

const NAMES: Record<number, string> = {
  [ERROR_FILE_NOT_FOUND]: 'ERROR_FILE_NOT_FOUND',
  [ERROR_NOT_ENOUGH_MEMORY]: 'ERROR_NOT_ENOUGH_MEMORY',
  [ERROR_INVALID_PARAMETER]: 'ERROR_INVALID_PARAMETER',
  [ERROR_BUFFER_OVERFLOW]: 'ERROR_BUFFER_OVERFLOW',
  [ERROR_NO_DATA]: 'ERROR_NO_DATA',
  [ERROR_MORE_DATA]: 'ERROR_MORE_DATA',
  [ERROR_NOT_FOUND]: 'ERROR_NOT_FOUND',
  [ERROR_UNSUPPORTED_TYPE]: 'ERROR_UNSUPPORTED_TYPE',
};

/** The OS error under a HostOperationFailed: kept as `cause` for the broker log, summarised in the message. */
export class Win32Error extends Error {
  readonly api: string;
  readonly code: number;

  constructor(api: string, code: number) {
    super(`${api} failed with Win32 error ${code}${NAMES[code] ? ` (${NAMES[code]})` : ''}`);
    this.name = 'Win32Error';
    this.api = api;
    this.code = code;
  }
}

export function win32Failure(api: string, code: number): HostOperationFailedError {
  const cause = new Win32Error(api, code);
  return new HostOperationFailedError(cause.message, { cause, reason: 'Win32Error' });
}
