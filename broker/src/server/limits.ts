/** Listener defaults when the policy names none. */
export const ListenerDefaults = {
  maxConnections: 256,
  idleTimeoutSeconds: 600,
} as const;

/**
 * A token bucket: `rate` tokens a second, holding at most `rate`, so a caller may burst one second's worth
 * after a pause but never sustain more than the rate. Shared by every connection of one profile, since
 * a caller could otherwise multiply its rate by opening connections.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** At least one token, so a rate below 1 a second still lets a request through now and then. */
  private readonly capacity: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.capacity = Math.max(1, rate);
    this.tokens = this.capacity;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
