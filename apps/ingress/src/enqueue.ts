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
  /** how long a request waits for Redis before it is answered 503 (Meta retries) */
  timeoutMs?: number;
  /** a batch holding this many jobs is sent at once instead of at the end of the turn */
  maxBatchJobs?: number;
  metrics?: IngressMetrics;
}

interface Batch<T> {
  items: T[];
  jobs: number;
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Gathers what every request handled in one event-loop turn hands over into one send: under
 * load many POSTs share one Redis round trip, at low load a POST waits for nothing but its own.
 * Every request still waits until Redis confirmed its batch and shares the batch's fate: if it
 * fails, every request in it answers 503 and Meta redelivers; whatever did get in makes the
 * redelivery a no-op (job ids come from the wamid).
 */
export class TurnBatcher<T> {
  private readonly timeoutMs: number;
  private readonly maxBatchJobs: number;
  private readonly metrics: IngressMetrics | undefined;
  private current: Batch<T> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly send: (items: T[]) => Promise<unknown>,
    opts: TurnBatcherOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 2_500;
    this.maxBatchJobs = opts.maxBatchJobs ?? 500;
    this.metrics = opts.metrics;
  }

  /** Adds one request's share (`jobs` = how many jobs it holds); resolves once Redis has the batch. */
  add(item: T, jobs: number): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'ingress is shutting down'));
    let batch = this.current;
    if (batch === null) {
      batch = newBatch<T>();
      this.current = batch;
      const b = batch;
      // after the I/O callbacks of this turn: every request parsed in it joins the batch
      setImmediate(() => this.flush(b));
    }
    batch.items.push(item);
    batch.jobs += jobs;
    const promise = batch.promise;
    if (batch.jobs >= this.maxBatchJobs) this.flush(batch);
    return promise;
  }

  private flush(batch: Batch<T>): void {
    if (this.current === batch) this.current = null;
    if (batch.items.length === 0) return; // sent already (it filled up before the turn ended)
    const items = batch.items;
    batch.items = [];
    this.metrics?.enqueueBatchSize.observe(batch.jobs);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError('unavailable', `Redis did not confirm the jobs within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    const done = Promise.race([this.send(items), timeout]).then(
      () => {
        clearTimeout(timer);
        batch.resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        batch.reject(err instanceof AppError ? err : new AppError('unavailable', `Redis refused the jobs: ${(err as Error).message}`));
      },
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  async close(): Promise<void> {
    if (this.current !== null) this.flush(this.current);
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
  }
}

function newBatch<T>(): Batch<T> {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // every request awaits this promise; this no-op keeps a batch whose requests are gone from
  // being reported as an unhandled rejection
  promise.catch(() => {});
  return { items: [], jobs: 0, promise, resolve, reject };
}
