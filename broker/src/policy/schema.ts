import { z } from 'zod';
import { accessEntryProblem } from '../platform/windows/pipe-security.js';

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, dot, dash or underscore');
const id = z.number().int().min(0).max(0xffffffff);
const ids = z.union([id, z.array(id).min(1)]);
const account = z.union([id, z.string().min(1)]);

/** Peer facts a profile applies to. Every key given must hold; an empty match holds for every peer. */
export const MatchSchema = z.strictObject({
  uid: ids.optional(),
  gid: ids.optional(),
  /** A namespace name under /run/netns (as made by `ip netns add`). */
  netns: name.optional(),
  /** A glob (`*` within a path segment, `**` across segments) over the peer's cgroup paths. */
  cgroup: z.string().min(1).optional(),
});

const readGrant = z.strictObject({ read: z.boolean() });

/** A host directory a profile may read under; paths are resolved (symlinks, `..`) before comparing. */
export const FileRootSchema = z.strictObject({
  /** Absolute host directory in the host's syntax. */
  path: z.string().min(1),
  /** A glob over paths relative to the root, with `/` separators: `*` within a segment, `**` across. */
  include: z.string().min(1).optional(),
});

export const FilesSchema = z.strictObject({
  roots: z.array(FileRootSchema).min(1),
  /** Bytes one `file/read` may return; default 64 MiB. */
  maxReadBytes: z.number().int().min(1).max(4 * 1024 * 1024 * 1024).optional(),
});

export const CredentialSpecsSchema = z.strictObject({
  /** Where `file://` specs are read; Windows default C:\ProgramData\docker\CredentialSpecs, required on Linux. */
  directory: z.string().min(1).optional(),
  /** References the caller may read, globs allowed in the name: `file://webapp*.json`, `registry://webapp1`, `raw://`. */
  allow: z.array(z.string().min(1)).min(1),
});

const exposedPort = z.string().regex(/^(tcp|udp)\/([1-9]\d{0,4})$/, "must be 'tcp/PORT' or 'udp/PORT'").refine((value) => Number(value.split('/')[1]) <= 65535, 'port must be 1-65535');

/** One program a profile may start, and how. */
export const ProcessRuleSchema = z.strictObject({
  /** The canonical absolute path: callers must name exactly this file, links are not followed. */
  path: z.string().min(1),
  /** Hex SHA-256 of the program; checked on the very file that is executed. */
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').optional(),
  /** Arguments: any, an exact list, or a pattern every argument must match. Default: none allowed. */
  args: z
    .union([
      z.strictObject({ any: z.literal(true) }),
      z.strictObject({ exact: z.array(z.string()) }),
      z.strictObject({ pattern: z.string().min(1) }),
    ])
    .optional(),
  /** Environment variable names the caller may set. */
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name')).optional(),
  /** Directories the caller may choose as working directory (the program's own directory otherwise). */
  workingDirectories: z.array(z.string().min(1)).optional(),
  exposes: z.array(exposedPort).optional(),
  /** May keep running after the caller disconnects. */
  detach: z.boolean().optional(),
});

/** What proxy policies a caller may put on its own endpoint. */
export const ProxyGrantSchema = z.strictObject({
  /** Proxy ports a caller may redirect to. */
  ports: z.array(z.number().int().min(1).max(65535)).min(1),
  /** Users a caller may exempt: Windows SIDs; Linux `uid:N`, `gid:N` or a uid number. */
  exemptUsers: z.array(z.union([z.number().int().min(0), z.string().min(1)])).optional(),
  /** Windows: the container whose HNS endpoints carry the caller's policies (the pipe is the identity). */
  container: z.string().min(1).optional(),
});

const commandName = z.string().regex(/^[A-Za-z][A-Za-z0-9._-]{0,127}$/, "must be a command name such as 'Get-Service'");
const parameterName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a parameter name');

/** A command a session shows; with `parameters`, only those parameters, each optionally constrained (JEA's VisibleCmdlets). */
export const SessionCommandSchema = z.union([
  commandName,
  z.literal('*'),
  z.strictObject({
    name: commandName,
    parameters: z
      .array(
        z.strictObject({
          name: parameterName,
          validateSet: z.array(z.string()).min(1).optional(),
          /** A .NET regular expression the value must match (PowerShell's ValidatePattern: case-insensitive). */
          validatePattern: z.string().min(1).optional(),
        }),
      )
      .optional(),
  }),
]);

/** What host sessions a profile may open, and what runs in them. */
export const SessionsGrantSchema = z.strictObject({
  /** Default true: a `sessions` section grants sessions unless it says `enabled: false`. */
  enabled: z.boolean().optional(),
  /** Default NoLanguage: commands and parameters only, as JEA. */
  languageMode: z.enum(['FullLanguage', 'ConstrainedLanguage', 'NoLanguage']).optional(),
  /** Visible commands; `'*'` shows every command of a default session. Always visible: the remoting basics (Get-Command, Out-Default, Select-Object, Measure-Object, Get-FormatData, Get-Help, Exit-PSSession, Clear-Host). */
  commands: z.array(SessionCommandSchema).optional(),
  /** Modules imported into each session (names or absolute paths); their commands are visible only if listed in `commands`. */
  modules: z.array(z.string().min(1)).optional(),
  /** PowerShell providers available (e.g. FileSystem, Environment, Registry); none by default. */
  providers: z.array(z.string().regex(/^[A-Za-z][A-Za-z0-9.]*$/, 'must be a provider name')).optional(),
  /** External programs a session may run, by absolute path; none by default. */
  programs: z.array(z.string().min(1)).optional(),
  /** Where sessions may run: `host` and/or names under the policy's `containers`. Default `[host]`. */
  targets: z.array(name).min(1).optional(),
  /** Seconds without an invocation before the broker closes a session; 0 = never. Default 900. */
  idleTimeoutSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional(),
  /** Longest an invocation may run, in seconds; 0 = no limit (default). */
  invocationTimeoutSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional(),
  /** Deepest serialization a caller may ask for; default 2. Invocations default to depth 1, as remoting. */
  maxDepth: z.number().int().min(1).max(10).optional(),
}).superRefine((grant, ctx) => {
  // PowerShell starts a program in the current FileSystem location: without the provider none can start.
  const everything = grant.commands?.includes('*') ?? false;
  if (!everything && (grant.programs?.length ?? 0) > 0 && !(grant.providers ?? []).some((provider) => provider.toLowerCase() === 'filesystem')) {
    ctx.addIssue({ code: 'custom', path: ['programs'], message: "programs need the FileSystem provider: add FileSystem to providers" });
  }
});

/** A container a session can be opened in, named for `sessions.targets`: exactly one way to find it. */
export const ContainerSchema = z
  .strictObject({
    /** Linux: a network namespace name under /run/netns. */
    netns: name.optional(),
    /** Linux: a file holding the pid of a process in the container. */
    pidFile: z.string().min(1).optional(),
    /** Linux: a cgroup v2 directory (under /sys/fs/cgroup) whose first process is in the container. */
    cgroup: z.string().min(1).optional(),
    /** Windows: the container id for PowerShell Direct (`New-PSSession -ContainerId`). */
    containerId: z.string().regex(/^[0-9A-Fa-f-]{8,64}$/, 'must be a container id').optional(),
  })
  .refine((container) => [container.netns, container.pidFile, container.cgroup, container.containerId].filter((value) => value !== undefined).length === 1, {
    message: 'give exactly one of netns, pidFile, cgroup or containerId',
  });

export const LimitsSchema = z.strictObject({
  /** Running processes started under this profile, all its callers together. */
  processes: z.number().int().min(0).max(10_000).optional(),
  /** Open sessions under this profile, all its callers together; default 4. */
  sessions: z.number().int().min(0).max(1_000).optional(),
  /** Requests per second for all callers of the profile together (a token bucket, burst = the rate); `initialize` is free. */
  requestsPerSecond: z.number().positive().max(1_000_000).optional(),
});

export const ProfileSchema = z.strictObject({
  match: MatchSchema.optional(),
  host: readGrant.optional(),
  network: readGrant.optional(),
  files: FilesSchema.optional(),
  credentialSpecs: CredentialSpecsSchema.optional(),
  processes: z.array(ProcessRuleSchema).optional(),
  proxy: ProxyGrantSchema.optional(),
  sessions: SessionsGrantSchema.optional(),
  limits: LimitsSchema.optional(),
});

export const ListenerSchema = z.strictObject({
  name,
  /** Socket path (Linux) or pipe name (Windows); default `/run/winshost/<name>.sock` or `\\.\pipe\<name>`. */
  path: z.string().min(1).optional(),
  /** Linux socket file mode as an octal string, e.g. '0660'. */
  mode: z.string().regex(/^0?[0-7]{3}$/, "must be an octal string such as '0660'").optional(),
  owner: account.optional(),
  group: account.optional(),
  /**
   * Windows: who may open the pipe besides SYSTEM and Administrators (always full access): SIDs, SDDL aliases or
   * account names, each given read/write without FILE_CREATE_PIPE_INSTANCE. Ignored on Linux (mode/owner/group).
   */
  access: z
    .array(z.string().min(1).superRefine((entry, ctx) => {
      const problem = accessEntryProblem(entry);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }))
    .optional(),
  /** Profiles tried in order; the first whose match holds is the caller's. */
  profiles: z.array(name).min(1),
  /** Open connections at once; one over it is answered LimitExceeded and closed. Default 256. */
  maxConnections: z.number().int().min(1).max(65_536).optional(),
  /** Seconds without a request or anything in flight before the connection is closed; 0 = never. Default 600. */
  idleTimeoutSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional(),
});

export const PolicySchema = z
  .strictObject({
    version: z.literal(1).optional(),
    listeners: z.array(ListenerSchema).min(1),
    profiles: z.record(name, ProfileSchema),
    audit: z
      .strictObject({
        path: z.string().min(1),
        /** Keep serving while the log cannot be written (default: deny every request until it can). */
        failOpen: z.boolean().optional(),
      })
      .optional(),
    /** The session host: the PowerShell the broker starts for sessions. */
    sessionHost: z
      .strictObject({
        /** pwsh or powershell.exe by absolute path. Default: pwsh on PATH (Linux); PowerShell 7 if installed, else Windows PowerShell (Windows). */
        executable: z.string().min(1).refine((path) => /^(\/|[A-Za-z]:\\)/.test(path), 'must be an absolute path').optional(),
        /** Session hosts kept started and waiting, so opening a session does not wait for PowerShell to start. Default 1. */
        warm: z.number().int().min(0).max(8).optional(),
        /** Variables set in session hosts, besides PATH, HOME, LANG and what .NET needs. */
        environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name'), z.string()).optional(),
      })
      .optional(),
    /** Containers sessions can be opened in, by name. */
    containers: z.record(name, ContainerSchema).optional(),
    limits: z
      .strictObject({
        maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).optional(),
      })
      .optional(),
  })
  .superRefine((policy, ctx) => {
    const seenNames = new Set<string>();
    const seenPaths = new Set<string>();
    policy.listeners.forEach((listener, i) => {
      if (seenNames.has(listener.name)) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'name'], message: `listener name '${listener.name}' is used twice` });
      seenNames.add(listener.name);
      if (listener.path !== undefined) {
        if (seenPaths.has(listener.path)) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'path'], message: `listener path '${listener.path}' is used twice` });
        seenPaths.add(listener.path);
      }
      listener.profiles.forEach((profile, j) => {
        if (!Object.hasOwn(policy.profiles, profile)) {
          ctx.addIssue({ code: 'custom', path: ['listeners', i, 'profiles', j], message: `profile '${profile}' is not defined under profiles` });
        }
      });
    });
    for (const [profileName, profile] of Object.entries(policy.profiles)) {
      profile.sessions?.targets?.forEach((target, i) => {
        if (target !== 'host' && !Object.hasOwn(policy.containers ?? {}, target)) {
          ctx.addIssue({ code: 'custom', path: ['profiles', profileName, 'sessions', 'targets', i], message: `target '${target}' is neither 'host' nor defined under containers` });
        }
      });
    }
    if (Object.hasOwn(policy.containers ?? {}, 'host')) ctx.addIssue({ code: 'custom', path: ['containers', 'host'], message: "'host' is the host itself and cannot name a container" });
  });

export type Policy = z.infer<typeof PolicySchema>;
export type Profile = z.infer<typeof ProfileSchema>;
export type Listener = z.infer<typeof ListenerSchema>;
export type Match = z.infer<typeof MatchSchema>;
export type FileRoot = z.infer<typeof FileRootSchema>;
export type FilesGrant = z.infer<typeof FilesSchema>;
export type CredentialSpecsGrant = z.infer<typeof CredentialSpecsSchema>;
export type ProcessRule = z.infer<typeof ProcessRuleSchema>;
export type ProxyGrant = z.infer<typeof ProxyGrantSchema>;
export type SessionsGrant = z.infer<typeof SessionsGrantSchema>;
export type SessionCommand = z.infer<typeof SessionCommandSchema>;
export type ContainerRef = z.infer<typeof ContainerSchema>;
