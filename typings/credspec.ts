import { RequestType } from 'vscode-jsonrpc';

/** Where a credential spec comes from, as Docker's `--security-opt credentialspec=` names it. */
export type CredentialSpecSource = 'file' | 'registry' | 'raw';

export interface GroupManagedServiceAccount {
  Name: string;
  Scope: string;
}

/** The credential spec document (New-CredentialSpec's output). */
export interface CredentialSpec {
  CmsPlugins: string[];
  DomainJoinConfig: {
    Sid: string;
    MachineAccountName: string;
    Guid: string;
    DnsTreeName: string;
    DnsName: string;
    NetBiosName: string;
  };
  ActiveDirectoryConfig?: {
    GroupManagedServiceAccounts: GroupManagedServiceAccount[];
    HostAccountConfig?: Record<string, unknown>;
  };
  [key: string]: unknown;
}

export interface CredentialSpecInfo {
  /** The reference as given, e.g. `file://webapp1.json`. */
  Uri: string;
  Source: CredentialSpecSource;
  /** The file or registry value name; empty for raw. */
  Name: string;
  /** file: the host path read. */
  Path?: string;
}

export interface CredentialSpecListParams {}

export interface CredentialSpecListResult {
  specs: CredentialSpecInfo[];
}

export interface CredentialSpecGetParams {
  /** `file://NAME`, `registry://NAME` or `raw://JSON` (scheme case-insensitive). */
  uri: string;
}

export interface CredentialSpecGetResult extends CredentialSpecInfo {
  Spec: CredentialSpec;
}

export interface CredentialSpecProblem {
  /** JSON path of the field, e.g. `DomainJoinConfig.Sid`. */
  Field: string;
  Message: string;
}

export interface CredentialSpecAccountCheck {
  Name: string;
  Scope: string;
  /** True or false on Windows hosts; null where it cannot be checked (Linux). */
  Resolved: boolean | null;
  Detail: string;
}

export interface CredentialSpecTestResult extends CredentialSpecInfo {
  Valid: boolean;
  Problems: CredentialSpecProblem[];
  Accounts: CredentialSpecAccountCheck[];
}

export namespace CredentialSpecListRequest {
  export const method = 'credspec/list' as const;
  export const type = new RequestType<CredentialSpecListParams, CredentialSpecListResult, void>(method);
}

export namespace CredentialSpecGetRequest {
  export const method = 'credspec/get' as const;
  export const type = new RequestType<CredentialSpecGetParams, CredentialSpecGetResult, void>(method);
}

export namespace CredentialSpecTestRequest {
  export const method = 'credspec/test' as const;
  export const type = new RequestType<CredentialSpecGetParams, CredentialSpecTestResult, void>(method);
}
