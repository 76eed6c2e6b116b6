import type { Job, JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  FAIR_MAX_PRIORITY,
  fairBacklogKey,
  queueBacklogAdds,
  releaseFairBacklog,
} from '@alphadome/tenant-core';

/**
 * Fairness between tenants with open-source BullMQ (groups are a paid feature): every reply
 * and send job gets `priority = its tenant's backlog in that queue + 1`. The backlog is a Redis
 * set of the tenant's unfinished job ids (a set, not a counter, so a duplicate add of the same
 * job id — Meta's retries, a re-run reply job — is not counted twice). A quiet tenant's job
 * thus has priority 1 and is taken before the 2nd…5,000th job of a tenant with a burst, while
 * each tenant's own jobs keep their order. The worker removes the id when the job completes
 * or fails for good (worker.ts); the set expires when a tenant has been idle for a while, so
 * an id left behind by a crash cannot skew the order for long. The bookkeeping itself is shared
 * with ingress (inbound jobs): @alphadome/tenant-core fair-priority.ts.
 */
export const MAX_PRIORITY = FAIR_MAX_PRIORITY;

/** A Queue or Worker (both QueueBase): its name, prefix and raw Redis client. */
export type QueueLike = Pick<Queue, 'name' | 'opts' | 'getBackend'>;

/** The raw Redis client under a BullMQ 6 queue or worker (the Redis backend's escape hatch). */
export function redisOf(q: QueueLike): Promise<Redis> {
  return (q.getBackend() as unknown as { client: Promise<Redis> }).client;
}

export function backlogKey(queue: Pick<Queue, 'name' | 'opts'>, tenantId: string): string {
  return fairBacklogKey(queue, tenantId);
}

export type FairJobOptions = JobsOptions & { jobId: string };

/** Add one job with its tenant's fair priority. `opts.jobId` is required (it is the backlog member). */
export async function addFairJob<T>(queue: Queue<T>, tenantId: string, name: string, data: T, opts: FairJobOptions): Promise<Job<T>> {
  const client = await redisOf(queue);
  const pipe = client.multi();
  const priorities = queueBacklogAdds(pipe, backlogKey(queue, tenantId), [opts.jobId]);
  const priority = priorities((await pipe.exec()) ?? [], 0)[0] ?? 1;
  return (queue as Queue).add(name as never, data as never, { ...opts, priority }) as Promise<Job<T>>;
}

/** Many jobs of one tenant at once (one round trip for the backlog, one addBulk). */
export async function addFairJobs<T>(
  queue: Queue<T>,
  tenantId: string,
  jobs: readonly { name: string; data: T; opts: FairJobOptions }[],
): Promise<Job<T>[]> {
  if (jobs.length === 0) return [];
  const client = await redisOf(queue);
  const pipe = client.multi();
  const read = queueBacklogAdds(pipe, backlogKey(queue, tenantId), jobs.map((j) => j.opts.jobId));
  const priorities = read((await pipe.exec()) ?? [], 0);
  const bulk = jobs.map((j, i) => ({ name: j.name, data: j.data, opts: { ...j.opts, priority: priorities[i] ?? 1 } }));
  return (queue as Queue).addBulk(bulk as never) as Promise<Job<T>[]>;
}

/** The job left its queue (completed, or failed for good): it no longer counts as backlog. */
export async function releaseFairJob(queue: QueueLike, tenantId: string, jobId: string): Promise<void> {
  await releaseFairBacklog(await redisOf(queue), queue, tenantId, jobId);
}

/** A tenant's current backlog in a queue (for tests and metrics). */
export async function tenantBacklog(queue: QueueLike, tenantId: string): Promise<number> {
  const client = await redisOf(queue);
  return client.scard(backlogKey(queue, tenantId));
}
