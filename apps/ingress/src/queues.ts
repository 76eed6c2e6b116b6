import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, queueOrderedBacklogAdd, type InboundMessageJob, type StatusJob } from '@alphadome/tenant-core';
import { TurnBatcher, type Enqueuer, type IngressJob, type TurnBatcherOptions } from './enqueue.ts';

/**
 * Every ingress job: retried with backoff by the worker, kept a day after completion (which is
 * also how long a redelivery of the same wamid stays a no-op), kept when failed so operators
 * see it in Bull Board.
 */
export const ingressJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: false,
};

export interface IngressQueues {
  inbound: Queue;
  status: Queue;
  /** the connection under both (the fairness backlog bookkeeping goes through it) */
  redis: Redis;
}

/** The two BullMQ queues ingress feeds, on the given (producer) connection. */
export function createIngressQueues(connection: Redis, prefix: string): IngressQueues {
  const common = { connection, prefix, defaultJobOptions: ingressJobOptions };
  const queues = { inbound: new Queue(queueNames.inbound, common), status: new Queue(queueNames.status, common) };
  // connection errors surface on each add; without a listener an 'error' event would crash
  for (const q of Object.values(queues)) q.on('error', () => {});
  return { ...queues, redis: connection };
}

/**
 * Adds jobs to their queues: one `addBulk` per queue (one pipelined write for the lot). Job ids
 * come from the wamid, so a job that already exists is left as it is: duplicates are no-ops.
 *
 * Fairness (DESIGN "Message path rules"): inbound jobs get their tenant's backlog priority, as
 * the worker gives reply and send jobs (tenant-core fair-priority.ts), so a tenant whose burst
 * fills the inbound queue cannot make another tenant's message wait behind it. One pipeline for
 * the batch adds every tenant's job ids to its backlog set and reads the priority (one EVAL per
 * tenant in the batch, not per request), then the addBulk: a batch costs two round trips
 * instead of one, whatever its size. Status jobs are not prioritised (they are cheap and
 * nobody waits on them); their addBulk goes out with the backlog pipeline.
 */
export async function addJobs(queues: IngressQueues, jobs: readonly IngressJob[]): Promise<void> {
  const byTenant = new Map<string, { name: string; data: InboundMessageJob; opts: JobsOptions & { jobId: string } }[]>();
  const status: { name: string; data: StatusJob; opts: JobsOptions }[] = [];
  for (const job of jobs) {
    if (job.queue === queueNames.inbound) {
      let list = byTenant.get(job.data.tenantId);
      if (list === undefined) byTenant.set(job.data.tenantId, (list = []));
      list.push({ name: job.name, data: job.data, opts: { jobId: job.jobId } });
    } else status.push({ name: job.name, data: job.data, opts: { jobId: job.jobId } });
  }
  const adds: Promise<unknown>[] = [];
  if (status.length > 0) adds.push(queues.status.addBulk(status));
  if (byTenant.size > 0) adds.push(addInbound(queues, byTenant));
  await Promise.all(adds);
}

async function addInbound(
  queues: IngressQueues,
  byTenant: Map<string, { name: string; data: InboundMessageJob; opts: JobsOptions & { jobId: string } }[]>,
): Promise<void> {
  const pipe = queues.redis.pipeline();
  const tenants = [...byTenant.entries()];
  for (const [tenantId, list] of tenants) queueOrderedBacklogAdd(pipe, queues.inbound, tenantId, list.map((j) => j.opts.jobId));
  const results = (await pipe.exec()) ?? [];
  const bulk: { name: string; data: InboundMessageJob; opts: JobsOptions }[] = [];
  tenants.forEach(([, list], i) => {
    const [err, value] = results[i] ?? [null, 1];
    if (err) throw err;
    const priority = Number(value) || 1;
    for (const j of list) bulk.push({ ...j, opts: { ...j.opts, priority } });
  });
  await queues.inbound.addBulk(bulk);
}

/** The webhook path's enqueuer in 'direct' mode: one addBulk per queue per event-loop turn. */
export class DirectEnqueuer implements Enqueuer {
  private readonly batcher: TurnBatcher<readonly IngressJob[]>;

  constructor(queues: IngressQueues, opts: TurnBatcherOptions = {}) {
    this.batcher = new TurnBatcher((parts) => addJobs(queues, parts.flat()), opts);
  }

  enqueue(jobs: readonly IngressJob[]): Promise<void> {
    return jobs.length === 0 ? Promise.resolve() : this.batcher.add(jobs, jobs.length);
  }

  close(): Promise<void> {
    return this.batcher.close();
  }
}
