import { DelayedError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Per-tenant in-flight cap (fairness, issue 5). Priorities (fair-enqueue.ts) decide which job a
 * free worker slot takes next, but a tenant with a burst still fills every slot of every stage:
 * with 64 of its jobs running per queue, another tenant's job — taken first — then shares the
 * event loop and the Postgres pool with ~190 of them, and each of its awaits queues behind
 * theirs (measured: B's reply job ran 2–4 s instead of 0.35 s; no job ever overtook it).
 *
 * So a tenant may run at most `cap` jobs of one queue at once, across all workers. A job over
 * the cap is *parked*: moved to BullMQ's delayed set (no attempt counted, no slot held) and its
 * id put in the tenant's parked set; when one of the tenant's jobs ends, the oldest parked job
 * is promoted into the queue again, with its original priority, and a slot is reserved for it.
 * A parked job also wakes by itself after `parkMs` (a lost promotion: a crashed worker).
 *
 * The cap is work-conserving: it holds only while another tenant has started a job of that
 * queue within `othersActiveMs`. A tenant alone on the platform (one shop's sale, the rate-cap
 * bench) keeps every slot, and its jobs are not fetched, parked and fetched again for nobody's
 * benefit (measured: ~3 parks per message, 8 Redis commands each). When another tenant starts a
 * job, the busy one's jobs beyond the cap park from then on, and its running jobs drain below
 * the cap as they end: only the newcomer's first job shares the worker with more than `cap`.
 *
 * Redis keys (one hash slot per tenant and queue, for Redis Cluster):
 *  - `<prefix>:<queue>:inflight:{<tenant>}:active`: ZSET job id → expiry (ms); an entry of a
 *    crashed worker expires after `ttlMs`, a reservation of a promoted job after `reserveMs`;
 *  - `<prefix>:<queue>:inflight:{<tenant>}:parked`: ZSET job id → order (job timestamp);
 *  - `<prefix>:<queue>:inflight:tenants`: ZSET tenant id → when it last started a job;
 *  - `<prefix>:inflight:parked-tenants`: SET of `<queue>|<tenant>` with parked jobs (the sweep).
 * The scripts touch a tenant's keys and the queue's shared ones together: on Redis Cluster the
 * prefix needs a hash tag (as BullMQ's own keys do there), which puts them all in one slot.
 */
const CLOCK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** Promote as many parked jobs as there are free slots; each gets a reservation. */
const PUMP = `
local function pump(now, cap, reserveMs, ttlMs)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local free = cap - redis.call('ZCARD', KEYS[1])
  if free <= 0 then return {} end
  local popped = redis.call('ZPOPMIN', KEYS[2], free)
  local ids = {}
  for i = 1, #popped, 2 do
    ids[#ids + 1] = popped[i]
    redis.call('ZADD', KEYS[1], now + reserveMs, popped[i])
  end
  if #ids > 0 then redis.call('PEXPIRE', KEYS[1], ttlMs * 2) end
  return ids
end
`;

/**
 * KEYS: active, parked, tenants. ARGV: cap, ttlMs, jobId, tenantId, othersActiveMs.
 * Returns 1 (run it) or 0 (park it): over the cap only while another tenant is active
 * (othersActiveMs 0: always).
 */
const ACQUIRE = `${CLOCK}
local cap = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local othersMs = tonumber(ARGV[5])
if othersMs > 0 then
  redis.call('ZADD', KEYS[3], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[3], othersMs * 2)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local run = redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < cap
if not run and othersMs > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - othersMs)
  run = redis.call('ZCARD', KEYS[3]) <= 1
end
if run then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
return 0
`;

/**
 * After the job was moved to delayed: remember it (and its tenant in the sweep's registry), then
 * pump (a slot may have freed between the acquire and now; without this the job would wait for
 * the next release or its own wake-up).
 * KEYS: active, parked, registry. ARGV: cap, ttlMs, reserveMs, jobId, order, parkMs, registry
 * member. Returns ids to promote.
 */
const PARK = `${CLOCK}${PUMP}
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[6]) * 4)
redis.call('SADD', KEYS[3], ARGV[7])
return pump(now, tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[2]))
`;

/** KEYS: active, parked. ARGV: cap, ttlMs, reserveMs, jobId. Returns ids to promote. */
const RELEASE = `${CLOCK}${PUMP}
redis.call('ZREM', KEYS[1], ARGV[4])
if redis.call('ZCARD', KEYS[2]) == 0 then return {} end
return pump(now, tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[2]))
`;

export type CappedQueue = 'inbound' | 'reply' | 'send';

export interface TenantInflightConfig {
  /** per queue: most jobs of one tenant running at once, per worker process sharing the queues (0 = no cap) */
  caps: Record<CappedQueue, number>;
  /** an active entry left by a crashed worker expires after this long */
  ttlMs: number;
  /** a promoted job's reserved slot expires if it has not started within this long */
  reserveMs: number;
  /** a parked job wakes by itself after this long, promoted or not */
  parkMs: number;
  /** the cap holds while another tenant has started a job of the queue within this long (0: always) */
  othersActiveMs: number;
  /** how often a worker pumps every tenant with parked jobs (lost promotions: a crashed worker) */
  sweepMs: number;
}

/**
 * Default caps for a worker of `concurrency` slots per queue. Inbound and send jobs are short
 * (a few queries, one Graph call): 2 and 16 keep one tenant's flow going. Inbound is 2, not 8:
 * ingress already paces a busy tenant's inbound jobs at 80/s, and 2 running at ~5–20 ms each
 * keep up with that, while each extra one shares the event loop with the other tenants' jobs
 * (fairness bench, interleaved: B's p99 ratio 2.09/2.49/2.78/4.94 with 8, 1.66/2.04/2.13/2.17/2.46 with 2;
 * A's drain time unchanged). A reply waits ~0.3–2 s on
 * the LLM, so it needs more in flight (80/s × 0.3 s = 24 at Meta's default rate): up to 3/4 of
 * the slots. Never all of them, so another tenant always finds a free slot in a worker.
 */
export function defaultTenantCaps(concurrency: number): Record<CappedQueue, number> {
  const c = Math.max(1, Math.floor(concurrency));
  const upTo = (n: number) => Math.max(1, Math.min(n, c - Math.max(1, Math.floor(c / 4))));
  return { inbound: upTo(2), reply: upTo(Math.ceil((c * 3) / 4)), send: upTo(16) };
}

/**
 * parkMs is long: promotions come from releases, and a sweep (every `sweepMs`) pumps every
 * tenant with parked jobs, so the wake-up is only a last resort — a short one would wake a
 * burst's thousands of parked jobs at once, only to park them again.
 */
export const defaultTenantInflight = { ttlMs: 120_000, reserveMs: 10_000, parkMs: 300_000, sweepMs: 15_000, othersActiveMs: 10_000 };

type WithScripts = Redis & {
  alphadomeInflightAcquire?: (...args: (string | number)[]) => Promise<number>;
  alphadomeInflightPark?: (...args: (string | number)[]) => Promise<string[]>;
  alphadomeInflightRelease?: (...args: (string | number)[]) => Promise<string[]>;
};

/** What promotion needs of a BullMQ Queue/Worker (its backend's `promote`, one script). */
export interface PromoteTarget {
  name: string;
  getBackend(): unknown;
}

export class TenantInflight {
  /**
   * Worker processes sharing the queues (refreshed by the worker from BullMQ's client list):
   * the caps are per worker's worth of slots, so a deployment scaled to N workers lets one
   * tenant run N times as many jobs (a big tenant is not throttled by the cap of one worker),
   * while every worker still keeps slots free for the others.
   */
  private workers = 1;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly config: TenantInflightConfig,
    private readonly onError: (err: Error) => void = () => {},
  ) {
    const r = redis as WithScripts;
    if (!r.alphadomeInflightAcquire) {
      redis.defineCommand('alphadomeInflightAcquire', { numberOfKeys: 3, lua: ACQUIRE });
      redis.defineCommand('alphadomeInflightPark', { numberOfKeys: 3, lua: PARK });
      redis.defineCommand('alphadomeInflightRelease', { numberOfKeys: 2, lua: RELEASE });
    }
  }

  capOf(queue: string): number {
    return ((this.config.caps as Record<string, number | undefined>)[queue] ?? 0) * this.workers;
  }

  /** How many worker processes share the queues (at least 1). */
  setWorkerCount(n: number): void {
    this.workers = Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1;
  }

  keys(queue: string, tenantId: string): [string, string] {
    const base = `${this.prefix}:${queue}:inflight:{${tenantId}}`;
    return [`${base}:active`, `${base}:parked`];
  }

  /** Tenants that started a job of `queue`, by when (the cap holds while another is active). */
  tenantsKey(queue: string): string {
    return `${this.prefix}:${queue}:inflight:tenants`;
  }

  /** The set of `<queue>|<tenant>` with parked jobs, for the sweep. */
  get registryKey(): string {
    return `${this.prefix}:inflight:parked-tenants`;
  }

  /** True: the job may run now (it holds a slot until release). False: park it. */
  async acquire(queue: string, tenantId: string, jobId: string): Promise<boolean> {
    const cap = this.capOf(queue);
    if (cap <= 0) return true;
    const [active, parked] = this.keys(queue, tenantId);
    const r = (this.redis as WithScripts).alphadomeInflightAcquire!(active, parked, this.tenantsKey(queue), cap, this.config.ttlMs, jobId, tenantId, this.config.othersActiveMs);
    return (await r) === 1;
  }

  /**
   * Park a job over its tenant's cap: delayed (BullMQ does not count it as an attempt) until a
   * slot frees and promotes it, or `parkMs` at the latest. Always throws DelayedError, which
   * tells BullMQ the job has been moved.
   */
  async park(target: PromoteTarget, job: Job, token: string): Promise<never> {
    const tenantId = (job.data as { tenantId: string }).tenantId;
    await job.moveToDelayed(Date.now() + this.config.parkMs, token);
    const [active, parked] = this.keys(target.name, tenantId);
    const ids = await (this.redis as WithScripts).alphadomeInflightPark!(
      active,
      parked,
      this.registryKey,
      this.capOf(target.name),
      this.config.ttlMs,
      this.config.reserveMs,
      job.id!,
      job.timestamp,
      this.config.parkMs,
      `${target.name}|${tenantId}`,
    );
    await this.promote(target, tenantId, ids);
    throw new DelayedError();
  }

  /** Pump every tenant with parked jobs in the given queues; forget tenants with none left. */
  async sweep(targets: ReadonlyMap<string, PromoteTarget>): Promise<number> {
    let promoted = 0;
    for (const member of await this.redis.smembers(this.registryKey)) {
      const [queue, tenantId] = member.split('|');
      const target = queue ? targets.get(queue) : undefined;
      if (!target || !tenantId) continue;
      const [active, parked] = this.keys(queue!, tenantId);
      if ((await this.redis.zcard(parked)) === 0) {
        await this.redis.srem(this.registryKey, member);
        continue;
      }
      const ids = await (this.redis as WithScripts).alphadomeInflightRelease!(active, parked, this.capOf(queue!), this.config.ttlMs, this.config.reserveMs, '');
      await this.promote(target, tenantId, ids);
      promoted += ids.length;
    }
    return promoted;
  }

  /** The job left the processor (done, failed, delayed): free its slot, promote the next parked. */
  async release(target: PromoteTarget, tenantId: string, jobId: string): Promise<void> {
    const cap = this.capOf(target.name);
    if (cap <= 0) return;
    const [active, parked] = this.keys(target.name, tenantId);
    const ids = await (this.redis as WithScripts).alphadomeInflightRelease!(active, parked, cap, this.config.ttlMs, this.config.reserveMs, jobId);
    await this.promote(target, tenantId, ids);
  }

  private async promote(target: PromoteTarget, tenantId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const backend = target.getBackend() as { promote(jobId: string): Promise<void> };
    await Promise.all(
      ids.map(async (id) => {
        try {
          await backend.promote(id);
        } catch (err) {
          // no longer delayed (woke by itself, removed): give its reserved slot back
          const [active] = this.keys(target.name, tenantId);
          await this.redis.zrem(active, id).catch(() => {});
          if (!/delayed|not exist|missing/i.test((err as Error).message)) this.onError(err as Error);
        }
      }),
    );
  }
}
