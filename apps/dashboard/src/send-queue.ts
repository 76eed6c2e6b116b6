import type { Queue } from 'bullmq';
import { sendJobId, type SendJob } from '@alphadome/tenant-core';

/**
 * A person's reply goes out through the worker's send queue: the job names the stored outbound
 * row by its idempotency key (the job contract lives in @alphadome/tenant-core queues.ts); the
 * worker reads the row, sends it with the tenant's token and records the wamid.
 */
export async function enqueueSend(queue: Queue, job: SendJob): Promise<void> {
  await queue.add('send', job, {
    jobId: sendJobId(job.tenantId, job.idempotencyKey),
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 20_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}
