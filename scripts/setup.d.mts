// Types of scripts/setup.mjs for the TypeScript tests that import it.
export declare const repoRoot: string;
export declare const toolsDir: string;
export declare const pwshPath: string;
export declare const pesterManifest: string;
export declare const brokerBundle: string;
export declare const distDir: string;
export declare const sessionHostSource: string;
export declare const sessionHostOutput: string;
export declare const typingsOutputDir: string;
export declare const stagedModulesDir: string;
export declare const moduleNames: readonly string[];
export declare class SetupError extends Error {}
export declare function packageVersion(): string;
export declare function moduleVersionOf(version: string): { moduleVersion: string; prerelease: string | undefined; nugetVersion: string };
export declare function stampManifest(text: string, version: string, manifestName: string): string;
export declare function ensureBuild(): void;
export declare function setup(options?: { quiet?: boolean; buildOnly?: boolean }): void;
