import { z } from 'zod';

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

export const LimitsSchema = z.strictObject({
  /** Running processes started under this profile, all its callers together. */
  processes: z.number().int().min(0).max(10_000).optional(),
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
