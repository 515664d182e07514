import type { ProxyExceptions, ProxyPolicy, ProxyPolicySettings } from '../../../../typings/index.js';
import { HostOperationFailedError, NotFoundError, NotSupportedOnPlatformError } from '../../errors.js';
import type { HostPlatformProxy, ProxyTargetRecord, ProxyTargetRef } from '../types.js';
import { field, findContainerEndpoints, hnsQuery, isHnsGone, type HnsApi } from './hns.js';

/**
 * Proxy redirection on Windows: HNS layer-4 WFP proxy policies (`L4WFPPROXY`) on the endpoints of the caller's
 * container, as hcnproxyctrl programs them. WinsHost owns every L4WFPPROXY policy of those endpoints; the other
 * policy types on them (NAT, ACLs, routes) are never touched.
 */

export const L4WFPPROXY = 'L4WFPPROXY';
/** IANA protocol 6. The policy is TCP only: "TCP traffic only. UDP is not supported yet" (hcnproxyctrl README, Nov 2021). */
const PROTOCOL_TCP = '6';

/** An endpoint policy as HNS stores it (hcsshim `EndpointPolicy`): the type and its settings document. */
export interface HnsPolicy {
  Type: string;
  Settings?: unknown;
  [key: string]: unknown;
}

/** hcsshim `ProxyExceptions`: both lists `omitempty`, ports as strings. */
export interface L4WfpProxyExceptions {
  PortExceptions?: string[];
  IpAddressExceptions?: string[];
}

/**
 * hcsshim `L4WfpProxyPolicySetting` (hcnpolicy.go): every field `omitempty`, ports as strings, the protocol and
 * the priority inside `FilterTuple` (`FiveTuple.Protocols string`, `FiveTuple.Priority uint16`). Go's
 * `omitempty` does not drop struct values, so hcsshim always sends `FilterTuple`/`...Exceptions` objects, empty
 * or not; WinsHost leaves an absent exceptions object out, as hcnproxyctrl's README example does.
 */
export interface L4WfpProxySettings {
  InboundProxyPort?: string;
  OutboundProxyPort?: string;
  FilterTuple: { Protocols: string; Priority?: number };
  InboundExceptions?: L4WfpProxyExceptions;
  OutboundExceptions?: L4WfpProxyExceptions;
  UserSID?: string;
}

function exceptionsOf(model: ProxyExceptions | undefined): L4WfpProxyExceptions | undefined {
  const ports = model?.Ports ?? [];
  const addresses = model?.IpAddresses ?? [];
  if (ports.length === 0 && addresses.length === 0) return undefined;
  return {
    ...(ports.length ? { PortExceptions: ports.map(String) } : {}),
    ...(addresses.length ? { IpAddressExceptions: [...addresses] } : {}),
  };
}

/** The model as HNS takes it, in the key order of hcnproxyctrl's README example. */
export function l4WfpProxySettings(policy: ProxyPolicySettings): L4WfpProxySettings {
  if ((policy.Protocol ?? 'TCP') !== 'TCP') {
    throw new NotSupportedOnPlatformError('HNS layer-4 proxy policies redirect TCP only', 'windows');
  }
  const inbound = exceptionsOf(policy.InboundExceptions);
  const outbound = exceptionsOf(policy.OutboundExceptions);
  return {
    ...(policy.InboundProxyPort !== undefined ? { InboundProxyPort: String(policy.InboundProxyPort) } : {}),
    ...(policy.OutboundProxyPort !== undefined ? { OutboundProxyPort: String(policy.OutboundProxyPort) } : {}),
    // Priority 0 is Go's zero value, which hcsshim would not send either.
    FilterTuple: { Protocols: PROTOCOL_TCP, ...(policy.Priority ? { Priority: policy.Priority } : {}) },
    ...(inbound ? { InboundExceptions: inbound } : {}),
    ...(outbound ? { OutboundExceptions: outbound } : {}),
    ...(policy.ExemptUser !== undefined ? { UserSID: policy.ExemptUser } : {}),
  };
}

export function l4WfpProxyPolicy(policy: ProxyPolicySettings): HnsPolicy {
  return { Type: L4WFPPROXY, Settings: l4WfpProxySettings(policy) };
}

export function isL4WfpProxy(policy: unknown): policy is HnsPolicy {
  const type = field(policy, 'Type');
  return typeof type === 'string' && type.toUpperCase() === L4WFPPROXY;
}

/**
 * The policies of an endpoint properties document (`HostComputeEndpoint.Policies`), as the very objects HNS
 * wrote, so a removal can send them back unchanged. L4WFPPROXY settings hold strings and uint16s only, which
 * survive JSON.parse and JSON.stringify exactly.
 */
export function endpointPolicies(properties: string): HnsPolicy[] {
  let document: unknown;
  try {
    document = JSON.parse(properties);
  } catch (error) {
    throw new HostOperationFailedError('HNS answered an endpoint query with a document that is not JSON', { cause: error, reason: 'HnsError' });
  }
  const policies = field(document, 'Policies');
  return Array.isArray(policies) ? policies.filter((p): p is HnsPolicy => p !== null && typeof p === 'object' && !Array.isArray(p)) : [];
}

/**
 * The comparable form of a settings document. Go's `omitempty` zero values are dropped (hcsshim always sends
 * the exception structs, `{}` when empty; a read-back may carry `""`, `0` or `[]`); names compare without case
 * and order (Go's decoder ignores case); a number and its decimal string are one value (ports are strings on
 * the wire, `Priority` a number); lists of values are sets; strings compare without case (SIDs, IPv6 text).
 */
export function canonicalSettings(value: unknown): unknown {
  if (value === null || value === undefined || value === false) return undefined;
  if (value === true) return 'true';
  if (typeof value === 'number') return value === 0 ? undefined : String(value);
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d+$/.test(text)) {
      const digits = text.replace(/^0+(?=\d)/, '');
      return digits === '0' ? undefined : digits;
    }
    return text === '' ? undefined : text.toLowerCase();
  }
  if (Array.isArray(value)) {
    const items = value.map(canonicalSettings).filter((item) => item !== undefined);
    if (items.length === 0) return undefined;
    return items.every((item) => typeof item === 'string') ? [...new Set(items as string[])].sort() : items;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => [key.toLowerCase(), canonicalSettings(item)] as const)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return undefined;
}

/** Settings documents may arrive as a JSON string (a json.RawMessage written as one). */
function settingsOf(policy: HnsPolicy): unknown {
  const settings = field(policy, 'Settings');
  if (typeof settings !== 'string') return settings;
  try {
    return JSON.parse(settings);
  } catch {
    return settings;
  }
}

export function sameProxySettings(a: HnsPolicy, b: HnsPolicy): boolean {
  return JSON.stringify(canonicalSettings(settingsOf(a)) ?? null) === JSON.stringify(canonicalSettings(settingsOf(b)) ?? null);
}

/**
 * What an endpoint needs to carry exactly `wanted`: its L4WFPPROXY policies that match no wanted one (each
 * present policy satisfies at most one wanted, so duplicates go) and the wanted ones nothing matched.
 */
export function planEndpoint(present: HnsPolicy[], wanted: HnsPolicy[]): { remove: HnsPolicy[]; add: HnsPolicy[] } {
  const unmatched = [...wanted];
  const remove: HnsPolicy[] = [];
  for (const policy of present.filter(isL4WfpProxy)) {
    const index = unmatched.findIndex((candidate) => sameProxySettings(candidate, policy));
    if (index >= 0) unmatched.splice(index, 1);
    else remove.push(policy);
  }
  return { remove, add: unmatched };
}

/** hcsshim `ModifyEndpointSettingRequest` carrying a `PolicyEndpointRequest`, as hcnproxyctrl sends it. */
export function policyRequest(requestType: 'Add' | 'Remove', policies: HnsPolicy[]): string {
  return JSON.stringify({ ResourceType: 'Policy', RequestType: requestType, Settings: { Policies: policies } });
}

export interface WindowsProxyDeps {
  /** The HNS calls; loaded on first use so nothing native happens before a proxy request. */
  hns(): Promise<HnsApi>;
}

function containerOf(target: ProxyTargetRef): string {
  const id = target.containerId?.trim();
  if (!id) {
    throw new HostOperationFailedError("the proxy target names no container; on Windows the caller's profile must name it (proxy.container)", {
      reason: 'NotConfigured',
    });
  }
  return id;
}

export function windowsProxy(deps: WindowsProxyDeps): HostPlatformProxy {
  /**
   * Runs `body` on each endpoint of the container that still exists, handle closed in every case; the number
   * visited. Endpoints deleted since the lookup are skipped: they carry nothing any more.
   */
  async function eachEndpoint(
    hns: HnsApi,
    endpoints: string[],
    body: (endpoint: bigint) => Promise<boolean>,
  ): Promise<{ visited: number; stopped: boolean }> {
    let visited = 0;
    for (const id of endpoints) {
      try {
        const goOn = await hns.withEndpoint(id, body);
        visited++;
        if (!goOn) return { visited, stopped: true };
      } catch (error) {
        if (!isHnsGone(error)) throw error;
      }
    }
    return { visited, stopped: false };
  }

  async function lookup(hns: HnsApi, containerId: string): Promise<string[] | undefined> {
    try {
      return await findContainerEndpoints(hns, containerId);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  const present = async (hns: HnsApi, endpoint: bigint) => endpointPolicies(await hns.queryEndpoint(endpoint, hnsQuery()));

  return {
    supportsUdp: false,

    async apply(target: ProxyTargetRef, policies: ProxyPolicy[]): Promise<void> {
      const containerId = containerOf(target);
      // Built first, so a policy HNS cannot carry fails before anything on the host changes.
      const wanted = policies.map(l4WfpProxyPolicy);
      const hns = await deps.hns();
      const endpoints = await lookup(hns, containerId);
      // Carrying no policies is already true of a container that is gone.
      if (!endpoints && wanted.length === 0) return;
      if (!endpoints) throw new NotFoundError(`container ${containerId} has no HNS endpoint to carry proxy policies`, { container: containerId });
      const { visited } = await eachEndpoint(hns, endpoints, async (endpoint) => {
        const plan = planEndpoint(await present(hns, endpoint), wanted);
        // Removal first: HNS allows one proxy per endpoint, so the replacement would collide with the old one.
        if (plan.remove.length) await hns.modifyEndpoint(endpoint, policyRequest('Remove', plan.remove));
        if (plan.add.length) await hns.modifyEndpoint(endpoint, policyRequest('Add', plan.add));
        return true;
      });
      if (visited === 0 && wanted.length > 0) {
        throw new NotFoundError(`the HNS endpoints of container ${containerId} are gone`, { container: containerId });
      }
    },

    async check(target: ProxyTargetRef, policies: ProxyPolicy[]): Promise<boolean> {
      const containerId = containerOf(target);
      const wanted = policies.map(l4WfpProxyPolicy);
      const hns = await deps.hns();
      const endpoints = await lookup(hns, containerId);
      if (!endpoints) return wanted.length === 0;
      let carries = true;
      const { visited } = await eachEndpoint(hns, endpoints, async (endpoint) => {
        const plan = planEndpoint(await present(hns, endpoint), wanted);
        carries = plan.remove.length === 0 && plan.add.length === 0;
        return carries;
      });
      return visited === 0 ? wanted.length === 0 : carries;
    },

    async reopen(record: ProxyTargetRecord): Promise<ProxyTargetRef | undefined> {
      // A record without a container can never be found again, which is what undefined says.
      const containerId = record.containerId?.trim();
      if (!containerId) return undefined;
      return (await lookup(await deps.hns(), containerId)) ? { ...record } : undefined;
    },

    // Nothing is held between calls: every handle is closed before apply/check/reopen return.
    release(): void {},
  };
}
