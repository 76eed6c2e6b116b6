import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';

/**
 * The worker's send-queue contract (apps/worker/src/queues.ts, SendJob and sendJobId):
 * the job names a stored outbound row by its idempotency key; the worker reads the row,
 * sends its payload with the tenant's token and records the wamid. Kept in step by hand,
 * because apps do not import each other; the dashboard e2e test exercises it.
 */
export interface SendJob {
  tenantId: string;
  idempotencyKey: string;
}

export function sendJobId(tenantId: string, idempotencyKey: string): string {
  return `sd-${createHash('sha256').update(`${tenantId}\n${idempotencyKey}`).digest('base64url').slice(0, 32)}`;
}

export async function enqueueSend(queue: Queue, job: SendJob): Promise<void> {
  await queue.add('send', job, {
    jobId: sendJobId(job.tenantId, job.idempotencyKey),
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 20_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}
