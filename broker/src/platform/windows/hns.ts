import { BrokerError, HostOperationFailedError, NotFoundError } from '../../errors.js';

/**
 * The Host Networking Service (HNS) through computenetwork.dll's HCN API, for the proxy policies in proxy.ts.
 * Everything here is the logic around the calls: GUIDs, the string and error record discipline, and reading
 * the JSON documents HNS answers with. native.ts supplies the calls; tests supply stand-ins.
 *
 * The call shapes follow hcsshim's hcn package (hcn.go, zsyscall_windows.go), which is what hcnproxyctrl and
 * every CNI plugin on Windows use: each call returns an HRESULT and may hand back two CoTaskMemAlloc'd strings,
 * the result and an error record.
 */

/**
 * hcsshim's `defaultQuery()`: schema 2.0 documents. `Filter` is a string holding JSON, not a nested object
 * (`HostComputeQuery.Filter string` in hcn.go).
 */
export function hnsQuery(filter?: Record<string, string>): string {
  const query: Record<string, unknown> = { SchemaVersion: { Major: 2, Minor: 0 } };
  if (filter) query.Filter = JSON.stringify(filter);
  return JSON.stringify(query);
}

const GUID_TEXT = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

export function isGuid(text: string): boolean {
  return GUID_TEXT.test(text.trim());
}

/**
 * A GUID as REFGUID points at it: Data1 (uint32), Data2 and Data3 (uint16) little-endian, then Data4's eight
 * bytes in text order. The text form prints Data1-3 as numbers, so they are the fields whose bytes swap.
 */
export function encodeGuid(text: string): Buffer {
  const match = GUID_TEXT.exec(text.trim());
  if (!match) throw new RangeError(`not a GUID: ${JSON.stringify(text)}`);
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32LE(Number.parseInt(match[1], 16), 0);
  bytes.writeUInt16LE(Number.parseInt(match[2], 16), 4);
  bytes.writeUInt16LE(Number.parseInt(match[3], 16), 6);
  Buffer.from(match[4] + match[5], 'hex').copy(bytes, 8);
  return bytes;
}

export function decodeGuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`a GUID is 16 bytes, not ${bytes.length}`);
  const buffer = Buffer.from(bytes);
  const hex = (value: number, digits: number) => value.toString(16).padStart(digits, '0');
  const tail = buffer.subarray(8).toString('hex');
  return `${hex(buffer.readUInt32LE(0), 8)}-${hex(buffer.readUInt16LE(4), 4)}-${hex(buffer.readUInt16LE(6), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

/** HCN HRESULTs (MSDN "HCN HRESULT codes", winerror.h) the backend branches on or names. */
export const HCN_E_NETWORK_NOT_FOUND = 0x803b0001;
export const HCN_E_ENDPOINT_NOT_FOUND = 0x803b0002;
export const HCN_E_INVALID_POLICY = 0x803b000d;
/** HRESULT_FROM_WIN32(ERROR_NOT_FOUND), "Element not found": hcsshim's IsElementNotFoundError. */
export const HRESULT_ELEMENT_NOT_FOUND = 0x80070490;

const HRESULT_NAMES: Record<number, string> = {
  [HCN_E_NETWORK_NOT_FOUND]: 'HCN_E_NETWORK_NOT_FOUND: the network was not found',
  [HCN_E_ENDPOINT_NOT_FOUND]: 'HCN_E_ENDPOINT_NOT_FOUND: the endpoint was not found',
  [HCN_E_INVALID_POLICY]: 'HCN_E_INVALID_POLICY: the policy configuration is invalid or missing parameters',
  [HRESULT_ELEMENT_NOT_FOUND]: 'element not found',
};

/** The codes that mean the object went away between finding it and using it, which is not a fault of ours. */
const GONE = new Set([HCN_E_ENDPOINT_NOT_FOUND, HRESULT_ELEMENT_NOT_FOUND]);

export function hresultHex(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/**
 * An HNS error record: JSON like HNS v1 responses (`{"Success":false,"Error":"...","ErrorCode":2151350274}`,
 * hcsshim internal/hns), or plain text, which hcsshim passes on as it is.
 */
export function parseErrorRecord(text: string): { message: string; code?: number } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { message: text.trim() };
  }
  const message = [field(document, 'Error'), field(document, 'ErrorMessage')].find((m): m is string => typeof m === 'string' && m !== '');
  const code = field(document, 'ErrorCode');
  return {
    message: message ?? text.trim(),
    ...(typeof code === 'number' && Number.isFinite(code) && code !== 0 ? { code: code >>> 0 } : {}),
  };
}

/** What HNS said, kept as the cause of the HostOperationFailed for the broker log. */
export class HnsError extends Error {
  readonly api: string;
  /** The failing code as an unsigned HRESULT: the call's, or the error record's when the call returned success. */
  readonly hresult: number;
  readonly hnsMessage: string;
  readonly record: string | undefined;

  constructor(api: string, hresult: number, record: string | undefined) {
    const parsed = record === undefined ? undefined : parseErrorRecord(record);
    const code = (hresult < 0 ? hresult : (parsed?.code ?? hresult)) >>> 0;
    const hnsMessage = parsed?.message || HRESULT_NAMES[code] || 'no error record';
    super(`${api} failed: ${hnsMessage} (HRESULT ${hresultHex(code)})`);
    this.name = 'HnsError';
    this.api = api;
    this.hresult = code;
    this.hnsMessage = hnsMessage;
    this.record = record;
  }
}

export function hnsFailure(api: string, hresult: number, record: string | undefined): HostOperationFailedError {
  const cause = new HnsError(api, hresult, record);
  return new HostOperationFailedError(cause.message, { cause, reason: 'HnsError' });
}

/** Whether an error is HNS saying the endpoint or namespace no longer exists. */
export function isHnsGone(error: unknown): boolean {
  return error instanceof BrokerError && error.cause instanceof HnsError && GONE.has(error.cause.hresult);
}

/**
 * The koffi-call shapes of the computenetwork.dll and ole32.dll functions. Every HCN call is an RPC into the
 * HNS service that can take seconds, so native.ts runs them on koffi worker threads and they return promises.
 * Output slots are one-element arrays koffi fills with the pointer (a BigInt, or null).
 */
export interface HcnCalls {
  HcnEnumerateEndpoints(query: string, endpoints: [unknown], errorRecord: [unknown]): Promise<unknown>;
  HcnOpenEndpoint(id: Buffer, endpoint: [unknown], errorRecord: [unknown]): Promise<unknown>;
  HcnQueryEndpointProperties(endpoint: bigint, query: string, properties: [unknown], errorRecord: [unknown]): Promise<unknown>;
  HcnModifyEndpoint(endpoint: bigint, settings: string, errorRecord: [unknown]): Promise<unknown>;
  HcnCloseEndpoint(endpoint: bigint): Promise<unknown>;
  HcnEnumerateNamespaces(query: string, namespaces: [unknown], errorRecord: [unknown]): Promise<unknown>;
  HcnOpenNamespace(id: Buffer, namespace: [unknown], errorRecord: [unknown]): Promise<unknown>;
  HcnQueryNamespaceProperties(namespace: bigint, query: string, properties: [unknown], errorRecord: [unknown]): Promise<unknown>;
  HcnCloseNamespace(namespace: bigint): Promise<unknown>;
  CoTaskMemFree(memory: bigint): unknown;
  /** The NUL-terminated UTF-16 string at an address HNS returned. */
  readWideString(address: bigint): string;
}

/** An open HCN_ENDPOINT or HCN_NAMESPACE. */
export type HcnHandle = bigint;

/** The HCN calls with their strings read and freed and their failures raised as HostOperationFailed. */
export interface HnsApi {
  /** Endpoint ids (GUID text) matching a query. */
  enumerateEndpoints(query?: string): Promise<string[]>;
  /** Namespace ids (GUID text) matching a query. */
  enumerateNamespaces(query?: string): Promise<string[]>;
  /** Opens the endpoint, runs `body`, and closes the handle whatever `body` did. */
  withEndpoint<T>(id: string, body: (endpoint: HcnHandle) => Promise<T>): Promise<T>;
  /** The endpoint's properties document. */
  queryEndpoint(endpoint: HcnHandle, query?: string): Promise<string>;
  modifyEndpoint(endpoint: HcnHandle, settings: string): Promise<void>;
  withNamespace<T>(id: string, body: (namespace: HcnHandle) => Promise<T>): Promise<T>;
  queryNamespace(namespace: HcnHandle, query?: string): Promise<string>;
}

function toAddress(raw: unknown): bigint {
  if (raw === null || raw === undefined) return 0n;
  return typeof raw === 'bigint' ? raw : BigInt(raw as number);
}

export function hnsApi(calls: HcnCalls): HnsApi {
  /**
   * Reads every string a call handed back and frees each exactly once, whether reading worked or not. An
   * address is freed once even if HNS were to return it in two slots.
   */
  function take(slots: unknown[]): Array<string | undefined> {
    const addresses = slots.map(toAddress);
    try {
      return addresses.map((address) => (address === 0n ? undefined : calls.readWideString(address)));
    } finally {
      for (const address of new Set(addresses)) if (address !== 0n) calls.CoTaskMemFree(address);
    }
  }

  /**
   * One HCN call: failed if the HRESULT is negative or the error record is not empty (hcsshim's
   * checkForErrors). Strings are released before anything is raised, including when koffi itself throws.
   */
  async function invoke(api: string, run: (errorRecord: [unknown]) => Promise<unknown>, result: [unknown] = [null]): Promise<string | undefined> {
    const errorRecord: [unknown] = [null];
    let hresult = 0;
    let failure: { error: unknown } | undefined;
    try {
      hresult = Number(await run(errorRecord)) | 0;
    } catch (error) {
      failure = { error };
    }
    const [text, record] = take([result[0], errorRecord[0]]);
    if (failure) throw failure.error;
    if (hresult < 0 || (record !== undefined && record !== '')) throw hnsFailure(api, hresult, record);
    return text;
  }

  async function open(api: string, id: string, run: (guid: Buffer, handle: [unknown], errorRecord: [unknown]) => Promise<unknown>): Promise<HcnHandle> {
    const guid = encodeGuid(id);
    const handle: [unknown] = [null];
    await invoke(api, (errorRecord) => run(guid, handle, errorRecord));
    const value = toAddress(handle[0]);
    if (value === 0n) throw new HostOperationFailedError(`${api} returned no handle for ${id}`, { reason: 'HnsError' });
    return value;
  }

  async function close(api: string, run: () => Promise<unknown>): Promise<void> {
    const hresult = Number(await run()) | 0;
    if (hresult < 0) throw hnsFailure(api, hresult, undefined);
  }

  /** The handle is closed on every path; a failed close only surfaces when nothing failed before it. */
  async function using<T>(handle: HcnHandle, closeIt: (handle: HcnHandle) => Promise<void>, body: (handle: HcnHandle) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await body(handle);
    } catch (error) {
      await closeIt(handle).catch(() => undefined);
      throw error;
    }
    await closeIt(handle);
    return result;
  }

  async function document(api: string, run: (result: [unknown], errorRecord: [unknown]) => Promise<unknown>): Promise<string> {
    const result: [unknown] = [null];
    const text = await invoke(api, (errorRecord) => run(result, errorRecord), result);
    if (text === undefined) throw new HostOperationFailedError(`${api} returned no document`, { reason: 'HnsError' });
    return text;
  }

  const closeEndpoint = (endpoint: HcnHandle) => close('HcnCloseEndpoint', () => calls.HcnCloseEndpoint(endpoint));
  const closeNamespace = (namespace: HcnHandle) => close('HcnCloseNamespace', () => calls.HcnCloseNamespace(namespace));

  return {
    enumerateEndpoints: async (query = hnsQuery()) =>
      parseIdList(await document('HcnEnumerateEndpoints', (list, record) => calls.HcnEnumerateEndpoints(query, list, record))),
    enumerateNamespaces: async (query = hnsQuery()) =>
      parseIdList(await document('HcnEnumerateNamespaces', (list, record) => calls.HcnEnumerateNamespaces(query, list, record))),
    withEndpoint: async (id, body) =>
      using(await open('HcnOpenEndpoint', id, (guid, handle, record) => calls.HcnOpenEndpoint(guid, handle, record)), closeEndpoint, body),
    queryEndpoint: (endpoint, query = hnsQuery()) =>
      document('HcnQueryEndpointProperties', (properties, record) => calls.HcnQueryEndpointProperties(endpoint, query, properties, record)),
    async modifyEndpoint(endpoint, settings) {
      await invoke('HcnModifyEndpoint', (record) => calls.HcnModifyEndpoint(endpoint, settings, record));
    },
    withNamespace: async (id, body) =>
      using(await open('HcnOpenNamespace', id, (guid, handle, record) => calls.HcnOpenNamespace(guid, handle, record)), closeNamespace, body),
    queryNamespace: (namespace, query = hnsQuery()) =>
      document('HcnQueryNamespaceProperties', (properties, record) =>
        calls.HcnQueryNamespaceProperties(namespace, query, properties, record),
      ),
  };
}

/**
 * A member of a JSON object by name, ignoring case: Go's encoding/json matches names case-insensitively, and
 * HNS writes the same field as `ID` in some documents and `Id` in others.
 */
export function field(object: unknown, name: string): unknown {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(object)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

function parseJson(api: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HostOperationFailedError(`HNS answered ${api} with a document that is not JSON`, { cause: error, reason: 'HnsError' });
  }
}

/** An enumeration result: a JSON array of GUID strings (hcsshim unmarshals it into `[]guid.GUID`). */
export function parseIdList(text: string): string[] {
  const list = parseJson('an enumeration', text);
  if (list === null) return [];
  if (!Array.isArray(list)) throw new HostOperationFailedError('HNS answered an enumeration with something other than a list', { reason: 'HnsError' });
  return list.map((item) => (typeof item === 'string' ? item : field(item, 'ID'))).filter((id): id is string => typeof id === 'string' && isGuid(id));
}

/** What the lookup needs of a namespace: who is attached to it. */
export interface NamespaceView {
  id: string | undefined;
  /** Container ids as HNS recorded them. */
  containers: string[];
  /** Endpoint ids (GUID text). */
  endpoints: string[];
}

/**
 * Reads a namespace document of either shape HNS produces:
 * - schema 2.0 (`HostComputeNamespace` in hcsshim hcnnamespace.go): `Resources: [{ Type: "Container" |
 *   "Endpoint", Data: { ID } }]`, with `ID` the JSON name of `NamespaceResourceContainer.Id`;
 * - the v1 view (`Get-HnsNamespace`, `hnsdiag list namespaces -d`, hcsshim internal/hns/namespace.go):
 *   `ResourceList: [{ Type: "Endpoint", Data: { Id } }]` and the attached containers as `Containers: ["<id>"]`.
 *   In that view `Resources` is an allocator object, not a list, so only lists are read.
 */
export function parseNamespace(text: string): NamespaceView {
  const document = parseJson('a namespace query', text);
  const id = field(document, 'ID');
  const view: NamespaceView = { id: typeof id === 'string' ? id : undefined, containers: [], endpoints: [] };
  for (const list of [field(document, 'Resources'), field(document, 'ResourceList')]) {
    if (!Array.isArray(list)) continue;
    for (const resource of list) {
      const type = field(resource, 'Type');
      let data = field(resource, 'Data');
      if (typeof data === 'string') {
        // json.RawMessage: normally an object, tolerated as a JSON string.
        try {
          data = JSON.parse(data);
        } catch {
          continue;
        }
      }
      const resourceId = field(data, 'ID');
      if (typeof type !== 'string' || typeof resourceId !== 'string' || resourceId === '') continue;
      if (type.toLowerCase() === 'container') view.containers.push(resourceId);
      else if (type.toLowerCase() === 'endpoint') view.endpoints.push(resourceId);
    }
  }
  const containers = field(document, 'Containers');
  if (Array.isArray(containers)) view.containers.push(...containers.filter((c): c is string => typeof c === 'string' && c !== ''));
  return view;
}

/** Ids compare without case and braces: GUIDs come in both cases, container ids are lower-case hex or names. */
export function sameId(a: string, b: string): boolean {
  const normal = (id: string) => id.trim().replace(/^\{(.*)\}$/, '$1').toLowerCase();
  return normal(a) !== '' && normal(a) === normal(b);
}

/**
 * The HNS endpoints of a container, found the way hcnproxyctrl's `lookup` ends (the namespace's endpoints,
 * `GetNamespaceEndpointIds`) but without asking CRI for the namespace: every namespace is read and the ones
 * whose attached containers include this id count. The id must match exactly (no short-id prefixes), so a
 * policy can never land on another container's endpoint. Namespaces that vanish while being read are skipped.
 * Several matching namespaces (a stale one left behind by a restart) contribute all their endpoints.
 */
export async function findContainerEndpoints(hns: HnsApi, containerId: string): Promise<string[]> {
  const endpoints: string[] = [];
  let attached = false;
  for (const namespaceId of await hns.enumerateNamespaces(hnsQuery())) {
    let view: NamespaceView;
    try {
      view = parseNamespace(await hns.withNamespace(namespaceId, (namespace) => hns.queryNamespace(namespace, hnsQuery())));
    } catch (error) {
      if (isHnsGone(error)) continue;
      throw error;
    }
    if (!view.containers.some((id) => sameId(id, containerId))) continue;
    attached = true;
    for (const endpoint of view.endpoints) if (isGuid(endpoint) && !endpoints.some((known) => sameId(known, endpoint))) endpoints.push(endpoint);
  }
  if (!attached) throw new NotFoundError(`no HNS namespace has container ${containerId} attached`, { container: containerId });
  if (endpoints.length === 0) throw new NotFoundError(`container ${containerId} has no HNS endpoint`, { container: containerId });
  return endpoints;
}
