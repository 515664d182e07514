export * from './protocol.js';
export * from './initialize.js';
export * from './host.js';
export * from './network.js';

import { InitializeRequest } from './initialize.js';
import { HostInfoRequest } from './host.js';
import { NetworkAdaptersRequest, NetworkRoutesRequest } from './network.js';

/** Every request method of protocol version 1. The module's calls are checked against this list. */
export const Methods = [
  InitializeRequest.method,
  HostInfoRequest.method,
  NetworkAdaptersRequest.method,
  NetworkRoutesRequest.method,
] as const;

export type MethodName = (typeof Methods)[number];
