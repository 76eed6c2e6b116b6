import { AppError, queueNames, type InboundMessageJob, type StatusJob } from '@alphadome/tenant-core';
import type { IngressMetrics } from './metrics.ts';

export type IngressJob =
  | { queue: typeof queueNames.inbound; name: 'message'; jobId: string; data: InboundMessageJob }
  | { queue: typeof queueNames.status; name: 'status'; jobId: string; data: StatusJob };

/** Hands jobs to Redis; resolves only once Redis has them, rejects (AppError 'unavailable') otherwise. */
export interface Enqueuer {
  enqueue(jobs: readonly IngressJob[]): Promise<void>;
  /** Sends what is pending, waits for the Redis round trips in flight. */
  close(): Promise<void>;
}

export interface TurnBatcherOptions {
  /** how long a request waits for Redis (queued behind a batch in flight included) before it is answered 503 (Meta retries) */
  timeoutMs?: number;
  /** a batch holding this many jobs takes no more requests (the next ones start a new batch) */
  maxBatchJobs?: number;
  /** batches sent and not yet confirmed at once (default 1: group commit) */
  maxInFlight?: number;
  metrics?: IngressMetrics;
}

interface Batch<T> {
  items: T[];
  jobs: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
  /** called when the deadline passes while the batch is in flight */
  onTimeout: (() => void) | undefined;
}

/**
 * Gathers what the requests hand over into few sends: the requests handled in one event-loop
 * turn always share one, and while a send is unconfirmed the next turns' requests gather into
 * the next batch, sent as soon as it returns (group commit; `maxInFlight` batches may be
 * unconfirmed at once, so Redis works on one while the process reads the next): under load a
 * Redis round trip carries many webhooks (BullMQ and ioredis cost a lot per round trip); at low
 * load nothing is in flight and a webhook is sent at the end of its own turn. Every request
 * still waits until Redis confirmed its batch and shares the batch's fate: if it fails, or is
 * not confirmed within `timeoutMs` of the batch's first request, every request in it answers
 * 503 and Meta redelivers; whatever did get in makes the redelivery a no-op (job ids come from
 * the wamid).
 */
export class TurnBatcher<T> {
  private readonly timeoutMs: number;
  private readonly maxBatchJobs: number;
  private readonly metrics: IngressMetrics | undefined;
  /** batches waiting to be sent, oldest first; the last one may still take requests */
  private readonly queue: Batch<T>[] = [];
  private pumpScheduled = false;
  /** batches sent and not yet confirmed (or given up) */
  private sending = 0;
  private readonly maxInFlight: number;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly send: (items: T[]) => Promise<unknown>,
    opts: TurnBatcherOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2_500;
    this.maxBatchJobs = opts.maxBatchJobs ?? 500;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
    this.metrics = opts.metrics;
  }

  /** Adds one request's share (`jobs` = how many jobs it holds); resolves once Redis has the batch. */
  add(item: T, jobs: number): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'ingress is shutting down'));
    let batch = this.queue.length > 0 ? this.queue[this.queue.length - 1]! : undefined;
    // a batch takes no more requests once full or given up (one that was sent has left the queue)
    if (batch === undefined || batch.settled || batch.jobs >= this.maxBatchJobs) {
      batch = this.newBatch();
      this.queue.push(batch);
    }
    batch.items.push(item);
    batch.jobs += jobs;
    // after the I/O callbacks of this turn: every request parsed in it joins the batch
    this.schedulePump();
    return batch.promise;
  }

  /** Runs pump() at the end of this turn (once, however many ask). */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Sends the oldest queued batches while fewer than maxInFlight are unconfirmed (all of them once closing). */
  private pump(): void {
    while (this.queue.length > 0 && (this.sending < this.maxInFlight || this.closed)) {
      const batch = this.queue.shift()!;
      if (batch.settled) continue; // gave up waiting (timed out in the queue)
      this.sendBatch(batch);
    }
  }

  private sendBatch(batch: Batch<T>): void {
    const items = batch.items;
    batch.items = [];
    this.metrics?.enqueueBatchSize.observe(batch.jobs);
    this.sending++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.sending--;
      // the slot is free: what gathered meanwhile goes at the end of this turn
      if (this.queue.length > 0) this.schedulePump();
    };
    // a batch that timed out in flight frees its slot: a Redis that hangs must not hold the
    // batches behind it beyond their own deadline
    batch.onTimeout = release;
    let sent: Promise<unknown>;
    try {
      sent = this.send(items);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => {
        release();
        settle(batch, null);
      },
      (err: unknown) => {
        release();
        settle(batch, err instanceof AppError ? err : new AppError('unavailable', `Redis refused the jobs: ${(err as Error).message}`));
      },
    );
    // close() waits for this: settled by Redis's answer or by the batch's deadline, whichever is first
    const done = batch.promise.then(
      () => {},
      () => {},
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  private newBatch(): Batch<T> {
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // every request awaits this promise; this no-op keeps a batch whose requests are gone from
    // being reported as an unhandled rejection
    promise.catch(() => {});
    const batch: Batch<T> = { items: [], jobs: 0, promise, resolve, reject, timer: undefined, settled: false, onTimeout: undefined };
    batch.timer = setTimeout(() => {
      settle(batch, new AppError('unavailable', `Redis did not confirm the jobs within ${this.timeoutMs} ms`));
      batch.onTimeout?.();
    }, this.timeoutMs);
    return batch;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pump();
    await Promise.allSettled([...this.inFlight]);
  }
}

function settle<T>(batch: Batch<T>, err: Error | null): void {
  if (batch.settled) return;
  batch.settled = true;
  clearTimeout(batch.timer);
  if (err === null) batch.resolve();
  else batch.reject(err);
}
