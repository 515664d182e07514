import path from 'node:path';
import { InvalidParamsError } from '../../errors.js';
import { decodeUtf16 } from './files.js';
import { readRegistryValue, type RegGetValueCall } from './host.js';
import { ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_SUCCESS, win32Failure } from './win32.js';

/** Where Docker (moby `daemon/oci_windows.go`) looks up `registry://NAME` specs, under HKEY_LOCAL_MACHINE. */
export const CREDENTIAL_SPECS_KEY =
  'SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\Containers\\CredentialSpecs';

/** winnt.h / winerror.h values only this file uses. */
export const KEY_READ = 0x0002_0019;
export const REG_SZ = 1;
export const ERROR_NO_MORE_ITEMS = 259;
/** "Registry Element Size Limits": a value name is at most 16,383 characters. */
export const MAX_VALUE_NAME_CHARS = 16_383;

/**
 * Docker's default data-root is `%ProgramData%\docker`; `file://` specs live in its `CredentialSpecs`. A
 * ProgramData that is not a drive or UNC path would make the directory relative to the broker's working
 * directory, so it is ignored in favour of the stock location.
 */
export function defaultCredentialSpecsDirectory(env: NodeJS.ProcessEnv): string {
  const programData = env.ProgramData;
  const base = programData && /^(?:[A-Za-z]:[\\/]|[\\/]{2}[^\\/])/.test(programData) ? programData : 'C:\\ProgramData';
  return path.win32.join(base, 'docker', 'CredentialSpecs');
}

/**
 * Why a name cannot be a `registry://` spec name, or null. The registry itself allows backslashes in value
 * names, but a caller writing `registry://a\b` most likely means a subkey, which this key does not have: the
 * name is refused rather than read as a literal value name. NUL would end the UTF-16 string koffi passes, so
 * the API would read a different (shorter) name. Empty is the key's default value, not a spec.
 */
export function registrySpecNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.length > MAX_VALUE_NAME_CHARS) return `is longer than ${MAX_VALUE_NAME_CHARS} characters`;
  return null;
}

export function assertRegistrySpecName(name: string): void {
  const problem = registrySpecNameProblem(name);
  if (problem) throw new InvalidParamsError(`uri: the registry credential spec name ${problem}`, 'uri', 'InvalidName');
}

/**
 * The REG_SZ value `name` under the CredentialSpecs key; null if the value or the key is missing (RegGetValueW
 * reports both as ERROR_FILE_NOT_FOUND). A value of another type is a host fault (ERROR_UNSUPPORTED_TYPE),
 * not an absent spec: it names what is wrong with the host's configuration.
 */
export function readRegistrySpec(call: RegGetValueCall, name: string): string | null {
  assertRegistrySpecName(name);
  return readRegistryValue(call, CREDENTIAL_SPECS_KEY, name, 'sz');
}

/**
 * The advapi32 calls that enumerate one key's values, reduced so tests can stand in for them. `openKey` is
 * RegOpenKeyExW(HKEY_LOCAL_MACHINE, subKey, 0, access, &key); `key` receives the HKEY.
 */
export interface RegistryKeyCalls {
  openKey(subKey: string, access: number, key: [unknown]): number;
  /** RegQueryInfoKeyW with only the value count and the longest value name (in characters, no NUL) asked for. */
  queryInfoKey(key: bigint, values: [number], maxValueNameChars: [number]): number;
  /** RegEnumValueW(key, index, name, &nameChars, NULL, &type, NULL, NULL): name and type, never the data. */
  enumValue(key: bigint, index: number, name: Buffer, nameChars: [number], type: [number]): number;
  closeKey(key: bigint): number;
}

function keyHandle(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  throw new TypeError('RegOpenKeyExW succeeded without returning a key');
}

/**
 * The names of the values of type `type` under HKLM\`subKey`, in enumeration order (the registry keeps none);
 * a missing key has none. Names a spec lookup would refuse are left out, so every listed name can be read.
 * The key is closed whatever happens once it is open.
 */
export function listRegistryValueNames(calls: RegistryKeyCalls, subKey: string, type = REG_SZ): string[] {
  const out: [unknown] = [null];
  const opened = calls.openKey(subKey, KEY_READ, out);
  if (opened === ERROR_FILE_NOT_FOUND) return [];
  if (opened !== ERROR_SUCCESS) throw win32Failure('RegOpenKeyExW', opened);
  const key = keyHandle(out[0]);
  try {
    const count: [number] = [0];
    const longest: [number] = [0];
    const info = calls.queryInfoKey(key, count, longest);
    if (info !== ERROR_SUCCESS) throw win32Failure('RegQueryInfoKeyW', info);
    let chars = Math.min(longest[0], MAX_VALUE_NAME_CHARS) + 1;
    const names: string[] = [];
    const seen = new Set<string>();
    for (let index = 0; ; index++) {
      const name = Buffer.alloc(chars * 2);
      const length: [number] = [chars];
      const valueType: [number] = [0];
      const status = calls.enumValue(key, index, name, length, valueType);
      if (status === ERROR_NO_MORE_ITEMS) break;
      // A longer name was added since RegQueryInfoKeyW: retry this index once with room for any name.
      if (status === ERROR_MORE_DATA && chars <= MAX_VALUE_NAME_CHARS) {
        chars = MAX_VALUE_NAME_CHARS + 1;
        index--;
        continue;
      }
      if (status !== ERROR_SUCCESS) throw win32Failure('RegEnumValueW', status);
      if (valueType[0] !== type) continue;
      const text = decodeUtf16(name, length[0]);
      // Values added or removed while enumerating shift the indexes, which can repeat a name.
      if (registrySpecNameProblem(text) === null && !seen.has(text)) {
        seen.add(text);
        names.push(text);
      }
    }
    return names;
  } finally {
    // Nothing useful can be done about a failed close; the listing stands.
    calls.closeKey(key);
  }
}

export function listRegistrySpecs(calls: RegistryKeyCalls): string[] {
  return listRegistryValueNames(calls, CREDENTIAL_SPECS_KEY, REG_SZ);
}

/** lmaccess.h MSA_INFO_STATE, the only member of MSA_INFO_0 (InfoLevel 0). */
export const MSA_INFO_STATE = {
  MsaInfoNotExist: 1,
  MsaInfoNotService: 2,
  MsaInfoCannotInstall: 3,
  MsaInfoCanInstall: 4,
  MsaInfoInstalled: 5,
} as const;

/** What NetQueryServiceAccount(NULL, name, 0, &buffer) gave: its status and, on success, MSA_INFO_0.State. */
export interface ServiceAccountQuery {
  status: number;
  state: number | null;
}

export interface ServiceAccountCheck {
  resolved: boolean | null;
  detail: string;
}

const STATES: Record<number, ServiceAccountCheck> = {
  [MSA_INFO_STATE.MsaInfoNotExist]: { resolved: false, detail: 'does not exist in the domain' },
  [MSA_INFO_STATE.MsaInfoNotService]: { resolved: false, detail: 'is not a managed service account' },
  [MSA_INFO_STATE.MsaInfoCannotInstall]: {
    resolved: false,
    detail:
      'exists, but this host may not retrieve its password (PrincipalsAllowedToRetrieveManagedPassword) or does not support its Kerberos encryption types',
  },
  // MSDN: returned for standalone MSAs only, never for a gMSA.
  [MSA_INFO_STATE.MsaInfoCanInstall]: { resolved: true, detail: 'can be installed on this host' },
  [MSA_INFO_STATE.MsaInfoInstalled]: { resolved: true, detail: 'is installed on this host' },
};

/** ntstatus.h names for failures a gMSA query plausibly meets; any other status is shown in hex only. */
const STATUSES: Record<number, string> = {
  0xc000_0022: 'STATUS_ACCESS_DENIED',
  0xc000_005e: 'STATUS_NO_LOGON_SERVERS: no domain controller could be reached',
  0xc000_0062: 'STATUS_INVALID_ACCOUNT_NAME',
  0xc000_0064: 'STATUS_NO_SUCH_USER',
  0xc000_0106: 'STATUS_NAME_TOO_LONG',
  0xc000_0136: 'STATUS_OPEN_FAILED: is the host domain-joined, Netlogon running and a domain controller reachable?',
};

function describeStatus(status: number): string {
  const unsigned = status >>> 0;
  const name = STATUSES[unsigned];
  return `0x${unsigned.toString(16).toUpperCase().padStart(8, '0')}${name ? ` (${name})` : ''}`;
}

/**
 * The account name NetQueryServiceAccount takes: the sAMAccountName without its trailing `$`, which is how
 * Test-ADServiceAccount calls it (it trims the `$` first). A name without `$` (the form credential specs use,
 * e.g. `WebApp01`) is passed as given, as is a `DOMAIN\name` form. Null for a name no call could mean.
 */
export function serviceAccountName(name: string): string | null {
  const bare = name.endsWith('$') ? name.slice(0, -1) : name;
  return bare.length === 0 || bare.includes('\0') ? null : bare;
}

/**
 * Whether a gMSA named in a spec can be used on this host. A failed query is an answer too (false, with the
 * status): the usual causes — not domain-joined, no domain controller, no such account — all mean a container
 * started with this spec would not get the identity.
 */
export async function checkServiceAccount(
  query: (accountName: string) => Promise<ServiceAccountQuery>,
  name: string,
): Promise<ServiceAccountCheck> {
  const accountName = serviceAccountName(name);
  if (accountName === null) return { resolved: false, detail: 'is not a valid account name' };
  const { status, state } = await query(accountName);
  if (status !== 0) return { resolved: false, detail: `could not be checked: NetQueryServiceAccount failed with ${describeStatus(status)}` };
  if (state === null) return { resolved: null, detail: 'NetQueryServiceAccount succeeded without returning a state' };
  return STATES[state] ?? { resolved: null, detail: `NetQueryServiceAccount reported an unknown state ${state}` };
}
