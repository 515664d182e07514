import { RequestType } from 'vscode-jsonrpc';

export interface ClientInfo {
  name: string;
  version?: string;
}

export interface InitializeParams {
  clientInfo: ClientInfo;
  /** The major protocol version the client speaks. */
  protocolVersion: number;
}

/** What the broker knows about the peer, so users can debug their policy. */
export interface CallerInfo {
  listener: string;
  profile: string;
  /** Linux: from SO_PEERCRED at accept time. Absent on Windows, where the pipe is the capability. */
  pid?: number;
  uid?: number;
  gid?: number;
  /** Linux: the peer's network namespace, pinned at accept time, as `net:[inode]`. */
  netns?: string;
  /** Linux: the name under /run/netns when the namespace has one. */
  netnsName?: string;
}

export interface Capabilities {
  /** Method names this caller's profile may call. */
  methods: string[];
}

export interface InitializeResult {
  serverInfo: { name: string; version: string; platform: 'linux' | 'windows' };
  protocolVersion: number;
  capabilities: Capabilities;
  caller: CallerInfo;
}

export namespace InitializeRequest {
  export const method = 'initialize' as const;
  export const type = new RequestType<InitializeParams, InitializeResult, void>(method);
}
