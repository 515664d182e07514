import { isIP } from 'node:net';
import { z } from 'zod';
import { ProxyAddRequest, ProxyListRequest, ProxyRemoveRequest, type ProxyPolicySettings } from '../../../typings/index.js';
import { BrokerError, HostOperationFailedError, NotSupportedOnPlatformError, PolicyDeniedError } from '../errors.js';
import type { ProxyTargetRef } from '../platform/types.js';
import { defineHandler, type RequestContext } from './types.js';

const port = z.number().int().min(1, 'must be 1-65535').max(65535, 'must be 1-65535');
const address = z.string().refine((value) => {
  const [ip, prefix, ...rest] = value.split('/');
  const family = isIP(ip);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}, 'must be an IP address or CIDR');
const exceptions = z.strictObject({ Ports: z.array(port).max(1024).optional(), IpAddresses: z.array(address).max(1024).optional() });

const settingsSchema = z
  .strictObject({
    InboundProxyPort: port.optional(),
    OutboundProxyPort: port.optional(),
    Protocol: z.enum(['TCP', 'UDP']).optional(),
    InboundExceptions: exceptions.optional(),
    OutboundExceptions: exceptions.optional(),
    ExemptUser: z.string().min(1).max(256).optional(),
    Priority: z.number().int().min(0).max(65535).optional(),
  })
  .refine((s) => s.InboundProxyPort !== undefined || s.OutboundProxyPort !== undefined, { message: 'give InboundProxyPort, OutboundProxyPort or both', path: ['OutboundProxyPort'] })
  .refine((s) => !(s.InboundExceptions && Object.keys(s.InboundExceptions).length === 0) && !(s.OutboundExceptions && Object.keys(s.OutboundExceptions).length === 0), {
    message: 'an exceptions object needs Ports or IpAddresses',
    path: ['InboundExceptions'],
  });

/** Linux exempt users: `uid:N`, `gid:N` or a uid number, compared in that one canonical form. */
function canonicalUser(user: string | number, syntax: 'posix' | 'win32'): string {
  const text = String(user).trim();
  if (syntax === 'win32') return text.toUpperCase();
  const match = /^(?:(uid|gid):)?(\d+)$/.exec(text);
  return match ? `${match[1] ?? 'uid'}:${Number(match[2])}` : `invalid:${text}`;
}

/** The caller's own endpoint: its pinned network namespace, or the container its profile names. */
function callerTarget(context: RequestContext): ProxyTargetRef {
  if (context.platform.name === 'windows') {
    const container = context.profile.grant.proxy?.container;
    if (!container) throw new HostOperationFailedError(`profiles.${context.profile.name}.proxy.container must name the caller's container on Windows`, { reason: 'NotConfigured' });
    return { key: container, containerId: container };
  }
  const peer = context.peer;
  if (peer.netnsFd === undefined || !peer.netns) throw new HostOperationFailedError('the caller has no pinned network namespace', { reason: 'NoTarget' });
  return { key: peer.netns, netnsFd: peer.netnsFd, netnsInode: Number(/\d+/.exec(peer.netns)![0]), netnsName: peer.netnsName, pid: peer.pid };
}

export const proxyAddHandler = defineHandler(ProxyAddRequest.type, {
  permission: 'proxy.manage',
  params: z.strictObject({ policy: settingsSchema }),
  async handle(params, context) {
    const grant = context.profile.grant.proxy!;
    const rule = `profiles.${context.profile.name}.proxy`;
    const settings = params.policy as ProxyPolicySettings;
    for (const [field, value] of [
      ['InboundProxyPort', settings.InboundProxyPort],
      ['OutboundProxyPort', settings.OutboundProxyPort],
    ] as const) {
      if (value !== undefined && !grant.ports.includes(value)) throw new PolicyDeniedError(`${field} ${value} is not a proxy port this profile may use`, `${rule}.ports`, 'PortNotAllowed');
    }
    const syntax = context.platform.files.syntax;
    if (settings.ExemptUser !== undefined) {
      const wanted = canonicalUser(settings.ExemptUser, syntax);
      if (wanted.startsWith('invalid:')) throw new BrokerError('InvalidParams', `policy.ExemptUser: must be uid:N, gid:N or a uid number on Linux`, { reason: 'FieldInvalid', field: 'policy.ExemptUser' });
      if (!(grant.exemptUsers ?? []).some((user) => canonicalUser(user, syntax) === wanted)) {
        throw new PolicyDeniedError(`ExemptUser ${settings.ExemptUser} is not a user this profile may exempt`, `${rule}.exemptUsers`, 'UserNotAllowed');
      }
    }
    if (settings.Protocol === 'UDP' && !context.platform.proxy.supportsUdp) throw new NotSupportedOnPlatformError('UDP proxy policies are not supported on this platform', context.platform.name);
    return context.services.proxy.add(callerTarget(context), settings);
  },
});

export const proxyListHandler = defineHandler(ProxyListRequest.type, {
  permission: 'proxy.manage',
  params: z.strictObject({}),
  async handle(_params, context) {
    return { policies: await context.services.proxy.list(callerTarget(context)) };
  },
});

export const proxyRemoveHandler = defineHandler(ProxyRemoveRequest.type, {
  permission: 'proxy.manage',
  params: z
    .strictObject({ id: z.string().min(1).max(64).optional(), all: z.boolean().optional() })
    .refine((p) => (p.id !== undefined) !== (p.all === true), { message: 'give id or all, not both', path: ['id'] }),
  async handle(params, context) {
    return { removed: await context.services.proxy.remove(callerTarget(context), params.all ? undefined : params.id) };
  },
});

export const proxyHandlers = [proxyAddHandler, proxyListHandler, proxyRemoveHandler];
