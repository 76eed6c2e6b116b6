import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  fairOrderedPriorities,
  queueNames,
  type InboundMessageJob,
  type StatusJob,
} from '@alphadome/tenant-core';
import { TurnBatcher, type Enqueuer, type IngressJob, type TurnBatcherOptions } from './enqueue.ts';
import { defaultInboundPace, paceDelayMs, type InboundPace } from './pace.ts';

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
  pace: InboundPace;
}

/** The two BullMQ queues ingress feeds, on the given (producer) connection. */
export function createIngressQueues(connection: Redis, prefix: string, pace: InboundPace = defaultInboundPace): IngressQueues {
  const common = { connection, prefix, defaultJobOptions: ingressJobOptions };
  const queues = { inbound: new Queue(queueNames.inbound, common), status: new Queue(queueNames.status, common) };
  // connection errors surface on each add; without a listener an 'error' event would crash
  for (const q of Object.values(queues)) q.on('error', () => {});
  return { ...queues, redis: connection, pace };
}

type InboundBulkJob = { name: string; data: InboundMessageJob; opts: { jobId: string; priority?: number; delay?: number } };
type StatusBulkJob = { name: string; data: StatusJob; opts: { jobId: string } };

/**
 * Adds jobs to their queues: one `addBulk` per queue (one pipelined write for the lot). Job ids
 * come from the wamid, so a job that already exists is left as it is: duplicates are no-ops.
 *
 * Fairness (DESIGN "Message path rules"): inbound jobs get their tenant's backlog priority, as
 * the worker gives reply and send jobs (tenant-core fair-priority.ts), so a tenant whose burst
 * fills the inbound queue cannot make another tenant's message wait behind it. One script call
 * for the batch adds every tenant's job ids to its backlog set and returns each tenant's
 * priority, then the addBulk: a batch costs two round trips instead of one, whatever its size.
 * Jobs beyond a tenant's free backlog are delayed to their place in its pace (InboundPace).
 * Status jobs are not prioritised (they are cheap and nobody waits on them); their addBulk goes
 * out with the backlog call.
 */
export async function addJobs(queues: IngressQueues, jobs: readonly IngressJob[]): Promise<void> {
  const byTenant = new Map<string, InboundBulkJob[]>();
  const status: StatusBulkJob[] = [];
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
  // Promise.all handles every add's rejection: one that fails after the first is not unhandled
  await Promise.all(adds);
}

async function addInbound(queues: IngressQueues, byTenant: Map<string, InboundBulkJob[]>): Promise<void> {
  const tenants = [...byTenant.entries()];
  const priorities = await fairOrderedPriorities(
    queues.redis,
    queues.inbound,
    tenants.map(([tenantId, list]) => [tenantId, list.map((j) => j.opts.jobId)] as const),
  );
  const pace = queues.pace;
  tenants.forEach(([, list], i) => {
    const { priority, backlog } = priorities[i]!;
    // the batch's jobs are the last `list.length` of the backlog (duplicates aside)
    const first = backlog - list.length + 1;
    list.forEach((j, k) => {
      j.opts.priority = priority;
      const delay = paceDelayMs(pace, first + k);
      if (delay > 0) j.opts.delay = delay;
    });
  });
  await queues.inbound.addBulk(tenants.flatMap(([, list]) => list));
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
