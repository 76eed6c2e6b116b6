import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * A tenant's share of one connection pool: at most `limit` of its transactions (withTenant,
 * withTenantPipelined) hold or wait for a connection at once; the next waits here, in its own
 * tenant's line. The pool's own queue is first come, first served across tenants: a tenant with a
 * burst of jobs queued dozens of transactions in it, and a quiet tenant's every statement waited
 * behind them (measured on the fairness benchmark: the quiet tenant's reply job spent p50 350 ms,
 * max 4.6 s, getting to its LLM call, against 20 ms alone). With a share below the pool size,
 * the connections beyond it are always there for the other tenants.
 *
 * A transaction started inside another of the same tenant (same async context) does not wait:
 * its outer one holds a share already, and waiting there could deadlock.
 */
export class TenantGate {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly held = new AsyncLocalStorage<ReadonlySet<string>>();
  /** transactions that had to wait for their tenant's share (a counter for metrics) */
  waits = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`tenant share must be a positive integer, got ${limit}`);
  }

  async run<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const mine = this.held.getStore();
    if (mine?.has(tenantId)) return fn();
    await this.acquire(tenantId);
    try {
      return await this.held.run(new Set(mine).add(tenantId), fn);
    } finally {
      this.release(tenantId);
    }
  }

  /** transactions of `tenantId` running now (for tests and metrics) */
  inUse(tenantId: string): number {
    return this.running.get(tenantId) ?? 0;
  }

  private acquire(tenantId: string): Promise<void> | undefined {
    const n = this.running.get(tenantId) ?? 0;
    if (n < this.limit) {
      this.running.set(tenantId, n + 1);
      return undefined;
    }
    this.waits++;
    return new Promise<void>((resolve) => {
      const line = this.waiting.get(tenantId);
      if (line) line.push(resolve);
      else this.waiting.set(tenantId, [resolve]);
    });
  }

  private release(tenantId: string): void {
    const line = this.waiting.get(tenantId);
    const next = line?.shift();
    if (next) {
      if (line!.length === 0) this.waiting.delete(tenantId);
      next(); // the share passes to the next in line: the running count stays
      return;
    }
    const n = (this.running.get(tenantId) ?? 1) - 1;
    if (n > 0) this.running.set(tenantId, n);
    else this.running.delete(tenantId);
  }
}
