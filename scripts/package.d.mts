// Types of scripts/package.mjs for the TypeScript tests that import it.
export interface ZipEntry {
  name: string;
  data: Buffer;
  /** Unix permission bits; 0o644 when absent. */
  mode?: number;
}
export declare const supportedPlatforms: readonly string[];
export declare const hostPlatform: string;
export declare const defaultPackagesDir: string;
export declare function writeZip(path: string, entries: ZipEntry[]): void;
export declare function readZip(path: string): Map<string, { data: Buffer; mode: number | undefined }>;
export declare function moduleNupkgEntries(name: string, stagedDir: string, license: string): { version: string; entries: ZipEntry[] };
export declare function createPackages(options?: { outDir?: string; platforms?: string[] }): string[];
export declare function defaultBrokerDir(platform?: NodeJS.Platform): string;
export declare function defaultModulePath(scope: 'CurrentUser' | 'AllUsers', platform?: NodeJS.Platform): string;
export declare function installPackage(options?: {
  packagePath?: string;
  outDir?: string;
  brokerDir?: string;
  modulePath?: string;
  scope?: 'CurrentUser' | 'AllUsers';
  service?: boolean;
  serviceArgs?: string[];
}): { brokerDir: string; modules: string[] };
