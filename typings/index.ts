export * from './protocol.js';
export * from './initialize.js';
export * from './host.js';
export * from './network.js';
export * from './files.js';
export * from './credspec.js';
export * from './process.js';
export * from './proxy.js';
export * from './session.js';

import { InitializeRequest } from './initialize.js';
import { HostInfoRequest } from './host.js';
import { NetworkAdaptersRequest, NetworkRoutesRequest } from './network.js';
import { FileListRequest, FileReadRequest } from './files.js';
import { CredentialSpecGetRequest, CredentialSpecListRequest, CredentialSpecTestRequest } from './credspec.js';
import { ProxyAddRequest, ProxyListRequest, ProxyRemoveRequest } from './proxy.js';
import { SessionInvokeRequest, SessionListRequest, SessionNewRequest, SessionRemoveRequest } from './session.js';
import { ProcessListRequest, ProcessReceiveRequest, ProcessStartRequest, ProcessStopRequest, ProcessWaitRequest, ProcessWriteRequest } from './process.js';

/** Every request method of protocol version 1. The module's calls are checked against this list. */
export const Methods = [
  InitializeRequest.method,
  HostInfoRequest.method,
  NetworkAdaptersRequest.method,
  NetworkRoutesRequest.method,
  FileListRequest.method,
  FileReadRequest.method,
  CredentialSpecListRequest.method,
  CredentialSpecGetRequest.method,
  CredentialSpecTestRequest.method,
  ProcessStartRequest.method,
  ProcessListRequest.method,
  ProcessWaitRequest.method,
  ProcessStopRequest.method,
  ProcessWriteRequest.method,
  ProcessReceiveRequest.method,
  ProxyAddRequest.method,
  ProxyListRequest.method,
  ProxyRemoveRequest.method,
  SessionNewRequest.method,
  SessionListRequest.method,
  SessionRemoveRequest.method,
  SessionInvokeRequest.method,
] as const;

export type MethodName = (typeof Methods)[number];
