/**
 * A tenant's share of one connection pool: at most `limit` of its transactions (withTenant,
 * withTenantPipelined) hold or wait for a connection at once; the next waits here, in its own
 * tenant's line. The pool's own queue is first come, first served across tenants: a tenant with a
 * burst of jobs queued dozens of transactions in it, and a quiet tenant's every statement waited
 * behind them (measured on the fairness benchmark: the quiet tenant's reply job spent p50 350 ms,
 * max 4.6 s, getting to its LLM call, against 20 ms alone). With a share below the pool size,
 * the connections beyond it are always there for the other tenants.
 *
 * A wait is bounded (`maxWaitMs`): a transaction that has not got its share by then goes ahead
 * anyway, counted in `overflows`. That is what keeps a transaction opened inside another of the
 * same tenant from deadlocking when the share is full (the platform's code opens none; a test
 * checks that it would finish). It used to be detected with AsyncLocalStorage, whose promise hooks
 * cost every promise of the worker process (2.7 % of its busy time in a rate-cap profile; gone now).
 */
export class TenantGate {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();
  /** transactions that had to wait for their tenant's share (a counter for metrics) */
  waits = 0;
  /** transactions that gave up waiting after maxWaitMs and went ahead over the share */
  overflows = 0;

  constructor(
    readonly limit: number,
    readonly maxWaitMs = 5_000,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`tenant share must be a positive integer, got ${limit}`);
  }

  async run<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const shared = await this.acquire(tenantId);
    try {
      return await fn();
    } finally {
      if (shared) this.release(tenantId);
    }
  }

  /** transactions of `tenantId` holding its share now (for tests and metrics) */
  inUse(tenantId: string): number {
    return this.running.get(tenantId) ?? 0;
  }

  /** Resolves true once the transaction holds a share, false when it goes ahead without one (waited too long). */
  private acquire(tenantId: string): Promise<boolean> | boolean {
    const n = this.running.get(tenantId) ?? 0;
    if (n < this.limit) {
      this.running.set(tenantId, n + 1);
      return true;
    }
    this.waits++;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const line = this.waiting.get(tenantId);
          const i = line?.indexOf(waiter) ?? -1;
          if (i >= 0) line!.splice(i, 1);
          if (line?.length === 0) this.waiting.delete(tenantId);
          this.overflows++;
          resolve(false);
        }, this.maxWaitMs),
      };
      waiter.timer.unref?.();
      const line = this.waiting.get(tenantId);
      if (line) line.push(waiter);
      else this.waiting.set(tenantId, [waiter]);
    });
  }

  private release(tenantId: string): void {
    const line = this.waiting.get(tenantId);
    const next = line?.shift();
    if (next) {
      if (line!.length === 0) this.waiting.delete(tenantId);
      clearTimeout(next.timer);
      next.resolve(true); // the share passes to the next in line: the running count stays
      return;
    }
    const n = (this.running.get(tenantId) ?? 1) - 1;
    if (n > 0) this.running.set(tenantId, n);
    else this.running.delete(tenantId);
  }
}

interface Waiter {
  resolve: (shared: boolean) => void;
  timer: NodeJS.Timeout;
}
