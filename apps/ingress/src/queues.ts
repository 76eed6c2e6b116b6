import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames, type InboundMessageJob, type StatusJob } from '@alphadome/tenant-core';
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
}

/** The two BullMQ queues ingress feeds, on the given (producer) connection. */
export function createIngressQueues(connection: Redis, prefix: string): IngressQueues {
  const common = { connection, prefix, defaultJobOptions: ingressJobOptions };
  const queues = { inbound: new Queue(queueNames.inbound, common), status: new Queue(queueNames.status, common) };
  // connection errors surface on each add; without a listener an 'error' event would crash
  for (const q of Object.values(queues)) q.on('error', () => {});
  return queues;
}

/**
 * Adds jobs to their queues: one `addBulk` per queue (one pipelined write for the lot). Job ids
 * come from the wamid, so a job that already exists is left as it is: duplicates are no-ops.
 */
export async function addJobs(queues: IngressQueues, jobs: readonly IngressJob[]): Promise<void> {
  const inbound: { name: string; data: InboundMessageJob; opts: JobsOptions }[] = [];
  const status: { name: string; data: StatusJob; opts: JobsOptions }[] = [];
  for (const job of jobs) {
    if (job.queue === queueNames.inbound) inbound.push({ name: job.name, data: job.data, opts: { jobId: job.jobId } });
    else status.push({ name: job.name, data: job.data, opts: { jobId: job.jobId } });
  }
  const adds: Promise<unknown>[] = [];
  if (inbound.length > 0) adds.push(queues.inbound.addBulk(inbound));
  if (status.length > 0) adds.push(queues.status.addBulk(status));
  await Promise.all(adds);
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
