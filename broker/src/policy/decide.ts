import type { PeerIdentity } from '../server/peer.js';
import type { Listener, Match, Policy, Profile } from './schema.js';

/** What a handler needs from the caller's profile. `none` is for the handshake only. */
export type Permission = 'none' | 'host.read' | 'network.read' | 'files.read' | 'credentialSpecs.read' | 'processes.run' | 'proxy.manage' | 'sessions.open';

export interface Decision {
  allowed: boolean;
  /** The policy path that decided, e.g. `profiles.default.network.read`. */
  rule: string;
}

export function decide(profileName: string, profile: Profile, permission: Permission): Decision {
  switch (permission) {
    case 'none':
      return { allowed: true, rule: `profiles.${profileName}` };
    case 'host.read':
      return { allowed: profile.host?.read === true, rule: `profiles.${profileName}.host.read` };
    case 'network.read':
      return { allowed: profile.network?.read === true, rule: `profiles.${profileName}.network.read` };
    // Which paths and which specs is decided by the handler against the grant's roots and allow list.
    case 'files.read':
      return { allowed: profile.files !== undefined, rule: `profiles.${profileName}.files` };
    case 'credentialSpecs.read':
      return { allowed: profile.credentialSpecs !== undefined, rule: `profiles.${profileName}.credentialSpecs` };
    case 'processes.run':
      return { allowed: (profile.processes?.length ?? 0) > 0, rule: `profiles.${profileName}.processes` };
    case 'proxy.manage':
      return { allowed: profile.proxy !== undefined, rule: `profiles.${profileName}.proxy` };
    // Which target, and what runs in the session, is decided by the session host from the same grant.
    case 'sessions.open':
      return { allowed: profile.sessions !== undefined && profile.sessions.enabled !== false, rule: `profiles.${profileName}.sessions` };
  }
}

export interface ProfileSelection {
  name: string;
  profile: Profile;
}

/** The listener's first profile whose match holds for the peer; undefined when none does. */
export function selectProfile(policy: Policy, listener: Listener, peer: PeerIdentity): ProfileSelection | undefined {
  for (const name of listener.profiles) {
    const profile = policy.profiles[name];
    if (profile && matches(profile.match, peer)) return { name, profile };
  }
  return undefined;
}

export function matches(match: Match | undefined, peer: PeerIdentity): boolean {
  if (!match) return true;
  if (match.uid !== undefined && (peer.uid === undefined || !asList(match.uid).includes(peer.uid))) return false;
  if (match.gid !== undefined && (peer.gid === undefined || !asList(match.gid).includes(peer.gid))) return false;
  if (match.netns !== undefined && peer.netnsName !== match.netns) return false;
  if (match.cgroup !== undefined) {
    const pattern = globToRegExp(match.cgroup);
    const paths = (peer.cgroups ?? []).map((line) => line.split(':').slice(2).join(':'));
    if (!paths.some((path) => pattern.test(path))) return false;
  }
  return true;
}

function asList(value: number | number[]): number[] {
  return Array.isArray(value) ? value : [value];
}

/** `*` matches within one path segment, `**` across segments; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') {
      source += '[^/]*';
    } else {
      source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
