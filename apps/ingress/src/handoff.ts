import type { Redis } from 'ioredis';
import { AppError, queueNames } from '@alphadome/tenant-core';
import { TurnBatcher, type Enqueuer, type IngressJob, type TurnBatcherOptions } from './enqueue.ts';

/**
 * The hand-off stream: where ingress durably records the jobs of a webhook before it answers
 * 200, one stream entry per batch (one XADD per event-loop turn, ~2 µs of Redis time per job
 * against ~26 µs for BullMQ's per-job script). The forwarder (forwarder.ts) moves entries
 * into the BullMQ queues and deletes them; job ids come from the wamid, so an entry forwarded
 * twice, or a webhook Meta delivered twice, still makes one job.
 *
 * The key is `<prefix>:ingress-handoff`: it shares the queues' prefix (and so their hash tag on
 * Redis Cluster) and is not shaped like a queue key (`<prefix>:<queue>:<suffix>`).
 */
export const handoffStreamKey = (prefix: string): string => `${prefix}:ingress-handoff`;

/** Layout version of an entry; a forwarder refuses (dead-letters) versions it does not know. */
export const HANDOFF_VERSION = '1';

/** One job as stored in an entry: short keys, the job data as is. */
interface EncodedJob {
  q: string;
  n: string;
  id: string;
  d: unknown;
}

/**
 * One request's jobs as a fragment of an entry's JSON array (the objects, comma-separated):
 * encoded when the request hands them over, so a body that cannot be encoded fails alone,
 * never the batch it would have shared.
 */
export function encodeJobs(jobs: readonly IngressJob[]): string {
  let out = '';
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i]!;
    const e: EncodedJob = { q: j.queue, n: j.name, id: j.jobId, d: j.data };
    out += (i === 0 ? '' : ',') + JSON.stringify(e);
  }
  return out;
}

/** The jobs of an entry; throws on anything this version did not write. */
export function decodeJobs(json: string): IngressJob[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error('hand-off entry is not an array');
  return parsed.map((e: unknown) => {
    const j = e as Partial<EncodedJob>;
    if (typeof j !== 'object' || j === null || typeof j.id !== 'string' || typeof j.d !== 'object' || j.d === null) {
      throw new Error('hand-off entry holds a malformed job');
    }
    if (j.q === queueNames.inbound && j.n === 'message') return { queue: queueNames.inbound, name: 'message', jobId: j.id, data: j.d } as IngressJob;
    if (j.q === queueNames.status && j.n === 'status') return { queue: queueNames.status, name: 'status', jobId: j.id, data: j.d } as IngressJob;
    throw new Error(`hand-off entry names an unknown queue/job "${String(j.q)}/${String(j.n)}"`);
  });
}

/** Appends one entry (the fragments of several requests) to the hand-off stream. */
export function appendToHandoff(redis: Redis, key: string, fragments: readonly string[]): Promise<unknown> {
  return redis.xadd(key, '*', 'v', HANDOFF_VERSION, 'jobs', `[${fragments.join(',')}]`);
}

/** The webhook path's enqueuer in 'stream' mode: one XADD per event-loop turn. */
export class StreamEnqueuer implements Enqueuer {
  private readonly batcher: TurnBatcher<string>;

  constructor(redis: Redis, key: string, opts: TurnBatcherOptions = {}) {
    this.batcher = new TurnBatcher((fragments) => appendToHandoff(redis, key, fragments), opts);
  }

  enqueue(jobs: readonly IngressJob[]): Promise<void> {
    if (jobs.length === 0) return Promise.resolve();
    let fragment: string;
    try {
      fragment = encodeJobs(jobs);
    } catch (err) {
      return Promise.reject(new AppError('bad_request', `webhook items cannot be stored: ${(err as Error).message}`));
    }
    return this.batcher.add(fragment, jobs.length);
  }

  close(): Promise<void> {
    return this.batcher.close();
  }
}
