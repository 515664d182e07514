import { RequestType } from 'vscode-jsonrpc';

/** Ports and addresses that bypass the proxy in one direction. */
export interface ProxyExceptions {
  Ports?: number[];
  /** IP addresses or CIDRs, IPv4 or IPv6. */
  IpAddresses?: string[];
}

/**
 * The model of HNS `L4WfpProxyPolicySetting`: send a container's TCP traffic through its sidecar proxy.
 * At least one of the proxy ports is required.
 */
export interface ProxyPolicySettings {
  InboundProxyPort?: number;
  OutboundProxyPort?: number;
  /** Default TCP. UDP only where the platform supports it. */
  Protocol?: 'TCP' | 'UDP';
  InboundExceptions?: ProxyExceptions;
  OutboundExceptions?: ProxyExceptions;
  /**
   * Traffic of this user is not redirected (the proxy's own). Windows: a SID (a group SID covers its
   * members). Linux: `uid:N`, `gid:N` (the primary gid only) or a bare uid number.
   */
  ExemptUser?: string;
  /** Lower applies first. Default 100. */
  Priority?: number;
}

export interface ProxyPolicy extends ProxyPolicySettings {
  /** Assigned by the broker. */
  Id: string;
  /** Linux: the caller's network namespace (`net:[inode]`); Windows: the container whose HNS endpoints carry it. */
  Target: string;
  /** True when what is on the host still matches what was asked (checked when listed). */
  Applied: boolean;
  /** ISO 8601. */
  Created: string;
}

export interface ProxyAddParams {
  policy: ProxyPolicySettings;
}

export type ProxyAddResult = ProxyPolicy;

export interface ProxyListParams {}

export interface ProxyListResult {
  policies: ProxyPolicy[];
}

export interface ProxyRemoveParams {
  /** One policy; or all of the caller's with `all`. */
  id?: string;
  all?: boolean;
}

export interface ProxyRemoveResult {
  removed: string[];
}

export namespace ProxyAddRequest {
  export const method = 'proxy/add' as const;
  export const type = new RequestType<ProxyAddParams, ProxyAddResult, void>(method);
}
export namespace ProxyListRequest {
  export const method = 'proxy/list' as const;
  export const type = new RequestType<ProxyListParams, ProxyListResult, void>(method);
}
export namespace ProxyRemoveRequest {
  export const method = 'proxy/remove' as const;
  export const type = new RequestType<ProxyRemoveParams, ProxyRemoveResult, void>(method);
}
