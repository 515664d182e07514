import { RequestType } from 'vscode-jsonrpc';

export interface HostInfoParams {}

/** The values wins' `hst get-version` reports, from HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion. */
export interface WindowsVersionInfo {
  CurrentMajorVersionNumber: number | null;
  CurrentMinorVersionNumber: number | null;
  CurrentBuildNumber: string | null;
  UBR: number | null;
  ReleaseId: string | null;
  BuildLabEx: string | null;
  CurrentBuild: string | null;
  ProductName: string | null;
  DisplayVersion: string | null;
}

export interface HostInfoResult {
  HostName: string;
  Platform: 'linux' | 'windows';
  OSName: string;
  OSVersion: string;
  /** Windows: `CurrentBuildNumber.UBR`; Linux: the distribution's VERSION_ID or null. */
  OSBuild: string | null;
  KernelVersion: string;
  Architecture: string;
  UptimeSeconds: number;
  /** ISO 8601. */
  BootTime: string;
  BrokerVersion: string;
  /** Windows only. */
  WindowsVersion?: WindowsVersionInfo;
}

export namespace HostInfoRequest {
  export const method = 'host/info' as const;
  export const type = new RequestType<HostInfoParams, HostInfoResult, void>(method);
}
