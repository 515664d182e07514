/**
 * Credential spec references (`--security-opt credentialspec=...`) and documents (New-CredentialSpec's
 * JSON). Pure: reading files and registry values is the handler's and the platform's job.
 */
import { z } from 'zod';
import type { CredentialSpec, CredentialSpecProblem } from '../../../typings/credspec.js';
import { InvalidParamsError } from '../errors.js';
import { globToRegExp } from '../policy/decide.js';

export interface CredentialSpecReference {
  uri: string;
  source: 'file' | 'registry' | 'raw';
  /** file: the relative name as given; registry: the value name; raw: '' */
  name: string;
  /** raw: the JSON text */
  text?: string;
}

const sources = ['file', 'registry', 'raw'] as const;
type Source = (typeof sources)[number];

const acceptedForms = 'file://NAME, registry://NAME or raw://JSON';

/**
 * Parses a reference as Docker's daemon accepts it: `file://NAME`, `registry://NAME`, `raw://JSON`, scheme
 * case-insensitive. Throws InvalidParamsError(message, 'uri', reason) with reason 'Empty' (empty string, or
 * empty value after the scheme), 'UnsupportedScheme' (config://, http://, no scheme, anything else).
 */
export function parseCredentialSpecReference(uri: string): CredentialSpecReference {
  if (typeof uri !== 'string') throw new InvalidParamsError(`uri must be a string of the form ${acceptedForms}`, 'uri');
  if (uri === '') throw new InvalidParamsError(`uri is empty; give ${acceptedForms}`, 'uri', 'Empty');
  const split = splitScheme(uri);
  if (!split) {
    throw new InvalidParamsError(`credential spec reference has no scheme; give ${acceptedForms}`, 'uri', 'UnsupportedScheme');
  }
  const source = asSource(split.scheme);
  if (!source) {
    // config:// exists in Docker only for swarm services, where the daemon reads the swarm's config store.
    throw new InvalidParamsError(
      `credential spec scheme '${split.scheme}://' is not supported; give ${acceptedForms}`,
      'uri',
      'UnsupportedScheme',
    );
  }
  if (split.value === '') {
    throw new InvalidParamsError(`credential spec reference '${uri}' has nothing after '${split.scheme}://'`, 'uri', 'Empty');
  }
  if (source === 'raw') return { uri, source, name: '', text: split.value };
  return { uri, source, name: split.value };
}

/**
 * Whether a policy allow list admits a reference: entries like `file://webapp*.json` (glob over the name via
 * globToRegExp; file names compared case-insensitively, as Windows does), `registry://webapp1`
 * (case-insensitive, as the registry is), `raw://` (any raw spec). Scheme case-insensitive. An allow entry
 * that is malformed never matches.
 */
export function credentialSpecAllowed(reference: CredentialSpecReference, allow: string[]): boolean {
  return allow.some((entry) => entryAdmits(entry, reference));
}

function entryAdmits(entry: unknown, reference: CredentialSpecReference): boolean {
  if (typeof entry !== 'string') return false;
  const split = splitScheme(entry);
  if (!split) return false;
  const source = asSource(split.scheme);
  if (source !== reference.source) return false;
  // A pattern over inline JSON would be a pattern over whitespace and key order; `raw://` is all or nothing.
  if (source === 'raw') return split.value === '';
  if (split.value === '') return false;
  return globMatches(split.value, reference.name);
}

/**
 * Both sides are compared with `/` for `\` so that `*`, which stops at `/`, also stops at a Windows
 * separator: `file://*.json` must not admit `sub\x.json`.
 */
function globMatches(pattern: string, name: string): boolean {
  const glob = globToRegExp(pattern.replace(/\\/g, '/'));
  return new RegExp(glob.source, 'iu').test(name.replace(/\\/g, '/'));
}

function splitScheme(text: string): { scheme: string; value: string } | undefined {
  const at = text.indexOf('://');
  if (at <= 0) return undefined;
  return { scheme: text.slice(0, at), value: text.slice(at + 3) };
}

function asSource(scheme: string): Source | undefined {
  const lower = scheme.toLowerCase();
  return sources.find((s) => s === lower);
}

// ---------------------------------------------------------------------------------------------------------

const nonEmpty = () => z.string().min(1);

/** Domain SIDs are S-1-5-21 and three 32-bit sub-authorities; a user or group SID carries a fourth (the RID). */
const domainSid = z.string().refine(
  (s) => /^S-1-5-21(-\d{1,10}){3}$/i.test(s) && s.split('-').slice(4).every((n) => Number(n) <= 0xffffffff),
  { error: 'must be a domain SID: S-1-5-21 followed by three numbers, e.g. S-1-5-21-1004336348-1177238915-682003330' },
);

const guidPattern = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;
// New-CredentialSpec writes the domain GUID bare and the plugin's CLSID in braces; both forms are accepted,
// but not a half-braced one.
const guid = z.string().refine((s) => guidPattern.test(s) && s.startsWith('{') === s.endsWith('}'), {
  error: 'must be a GUID, e.g. 630a7dd3-2d3e-4471-ae91-1d9ea2556cd5',
});

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const dnsName = z.string().refine((s) => s.length <= 253 && s.split('.').every((label) => dnsLabel.test(label)), {
  error: 'must be a DNS name such as contoso.com: labels of letters, digits and hyphens separated by dots',
});

const netBiosName = z
  .string()
  .min(1)
  .max(15)
  .refine((s) => !/[\\/:*?"<>|]/.test(s) && !s.startsWith('.'), {
    error: 'must not contain \\ / : * ? " < > | or start with a dot',
  });

const gmsa = z.looseObject({ Name: nonEmpty(), Scope: nonEmpty() });

const hostAccountConfig = z.looseObject({
  PortableCcgVersion: nonEmpty(),
  PluginGUID: guid,
  // Microsoft's plugins take a string; AWS's takes an object with CredentialArn. CCG hands it to the plugin.
  PluginInput: z.union([nonEmpty(), z.record(z.string(), z.unknown())], { error: 'must be a string or an object' }),
});

const credentialSpecSchema = z.looseObject({
  CmsPlugins: z
    .array(nonEmpty())
    .min(1)
    .refine((plugins) => plugins.length === 0 || plugins.some((p) => typeof p === 'string' && p.toLowerCase() === 'activedirectory'), {
      error: "must include 'ActiveDirectory'",
      // Report a missing plugin even when another entry has the wrong type, so one pass shows every problem.
      when: (payload) => Array.isArray(payload.value),
    }),
  DomainJoinConfig: z.looseObject({
    Sid: domainSid,
    MachineAccountName: nonEmpty(),
    Guid: guid,
    DnsTreeName: dnsName,
    DnsName: dnsName,
    NetBiosName: netBiosName,
  }),
  ActiveDirectoryConfig: z
    .looseObject({
      GroupManagedServiceAccounts: z.array(gmsa).min(1),
      HostAccountConfig: hostAccountConfig.optional(),
    })
    .optional(),
});

/** Validates JSON text against the credential spec shape; never throws. */
export function validateCredentialSpecText(text: string): { spec: CredentialSpec | undefined; problems: CredentialSpecProblem[] } {
  let value: unknown;
  try {
    // A file written by PowerShell 5 (`Out-File -Encoding utf8`) starts with a byte order mark JSON.parse refuses.
    value = JSON.parse(String(text).replace(/^\uFEFF/, ''));
  } catch (error) {
    return { spec: undefined, problems: [{ Field: '', Message: `not valid JSON: ${(error as Error).message}` }] };
  }
  return validateCredentialSpec(value);
}

export function validateCredentialSpec(value: unknown): { spec: CredentialSpec | undefined; problems: CredentialSpecProblem[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { spec: undefined, problems: [{ Field: '', Message: `a credential spec must be a JSON object, not ${kindOf(value)}` }] };
  }
  const result = credentialSpecSchema.safeParse(value, { reportInput: true, error: describeIssue });
  if (result.success) return { spec: result.data as CredentialSpec, problems: [] };
  return {
    spec: undefined,
    problems: result.error.issues.map((issue) => ({ Field: fieldPath(issue.path), Message: issue.message })),
  };
}

/** Messages for the issues the schema does not word itself (types, missing keys, lengths). */
function describeIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${article(issue.expected)}, not ${kindOf(issue.input)}`;
    case 'too_small':
      return 'must not be empty';
    case 'too_big':
      return `must be at most ${issue.maximum} ${issue.origin === 'array' ? 'entries' : 'characters'}`;
    default:
      return undefined;
  }
}

function article(expected: string): string {
  if (expected === 'object' || expected === 'record') return 'an object';
  if (expected === 'array') return 'an array';
  return `a ${expected}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function fieldPath(path: PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
