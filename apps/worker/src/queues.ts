import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { queueNames, redisOptionsFromUrl, replyJobId, sendJobId, type ReplyJob, type SendJob } from '@alphadome/tenant-core';
import { addFairJob } from './delivery/fair-enqueue.ts';
import { DELIVERY_BACKOFF } from './delivery/retry-policy.ts';

export type { ReplyJob, SendJob };

export interface RetryPolicy {
  replyAttempts: number;
  sendAttempts: number;
  /** base delay of the exponential backoff (ms) */
  retryBaseMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { replyAttempts: 3, sendAttempts: 8, retryBaseMs: 1000 };

export function connectionFromUrl(url: string): ConnectionOptions {
  return { ...redisOptionsFromUrl(url), maxRetriesPerRequest: null };
}

const keep = { removeOnComplete: { age: 24 * 3600, count: 20_000 }, removeOnFail: { age: 7 * 24 * 3600 } };

export interface WorkerQueues {
  reply: Queue<ReplyJob>;
  send: Queue<SendJob>;
  addReply(data: ReplyJob): Promise<void>;
  /**
   * The reply job of a conversation, debounced (issue 6): BullMQ deduplication keyed on the
   * conversation, `replace` while delayed (each new message restarts the window and carries the
   * newest data), `keepLastIfActive` while one runs (one more job follows it; never two at once).
   */
  addConversationReply(data: ReplyJob, opts: { conversationId: string; debounceMs: number }): Promise<void>;
  addSend(data: SendJob): Promise<void>;
  close(): Promise<void>;
}

/**
 * The queues the worker itself adds to (reply, send), with their retry options. Every job gets
 * its tenant's fair priority (backlog + 1, delivery/fair-enqueue.ts): a tenant with a burst
 * cannot starve the others.
 */
export function createWorkerQueues(opts: { redisUrl: string; prefix: string; retry: RetryPolicy }): WorkerQueues {
  const connection = connectionFromUrl(opts.redisUrl);
  const reply = new Queue<ReplyJob>(queueNames.reply, { connection, prefix: opts.prefix });
  const send = new Queue<SendJob>(queueNames.send, { connection, prefix: opts.prefix });
  const replyOpts: JobsOptions = {
    ...keep,
    attempts: opts.retry.replyAttempts,
    backoff: { type: 'exponential', delay: opts.retry.retryBaseMs },
  };
  const sendOpts: JobsOptions = {
    ...keep,
    attempts: opts.retry.sendAttempts,
    // exponential with jitter, by Meta's error code (delivery/retry-policy.ts, set on the send Worker)
    backoff: { type: DELIVERY_BACKOFF, delay: opts.retry.retryBaseMs },
  };
  return {
    reply,
    send,
    async addReply(data) {
      await addFairJob(reply, data.tenantId, 'reply', data, { ...replyOpts, jobId: replyJobId(data.tenantId, data.inboundWamid) });
    },
    async addConversationReply(data, o) {
      await addFairJob(reply, data.tenantId, 'reply', data, {
        ...replyOpts,
        jobId: replyJobId(data.tenantId, data.inboundWamid),
        ...(o.debounceMs > 0 ? { delay: o.debounceMs } : {}),
        deduplication: { id: `${data.tenantId}:${o.conversationId}`, replace: true, keepLastIfActive: true },
      });
    },
    async addSend(data) {
      await addFairJob(send, data.tenantId, 'send', data, { ...sendOpts, jobId: sendJobId(data.tenantId, data.idempotencyKey) });
    },
    async close() {
      await Promise.all([reply.close(), send.close()]);
    },
  };
}
