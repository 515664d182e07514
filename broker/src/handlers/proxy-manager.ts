import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProxyPolicy, ProxyPolicySettings } from '../../../typings/index.js';
import { NotFoundError } from '../errors.js';
import { writeStateFile } from '../state-file.js';
import type { HostPlatformProxy, ProxyTargetRecord, ProxyTargetRef } from '../platform/types.js';

/** One target's desired state, as kept in proxy.json. */
interface StoredTarget {
  record: ProxyTargetRecord;
  policies: ProxyPolicy[];
}

function recordOf(target: ProxyTargetRef): ProxyTargetRecord {
  const { netnsFd: _fd, ...record } = target;
  return record;
}

/**
 * The desired proxy policies of every target, persisted in the state directory (temp file, fsync,
 * rename) and reconciled with the host: at start and then periodically, a target whose rules are missing
 * (a flushed ruleset, a restarted node) gets them again, and a target that is gone is dropped.
 */
export class ProxyManager {
  private targets = new Map<string, StoredTarget>();
  private readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  /** One change at a time: add/remove/reconcile each rewrite a whole target. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly platform: HostPlatformProxy,
    stateDir: string,
    private readonly log: (message: string) => void,
  ) {
    this.path = join(stateDir, 'proxy.json');
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async restore(reconcileEveryMs: number): Promise<void> {
    try {
      const stored = JSON.parse(readFileSync(this.path, 'utf8')) as { targets: Record<string, StoredTarget> };
      this.targets = new Map(Object.entries(stored.targets ?? {}));
    } catch {
      // nothing stored yet
    }
    await this.reconcile();
    if (reconcileEveryMs > 0) {
      this.timer = setInterval(() => void this.reconcile(), reconcileEveryMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Re-applies what a target is missing; drops targets that no longer exist. */
  reconcile(): Promise<void> {
    return this.serialized(async () => {
      let changed = false;
      for (const [key, stored] of [...this.targets]) {
        let target: ProxyTargetRef | undefined;
        try {
          target = await this.platform.reopen(stored.record);
        } catch (error) {
          // The host could not say (HNS down, say): keep the policies and try again next round.
          this.log(`finding proxy target ${key} failed: ${(error as Error).message}`);
          continue;
        }
        if (!target) {
          this.log(`proxy target ${key} is gone; dropping its ${stored.policies.length} policies`);
          this.targets.delete(key);
          changed = true;
          continue;
        }
        try {
          if (!(await this.platform.check(target, stored.policies))) {
            this.log(`proxy policies of ${key} were missing on the host; applying them again`);
            await this.platform.apply(target, stored.policies);
          }
        } catch (error) {
          this.log(`reconciling proxy policies of ${key} failed: ${(error as Error).message}`);
        } finally {
          this.platform.release(target);
        }
      }
      if (changed) this.save();
    });
  }

  add(target: ProxyTargetRef, settings: ProxyPolicySettings): Promise<ProxyPolicy> {
    return this.serialized(async () => {
      const policy: ProxyPolicy = { ...settings, Id: `pp-${randomBytes(6).toString('hex')}`, Target: target.key, Applied: true, Created: new Date().toISOString() };
      const current = this.targets.get(target.key)?.policies ?? [];
      await this.platform.apply(target, [...current, policy]);
      this.targets.set(target.key, { record: recordOf(target), policies: [...current, policy] });
      this.save();
      return policy;
    });
  }

  list(target: ProxyTargetRef): Promise<ProxyPolicy[]> {
    return this.serialized(async () => {
      const policies = this.targets.get(target.key)?.policies ?? [];
      const applied = policies.length === 0 || (await this.platform.check(target, policies));
      return policies.map((policy) => ({ ...policy, Applied: applied }));
    });
  }

  /** Removes one policy of the target, or all of them; ids of other targets are not found. */
  remove(target: ProxyTargetRef, id: string | undefined): Promise<string[]> {
    return this.serialized(async () => {
      const current = this.targets.get(target.key)?.policies ?? [];
      const removed = id === undefined ? current : current.filter((policy) => policy.Id === id);
      if (id !== undefined && removed.length === 0) throw new NotFoundError(`no proxy policy ${id} on this caller's endpoint`, { id });
      const remaining = current.filter((policy) => !removed.includes(policy));
      await this.platform.apply(target, remaining);
      if (remaining.length) this.targets.set(target.key, { record: recordOf(target), policies: remaining });
      else this.targets.delete(target.key);
      this.save();
      return removed.map((policy) => policy.Id);
    });
  }

  private save(): void {
    writeStateFile(this.path, { version: 1, targets: Object.fromEntries(this.targets) });
  }
}
