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
 * These helpers only queue commands on a pipeline/MULTI the caller sends, so the bookkeeping
 * shares the caller's round trip.
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

/** The floor of a tenant's backlog (see fairBacklogScript); outside the `fair:*` key space the reconcile scans. */
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
 * One round trip per call, for a whole batch of a tenant's jobs, keeping that tenant's own
 * jobs in order: the priority is `max(backlog after adding the ids, the last priority given to
 * this tenant while its backlog was not empty)`. The floor matters once a backlog shrinks: jobs
 * queued while it was 1,000 deep wait at priority ≤ 1,000; a new job given the smaller current
 * size would overtake them. With the floor it ties with the last one and equal priorities are
 * FIFO in BullMQ. The floor is forgotten when the backlog was empty before this add.
 * KEYS: backlog set, floor key. ARGV: ttl ms, max priority, job ids…
 */
export const fairBacklogScript = `
local before = redis.call('SCARD', KEYS[1])
for i = 3, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local size = redis.call('SCARD', KEYS[1])
local floor = 0
if before > 0 then floor = tonumber(redis.call('GET', KEYS[2]) or '0') or 0 end
local p = size
if floor > p then p = floor end
if p < 1 then p = 1 end
local max = tonumber(ARGV[2])
if p > max then p = max end
redis.call('SET', KEYS[2], p, 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return p
`;

/** Queues the ordered-backlog script for one tenant's batch (one command; its result is the priority). */
export function queueOrderedBacklogAdd(pipe: ChainableCommander, queue: FairQueueRef, tenantId: string, jobIds: readonly string[]): void {
  pipe.eval(fairBacklogScript, 2, fairBacklogKey(queue, tenantId), fairFloorKey(queue, tenantId), FAIR_BACKLOG_TTL_MS, FAIR_MAX_PRIORITY, ...jobIds);
}

/** The job left its queue (completed, or failed for good): it no longer counts as backlog. */
export async function releaseFairBacklog(client: Redis, queue: FairQueueRef, tenantId: string, jobId: string): Promise<void> {
  await client.srem(fairBacklogKey(queue, tenantId), jobId);
}
