import type { HostInfoResult, NetworkAdapter, NetworkRoute } from '../../../typings/index.js';

/** Host facts as the OS reports them; the broker adds its own version. */
export type HostFacts = Omit<HostInfoResult, 'BrokerVersion'>;

export interface HostPlatformHost {
  info(): Promise<HostFacts>;
}

export interface AdapterSnapshot {
  adapters: NetworkAdapter[];
  /** InterfaceIndex of the adapter that carries the IPv4 default route (else IPv6), or null. */
  defaultInterfaceIndex: number | null;
}

export interface HostPlatformNetwork {
  adapters(): Promise<AdapterSnapshot>;
  routes(): Promise<NetworkRoute[]>;
}

/** File access that differs by OS; the reading itself is Node's fs on both. */
export interface HostPlatformFiles {
  /** The path syntax of host paths: callers' paths and policy roots are checked with it. */
  readonly syntax: 'posix' | 'win32';
  /**
   * The real path of an open file descriptor: what the handle actually refers to after every link was
   * followed. Checking this after opening, not the name before, leaves no window to swap a link in.
   */
  realPathOfDescriptor(fd: number): Promise<string>;
  /**
   * Names in a directory, with the real path of the directory that was actually read. Where the OS allows,
   * the directory is opened first and read through that handle, so the path checked is the one listed.
   */
  readDirectory(path: string): Promise<{ realPath: string; names: string[] }>;
}

/** Credential spec sources that only some hosts have. */
export interface HostPlatformCredentialSpecs {
  /** Where `file://` specs live when the policy names no directory; null where there is no default. */
  readonly defaultDirectory: string | null;
  /** The value named under HKLM\...\Virtualization\Containers\CredentialSpecs, null if absent. */
  readRegistrySpec(name: string): Promise<string | null>;
  /** Value names under that key. */
  listRegistrySpecs(): Promise<string[]>;
  /** Whether a gMSA can be used on this host; `resolved: null` where the host cannot tell. */
  checkServiceAccount(name: string): Promise<{ resolved: boolean | null; detail: string }>;
}

/** What the broker starts: everything already checked against policy. */
export interface ProcessLaunch {
  /** The canonical path of the program. */
  path: string;
  args: string[];
  /** The complete environment of the child. */
  env: Record<string, string>;
  cwd: string;
  stdin: boolean;
  detach: boolean;
  /** Detached processes write here instead of to pipes, so their output outlives the broker. */
  outputFiles?: { stdout: string; stderr: string };
  /** An open descriptor of the program, hashed by the caller; where the OS allows, that is what runs. */
  programFd?: number;
}

/**
 * Where a launched process reports. They are attached before launch returns: Node discards the output of a
 * child whose pipes have no listener when it exits, and a quick program can exit before an await is over.
 */
export interface ProcessEvents {
  output(stream: 'stdout' | 'stderr', chunk: Buffer, source: import('node:stream').Readable): void;
  /** After the exit and after both output pipes ended. */
  close(exitCode: number | null, signal: NodeJS.Signals | null): void;
}

/** A started process and the OS means to end its whole tree. */
export interface LaunchedProcess {
  child: import('node:child_process').ChildProcess;
  pid: number;
  /** An OS-specific token that identifies this process instance across pid reuse (Linux: start time). */
  instance: string;
  /** Linux: the cgroup v2 directory that holds the whole tree, when the host allows one (else process groups). */
  cgroup?: string;
  /** Ends the process tree: politely, then by force after `graceMs`. */
  stopTree(graceMs: number): Promise<void>;
  /** Releases OS resources kept for the tree (Windows: the job handle) without ending it. */
  release(): void;
}

/** Processes: starting with the tree tied to the broker, ending whole trees, finding them after a restart. */
export interface HostPlatformProcesses {
  /** What every child gets before the caller's allowed variables: the broker's own environment is not passed on. */
  baseEnvironment(): Record<string, string>;
  launch(spec: ProcessLaunch, events: ProcessEvents): Promise<LaunchedProcess>;
  /** The instance token of a running pid, or null when no such process runs now. */
  instanceOf(pid: number): Promise<string | null>;
  /**
   * Ends the tree of a process from a previous broker run (not our child any more). With the `cgroup` it
   * was launched in, the whole cgroup ends, even when its first process is already gone.
   */
  stopOrphanTree(pid: number, instance: string, graceMs: number, cgroup?: string): Promise<void>;
  /** How started trees are held together on this host, for the broker's start-up log. */
  containment?(): string;
  /** Opens the firewall for a port of a process; `close` undoes exactly that. */
  exposePort(port: { protocol: 'tcp' | 'udp'; port: number }, owner: string): Promise<void>;
  closePort(port: { protocol: 'tcp' | 'udp'; port: number }, owner: string): Promise<void>;
}

/** Where a caller's proxy policies are applied. */
export interface ProxyTargetRef {
  /** Stable key of the target: `net:[inode]` (Linux) or the container id (Windows). */
  key: string;
  /** Linux: an open descriptor of the caller's network namespace, pinned at accept time. */
  netnsFd?: number;
  /** Linux: what finds the namespace again after a broker restart. */
  netnsInode?: number;
  netnsName?: string;
  pid?: number;
  /** Windows: the container whose HNS endpoints carry the policies (from the caller's profile). */
  containerId?: string;
}

/** A target as the state directory keeps it: enough to find it again, no descriptors. */
export type ProxyTargetRecord = Omit<ProxyTargetRef, 'netnsFd'>;

/** Proxy redirection of a caller's traffic: HNS L4WFPPROXY on Windows, nftables on Linux. */
export interface HostPlatformProxy {
  readonly supportsUdp: boolean;
  /** Makes the target carry exactly these policies (every WinsHost policy of it), atomically where the OS can. */
  apply(target: ProxyTargetRef, policies: import('../../../typings/index.js').ProxyPolicy[]): Promise<void>;
  /** Whether the target still carries exactly these policies. */
  check(target: ProxyTargetRef, policies: import('../../../typings/index.js').ProxyPolicy[]): Promise<boolean>;
  /** Finds a recorded target again (after a restart); undefined when it is gone. The caller releases it. */
  reopen(record: ProxyTargetRecord): Promise<ProxyTargetRef | undefined>;
  /** Closes what `reopen` opened. */
  release(target: ProxyTargetRef): void;
}

/** A container a session host runs in, found from the policy's `containers` entry. */
export interface ResolvedContainer {
  /** The name under `containers`. */
  name: string;
  /** Linux: open namespace descriptors the host joins (net, then uts and ipc when known), closed by `release`. */
  namespaces?: { net: number; uts?: number; ipc?: number };
  /** Added to the session host's open config (Windows: the `containerId` for PowerShell Direct). */
  openConfig: { containerId?: string };
  /** Closes what resolving opened; the spawned host keeps its own copies. */
  release(): void;
}

/** How a session host is started: everything decided by the broker and the policy already. */
export interface SessionHostSpawn {
  /** pwsh or powershell.exe, by absolute path. */
  executable: string;
  args: string[];
  /** The policy's `sessionHost.environment`, added to the platform's minimal environment. */
  env: Record<string, string>;
  cwd: string;
  /** Absent for the `host` target. */
  container?: ResolvedContainer;
}

/** Session hosts: the PowerShell processes behind host sessions. */
export interface HostPlatformSessions {
  /** The PowerShell to run when the policy names none; HostOperationFailed `PowerShellNotFound` when there is none. */
  defaultExecutable(): Promise<string>;
  /** Finds a container now; NotFound `ContainerNotFound` when it is not there (or not running). */
  resolveContainer(name: string, ref: import('../policy/schema.js').ContainerRef): Promise<ResolvedContainer>;
  /** Starts a session host with piped stdin, stdout and stderr; spawn failures arrive as the child's `error`. */
  spawnHost(spec: SessionHostSpawn): import('node:child_process').ChildProcess;
  /**
   * Once at broker start, before anything is served: ends what the session hosts of an earlier run that
   * died left behind, as recorded in `stateDir`, and records this run's there from now on (Linux: their
   * cgroups, in sessions.json). Returns how many were ended. Absent where a host's job object ends it all.
   */
  restore?(stateDir: string, log: (message: string) => void): number;
}

/**
 * The OS layer under the handlers. One implementation per OS (`platform/linux`, `platform/windows`);
 * tests pass fakes. Every method reads or acts on the host, never on caller-supplied paths.
 */
export interface HostPlatform {
  readonly name: 'linux' | 'windows';
  readonly host: HostPlatformHost;
  readonly network: HostPlatformNetwork;
  readonly files: HostPlatformFiles;
  readonly credentialSpecs: HostPlatformCredentialSpecs;
  readonly processes: HostPlatformProcesses;
  readonly proxy: HostPlatformProxy;
  readonly sessions: HostPlatformSessions;
}
