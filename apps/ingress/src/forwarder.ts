import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisOptionsFromUrl, type Logger } from '@alphadome/tenant-core';
import type { IngressJob } from './enqueue.ts';
import { addJobs, type IngressQueues } from './queues.ts';
import { decodeJobs, HANDOFF_VERSION } from './handoff.ts';
import type { IngressMetrics } from './metrics.ts';

/** What the forwarder reports (into the metrics, directly or across a thread boundary). */
export interface ForwarderStats {
  forwarded(jobs: readonly IngressJob[], now: number): void;
  error(): void;
  dead(count: number): void;
}

/** Stats straight into this thread's metrics. */
export function metricsStats(metrics: IngressMetrics): ForwarderStats {
  return {
    forwarded(jobs, now) {
      let messages = 0;
      for (const job of jobs) {
        if (job.name === 'message') messages++;
        metrics.handoffLag.observe((now - job.data.receivedAt) / 1000);
      }
      if (messages > 0) metrics.forwarded.message.inc(messages);
      if (jobs.length > messages) metrics.forwarded.status.inc(jobs.length - messages);
    },
    error: () => metrics.handoffErrors.inc(),
    dead: (count) => metrics.handoffDead.inc(count),
  };
}

export interface ForwarderOptions {
  /** for the forwarder's own blocking connection */
  redisUrl: string;
  /** the producer connection (fails fast while Redis is down): acks, claims and the queue adds */
  producer: Redis;
  queues: IngressQueues;
  /** the hand-off stream (handoffStreamKey) */
  key: string;
  logger: Logger;
  stats?: ForwarderStats;
  group?: string;
  /** unique per process: entries read but not acked stay attributed to it */
  consumer?: string;
  /** stream entries per read (each holds one batch of jobs) */
  readCount?: number;
  /** jobs per addBulk */
  maxJobsPerAdd?: number;
  /** an entry pending this long with another consumer is taken over (that process died) */
  claimIdleMs?: number;
  claimEveryMs?: number;
  blockMs?: number;
}

type StreamEntry = [id: string, fields: string[] | null];

/**
 * Moves the hand-off stream into the BullMQ queues, at least once, in order per consumer.
 *
 * A consumer group gives every entry to one forwarder at a time; the entry is acknowledged
 * and deleted (one MULTI) only after its jobs are in their queues. If the process dies in
 * between, the entry stays pending: another forwarder (or this one after a Redis error) takes
 * it over after `claimIdleMs` and forwards it again; the job ids make that a no-op for jobs
 * already added. An entry this version cannot read is moved to `<key>:dead` (never silently
 * dropped) and counted.
 */
export class HandoffForwarder {
  private readonly opts: Required<Omit<ForwarderOptions, 'stats'>> & { stats: ForwarderStats | undefined };
  private readonly blocking: Redis;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private drainUntil = 0;
  private groupReady = false;
  private claimCursor = '0-0';
  private lastClaim = 0;
  private lastConsumerSweep = 0;

  constructor(opts: ForwarderOptions) {
    this.opts = {
      group: 'forwarder',
      consumer: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
      readCount: 10,
      maxJobsPerAdd: 250,
      claimIdleMs: 30_000,
      claimEveryMs: 5_000,
      blockMs: 1_000,
      ...opts,
      stats: opts.stats,
    };
    // Blocking reads need a connection of their own; it waits through Redis outages.
    this.blocking = new Redis({
      ...redisOptionsFromUrl(opts.redisUrl),
      maxRetriesPerRequest: null,
      connectionName: 'alphadome-ingress-forwarder',
      retryStrategy: (times) => Math.min(times * 100, 1_000),
    });
    this.blocking.on('error', () => {});
  }

  get consumer(): string {
    return this.opts.consumer;
  }

  start(): void {
    if (this.loop === null) this.loop = this.run();
  }

  /**
   * Stops reading. With `drainMs`, first forwards whatever is in the stream (this process's
   * last webhooks included) for up to that long; what is left stays in the stream for the
   * next forwarder.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    this.drainUntil = Date.now() + (opts.drainMs ?? 0);
    this.stopping = true;
    // Cut the blocking read now (it could wait on a dead Redis forever). If it had just taken
    // entries, they are in this consumer's pending list, which the drain reads first.
    this.blocking.disconnect();
    await (this.loop ?? Promise.resolve());
  }

  /** Entries waiting in the stream (not yet forwarded or in flight). */
  async backlog(): Promise<number> {
    return this.opts.producer.xlen(this.opts.key);
  }

  private get draining(): boolean {
    return this.stopping && Date.now() < this.drainUntil;
  }

  private async run(): Promise<void> {
    const { logger } = this.opts;
    // entries this consumer read but did not acknowledge (after a Redis error) come first
    let own = true;
    let failures = 0;
    while (!this.stopping || this.draining) {
      try {
        if (!this.groupReady) await this.ensureGroup();
        let entries: StreamEntry[];
        if (own) {
          entries = await this.read('0', false);
          if (entries.length === 0) own = false;
        } else if (!this.stopping && Date.now() - this.lastClaim >= this.opts.claimEveryMs) {
          entries = await this.claim();
        } else {
          entries = await this.read('>', !this.stopping);
          if (entries.length === 0 && this.stopping) break; // drained
        }
        if (entries.length > 0) await this.forward(entries);
        if (failures > 0) logger.info({ after: failures }, 'hand-off forwarder recovered');
        failures = 0;
      } catch (err) {
        if (this.stopping && !this.draining) break;
        failures++;
        own = true;
        const message = (err as Error).message;
        if (/NOGROUP/.test(message)) this.groupReady = false; // stream gone (Redis restarted empty)
        this.opts.stats?.error();
        if (failures === 1 || failures % 50 === 0) {
          logger.warn({ err: { message }, failures }, 'hand-off forwarder: Redis error; entries stay in the stream and are retried');
        }
        await sleep(Math.min(50 * 2 ** Math.min(failures, 6), 2_000));
      }
    }
  }

  private async ensureGroup(): Promise<void> {
    try {
      // from the start of the stream: entries written before any forwarder existed are forwarded too
      await this.opts.producer.xgroup('CREATE', this.opts.key, this.opts.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    this.groupReady = true;
  }

  private async read(from: '0' | '>', block: boolean): Promise<StreamEntry[]> {
    const { key, group, consumer, readCount, blockMs } = this.opts;
    const res = block
      ? await this.blocking.xreadgroup('GROUP', group, consumer, 'COUNT', readCount, 'BLOCK', blockMs, 'STREAMS', key, from)
      : await this.opts.producer.xreadgroup('GROUP', group, consumer, 'COUNT', readCount, 'STREAMS', key, from);
    const stream = (res as [string, StreamEntry[]][] | null)?.[0];
    return stream?.[1] ?? [];
  }

  /** Takes over entries another consumer has held for too long (it died), a page at a time. */
  private async claim(): Promise<StreamEntry[]> {
    const { producer, key, group, consumer, claimIdleMs, readCount } = this.opts;
    const [next, entries] = (await producer.xautoclaim(key, group, consumer, claimIdleMs, this.claimCursor, 'COUNT', readCount)) as [
      string,
      StreamEntry[],
      ...unknown[],
    ];
    this.claimCursor = next;
    if (next === '0-0') this.lastClaim = Date.now(); // a full pass done; next one in claimEveryMs
    if (entries.length > 0) {
      this.opts.logger.warn({ entries: entries.length }, 'hand-off forwarder took over entries of a forwarder that stopped');
    }
    if (Date.now() - this.lastConsumerSweep > 10 * 60_000) {
      this.lastConsumerSweep = Date.now();
      await this.sweepConsumers();
    }
    return entries;
  }

  /** Forgets consumers that hold nothing and were idle for an hour (processes long gone). */
  private async sweepConsumers(): Promise<void> {
    const { producer, key, group, consumer } = this.opts;
    const rows = (await producer.xinfo('CONSUMERS', key, group)) as unknown[][];
    for (const row of rows) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < row.length; i += 2) info[String(row[i])] = row[i + 1];
      if (info['name'] !== consumer && Number(info['pending']) === 0 && Number(info['idle']) > 3_600_000) {
        await producer.xgroup('DELCONSUMER', key, group, String(info['name']));
      }
    }
  }

  private async forward(entries: StreamEntry[]): Promise<void> {
    const { producer, key, group, queues, maxJobsPerAdd, stats, logger } = this.opts;
    const ids: string[] = [];
    const jobs: IngressJob[] = [];
    const dead: string[] = [];
    for (const [id, fields] of entries) {
      ids.push(id);
      if (fields === null) continue; // deleted meanwhile: another forwarder finished it
      const f = fieldMap(fields);
      try {
        if (f['v'] !== HANDOFF_VERSION) throw new Error(`unknown hand-off version "${String(f['v'])}"`);
        for (const job of decodeJobs(f['jobs'] ?? '')) jobs.push(job);
      } catch (err) {
        dead.push(JSON.stringify({ id, reason: (err as Error).message, fields }));
        logger.error({ entryId: id, reason: (err as Error).message }, 'hand-off entry cannot be read; moved to the dead-letter list');
      }
    }
    for (let i = 0; i < jobs.length; i += maxJobsPerAdd) {
      await addJobs(queues, jobs.slice(i, i + maxJobsPerAdd));
    }
    const tx = producer.multi();
    if (dead.length > 0) tx.lpush(`${key}:dead`, ...dead);
    tx.xack(key, group, ...ids).xdel(key, ...ids);
    const results = await tx.exec();
    for (const [err] of results ?? []) if (err) throw err;

    if (stats !== undefined) {
      stats.forwarded(jobs, Date.now());
      if (dead.length > 0) stats.dead(dead.length);
    }
    if (logger.isLevelEnabled('debug')) {
      for (const job of jobs) {
        logger.debug({ tenantId: job.data.tenantId, wamid: job.data.wamid, kind: job.name, jobId: job.jobId }, 'forwarded to queue');
      }
    }
  }
}

function fieldMap(fields: string[]): Record<string, string | undefined> {
  const m: Record<string, string | undefined> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i]!] = fields[i + 1];
  return m;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
