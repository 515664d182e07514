import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, fstatSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import type { ProxyPolicy } from '../../../../typings/index.js';
import { HostOperationFailedError } from '../../errors.js';
import { NETNS_DIR } from '../../server/peer.js';
import type { HostPlatformProxy, ProxyTargetRecord, ProxyTargetRef } from '../types.js';

const TABLE = 'inet winshost_proxy';

/** `uid:N`, `gid:N` or a bare uid → the nftables match. skgid sees only the socket owner's primary gid. */
export function exemptMatch(user: string): string {
  const [kind, id] = user.includes(':') ? user.split(':') : ['uid', user];
  return `meta ${kind === 'gid' ? 'skgid' : 'skuid'} ${Number(id)}`;
}

function set(name: string, type: string, elements: (string | number)[], interval = false): string[] {
  return [`  set ${name} {`, `    type ${type}`, ...(interval ? ['    flags interval'] : []), ...(elements.length ? [`    elements = { ${elements.join(', ')} }`] : []), '  }'];
}

/** Lower Priority first; among equals, the older policy first. */
function ordered(policies: ProxyPolicy[]): ProxyPolicy[] {
  return [...policies].sort((a, b) => (a.Priority ?? 100) - (b.Priority ?? 100) || a.Created.localeCompare(b.Created));
}

/**
 * The whole table for one namespace, as one nft script: the table is added, deleted and defined again in
 * one transaction, so a reader never sees half of it. Inbound traffic is redirected in prerouting,
 * outbound in output; loopback, the proxy ports themselves, the exempt user and the exceptions return
 * early. The jump rules carry a digest of the definition, which is how a later check knows it is ours.
 */
export function proxyRuleset(policies: ProxyPolicy[]): { script: string; digest: string; rules: number } {
  const lines: string[] = [];
  const prerouting: string[] = [];
  const output: string[] = [];
  let rules = 0;
  const proxyPorts = [...new Set(policies.flatMap((p) => [p.InboundProxyPort, p.OutboundProxyPort]).filter((p): p is number => p !== undefined))].sort((a, b) => a - b);
  ordered(policies).forEach((policy, index) => {
    const proto = (policy.Protocol ?? 'TCP').toLowerCase();
    for (const [direction, port, exceptions, address] of [
      ['in', policy.InboundProxyPort, policy.InboundExceptions, 'saddr'],
      ['out', policy.OutboundProxyPort, policy.OutboundExceptions, 'daddr'],
    ] as const) {
      if (port === undefined) continue;
      const chain = `p${index}_${direction}`;
      const addresses = exceptions?.IpAddresses ?? [];
      lines.push(...set(`${chain}_ports`, 'inet_service', exceptions?.Ports ?? []));
      lines.push(...set(`${chain}_v4`, 'ipv4_addr', addresses.filter((a) => isIPv4(a.split('/')[0])), true));
      lines.push(...set(`${chain}_v6`, 'ipv6_addr', addresses.filter((a) => !isIPv4(a.split('/')[0])), true));
      const body = [
        direction === 'in' ? 'iifname "lo" return' : 'oifname "lo" return',
        ...(direction === 'out' && policy.ExemptUser !== undefined ? [`${exemptMatch(policy.ExemptUser)} return`] : []),
        `${proto} dport { ${proxyPorts.join(', ')} } return`,
        `${proto} dport @${chain}_ports return`,
        `ip ${address} @${chain}_v4 return`,
        `ip6 ${address} @${chain}_v6 return`,
        `meta l4proto ${proto} redirect to :${port}`,
      ];
      rules += body.length + 1;
      lines.push(`  chain ${chain} {`, ...body.map((rule) => `    ${rule}`), '  }');
      (direction === 'in' ? prerouting : output).push(`    meta l4proto ${proto} jump ${chain}`);
    }
  });
  const body = [
    ...lines,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...prerouting,
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...output,
    '  }',
  ].join('\n');
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 16);
  if (policies.length === 0) return { script: `add table ${TABLE}\ndelete table ${TABLE}\n`, digest, rules: 0 };
  // The jump rules carry the digest (nft's JSON shows rule comments, not table comments).
  const definition = body.replace(/ jump (p\d+_(?:in|out))$/gm, ` jump $1 comment "winshost ${digest}"`);
  return { script: `add table ${TABLE}\ndelete table ${TABLE}\ntable ${TABLE} {\n${definition}\n}\n`, digest, rules };
}

/** Runs nft inside the namespace of the descriptor: nsenter joins it through the child's fd 3. */
function nftIn(netnsFd: number, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['--net=/proc/self/fd/3', 'nft', ...args], { stdio: ['pipe', 'pipe', 'pipe', netnsFd] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.once('error', (error) =>
      reject(new HostOperationFailedError(`cannot run nsenter/nft: ${error.message}`, { cause: error, reason: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ToolMissing' : 'OperationFailed' })),
    );
    child.once('close', (code) => {
      if (code === 0) return resolve(stdout);
      const missing = /nft.*No such file|exec.*nft/i.test(stderr);
      reject(
        new HostOperationFailedError(missing ? "'nft' (nftables) is not installed on the host; proxy policies need it" : `nft failed: ${stderr.trim()}`, {
          reason: missing ? 'ToolMissing' : 'OperationFailed',
        }),
      );
    });
    // nft may exit before reading its input (a list, or an error): a broken pipe there is not the broker's.
    child.stdin!.on('error', () => {});
    child.stdin!.end(input ?? '');
  });
}

function openNamespace(path: string, inode: number): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    if (fstatSync(fd).ino === inode) return fd;
  } catch {
    // gone
  }
  if (fd !== undefined) closeSync(fd);
  return undefined;
}

export const linuxProxy: HostPlatformProxy = {
  supportsUdp: true,

  async apply(target, policies) {
    if (target.netnsFd === undefined) throw new HostOperationFailedError('the caller has no pinned network namespace', { reason: 'NoTarget' });
    await nftIn(target.netnsFd, ['-f', '-'], proxyRuleset(policies).script);
  },

  async check(target, policies) {
    if (target.netnsFd === undefined) return false;
    const expected = proxyRuleset(policies);
    let listing: string;
    try {
      listing = await nftIn(target.netnsFd, ['-j', 'list', 'table', 'inet', 'winshost_proxy']);
    } catch {
      return policies.length === 0;
    }
    const rules = (JSON.parse(listing).nftables as { rule?: { comment?: string } }[]).filter((item) => item.rule).map((item) => item.rule!);
    return rules.length === expected.rules && rules.some((rule) => rule.comment === `winshost ${expected.digest}`);
  },

  async reopen(record: ProxyTargetRecord): Promise<ProxyTargetRef | undefined> {
    if (record.netnsInode === undefined) return undefined;
    const candidates = [...(record.netnsName ? [join(NETNS_DIR, record.netnsName)] : []), ...(record.pid ? [`/proc/${record.pid}/ns/net`] : [])];
    for (const path of candidates) {
      const fd = openNamespace(path, record.netnsInode);
      if (fd !== undefined) return { ...record, netnsFd: fd };
    }
    return undefined;
  },

  release(target) {
    if (target.netnsFd !== undefined) closeSync(target.netnsFd);
  },
};
