import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * Fairness between tenants with open-source BullMQ (groups are a paid feature), shared by the
 * worker (reply, send) and ingress (inbound): a job gets `priority = its tenant's backlog in
 * that queue` (the backlog counted after adding the job itself, so a tenant without one gets 1).
 * The backlog is a Redis set of the tenant's unfinished job ids — a set, not a counter, so a
 * duplicate add of the same job id (Meta's redeliveries of a wamid, a re-run reply job) is not
 * counted twice. A quiet tenant's job thus has priority 1 and is taken before the 2nd…5,000th
 * job of a tenant with a burst. The worker removes the id when the job completes or fails for
 * good; a maintenance job drops ids whose job is gone; the set expires when a tenant has been
 * idle for a while.
 *
 * queueBacklogAdds only queues commands on a pipeline/MULTI the caller sends, so the bookkeeping
 * shares the caller's round trip; fairOrderedPriorities (ingress) is one script call of its own.
 */
export const FAIR_MAX_PRIORITY = 2_097_152; // BullMQ's limit (2^21)
export const FAIR_BACKLOG_TTL_MS = 6 * 3600 * 1000;

/** The part of a BullMQ Queue/Worker the key needs. */
export interface FairQueueRef {
  name: string;
  opts: { prefix?: string | undefined };
}

/** The backlog set of a tenant in a queue: `<prefix>:<queue>:fair:<tenant>`. */
export function fairBacklogKey(queue: FairQueueRef, tenantId: string): string {
  return `${queue.opts.prefix ?? 'bull'}:${queue.name}:fair:${tenantId}`;
}

/** The floor of a tenant's backlog (see fairBacklogBatchScript); outside the `fair:*` key space the reconcile scans. */
export function fairFloorKey(queue: FairQueueRef, tenantId: string): string {
  return `${queue.opts.prefix ?? 'bull'}:${queue.name}:fairfloor:${tenantId}`;
}

/** A backlog size as a BullMQ priority: 1..2^21. */
export function clampFairPriority(size: number): number {
  if (!Number.isFinite(size)) return 1;
  return Math.min(Math.max(1, Math.floor(size)), FAIR_MAX_PRIORITY);
}

/**
 * Queues, per job id: SADD id, SCARD (the backlog after adding it); then one PEXPIRE. Returns
 * how to read each job's priority from the pipeline's results (`results` as `exec()` gave them,
 * `offset` = how many commands the pipeline held before this call).
 */
export function queueBacklogAdds(pipe: ChainableCommander, key: string, jobIds: readonly string[]): (results: readonly [Error | null, unknown][], offset: number) => number[] {
  for (const id of jobIds) pipe.sadd(key, id).scard(key);
  pipe.pexpire(key, FAIR_BACKLOG_TTL_MS);
  return (results, offset) => jobIds.map((_id, i) => clampFairPriority(Number(results[offset + i * 2 + 1]?.[1] ?? 1)));
}

/** How many commands queueBacklogAdds queues for `n` ids. */
export const backlogAddCommands = (n: number): number => n * 2 + 1;

/**
 * The ordered backlog, for every tenant of a batch in one script call (one command, one round
 * trip, whatever the number of tenants; one tenant is the case of a single entry). It keeps each
 * tenant's own jobs in order: per tenant, SADD its job ids; its priority is `max(backlog after
 * adding the ids, the last priority given to this tenant while its backlog was not empty)`,
 * clamped to 1..max and remembered as the tenant's new floor; both keys get the TTL. The floor
 * matters once a backlog shrinks: jobs queued while it was 1,000 deep wait at priority ≤ 1,000; a
 * new job given the smaller current size would overtake them. With the floor it ties with the
 * last one and equal priorities are FIFO in BullMQ. The floor is forgotten when the backlog was
 * empty before this add.
 * KEYS: per tenant its backlog set and floor key. ARGV: ttl ms, max priority, then per tenant
 * the number of its ids followed by the ids. Returns per tenant, in KEYS order, its priority and
 * its backlog size after the add (ingress's pacing positions).
 */
export const fairBacklogBatchScript = `
local ttl = ARGV[1]
local max = tonumber(ARGV[2])
local out = {}
local a = 3
for t = 1, #KEYS / 2 do
  local set = KEYS[2 * t - 1]
  local floorKey = KEYS[2 * t]
  local n = tonumber(ARGV[a])
  local first = a + 1
  local last = a + n
  a = last + 1
  local before = redis.call('SCARD', set)
  for i = first, last, 1000 do
    redis.call('SADD', set, unpack(ARGV, i, math.min(i + 999, last)))
  end
  local size = redis.call('SCARD', set)
  local floor = 0
  if before > 0 then floor = tonumber(redis.call('GET', floorKey) or '0') or 0 end
  local p = size
  if floor > p then p = floor end
  if p < 1 then p = 1 end
  if p > max then p = max end
  redis.call('SET', floorKey, p, 'PX', ttl)
  redis.call('PEXPIRE', set, ttl)
  out[2 * t - 1] = p
  out[2 * t] = size
end
return out
`;
const fairBacklogBatchSha = createHash('sha1').update(fairBacklogBatchScript).digest('hex');

/**
 * Runs fairBacklogBatchScript for `tenants` (each: tenant id, its job ids) as one EVALSHA (the
 * script body is sent only after a NOSCRIPT), straight on the connection: an ioredis pipeline on
 * a connection BullMQ has loaded its ~50 scripts into copies every one of them onto each pipeline
 * it makes (measured: the costliest part of a small batch's bookkeeping). Returns per tenant, in
 * order, its priority and its backlog size after the add.
 */
export async function fairOrderedPriorities(
  redis: Redis,
  queue: FairQueueRef,
  tenants: readonly (readonly [string, readonly string[]])[],
): Promise<{ priority: number; backlog: number }[]> {
  const keys: string[] = [];
  const args: (string | number)[] = [FAIR_BACKLOG_TTL_MS, FAIR_MAX_PRIORITY];
  for (const [tenantId, ids] of tenants) {
    keys.push(fairBacklogKey(queue, tenantId), fairFloorKey(queue, tenantId));
    args.push(ids.length);
    for (const id of ids) args.push(id);
  }
  let result: unknown;
  try {
    result = await redis.evalsha(fairBacklogBatchSha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    result = await redis.eval(fairBacklogBatchScript, keys.length, ...keys, ...args);
  }
  if (!Array.isArray(result) || result.length !== tenants.length * 2) throw new Error('fair backlog script returned an unexpected reply');
  return tenants.map((_t, i) => ({ priority: clampFairPriority(Number(result[2 * i])), backlog: Number(result[2 * i + 1]) || 0 }));
}

/** The job left its queue (completed, or failed for good): it no longer counts as backlog. */
export async function releaseFairBacklog(client: Redis, queue: FairQueueRef, tenantId: string, jobId: string): Promise<void> {
  await client.srem(fairBacklogKey(queue, tenantId), jobId);
}
