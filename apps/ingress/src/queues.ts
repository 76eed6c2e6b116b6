import { createHash } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  clampFairPriority,
  FAIR_BACKLOG_TTL_MS,
  FAIR_MAX_PRIORITY,
  fairBacklogKey,
  fairFloorKey,
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

/**
 * The ordered-backlog bookkeeping of tenant-core's fairBacklogScript (fair-priority.ts), for
 * every tenant of a batch in one script call (one command, one round trip, whatever the number
 * of tenants). Per tenant, exactly what fairBacklogScript does: SADD the job ids, priority =
 * max(backlog after adding, the tenant's floor while its backlog was not empty), clamped to
 * 1..max, remembered as the new floor; both keys get the TTL.
 * KEYS: per tenant its backlog set and floor key. ARGV: ttl ms, max priority, then per tenant
 * the number of its ids followed by the ids. Returns per tenant, in KEYS order, its priority and
 * its backlog size after the add (the pacing's positions).
 */
export const fairBacklogBatchScript = `
local ttl = ARGV[1]
local max = tonumber(ARGV[2])
local out = {}
local a = 3
for t = 1, #KEYS / 2 do
  local set = KEYS[2 * t - 1]
  local floorKey = KEYS[2 * t]
  local n = tonumber(ARGV[a])
  local first = a + 1
  local last = a + n
  a = last + 1
  local before = redis.call('SCARD', set)
  for i = first, last, 1000 do
    redis.call('SADD', set, unpack(ARGV, i, math.min(i + 999, last)))
  end
  local size = redis.call('SCARD', set)
  local floor = 0
  if before > 0 then floor = tonumber(redis.call('GET', floorKey) or '0') or 0 end
  local p = size
  if floor > p then p = floor end
  if p < 1 then p = 1 end
  if p > max then p = max end
  redis.call('SET', floorKey, p, 'PX', ttl)
  redis.call('PEXPIRE', set, ttl)
  out[2 * t - 1] = p
  out[2 * t] = size
end
return out
`;
const fairBacklogBatchSha = createHash('sha1').update(fairBacklogBatchScript).digest('hex');

/**
 * Runs fairBacklogBatchScript as one EVALSHA (the script body is sent only after a NOSCRIPT),
 * straight on the connection: an ioredis pipeline on a connection BullMQ has loaded its ~50
 * scripts into copies every one of them onto each pipeline it makes (measured: the costliest
 * part of a small batch's bookkeeping).
 */
async function fairPriorities(
  redis: Redis,
  queue: Queue,
  tenants: readonly (readonly [string, readonly string[]])[],
): Promise<{ priority: number; backlog: number }[]> {
  const keys: string[] = [];
  const args: (string | number)[] = [FAIR_BACKLOG_TTL_MS, FAIR_MAX_PRIORITY];
  for (const [tenantId, ids] of tenants) {
    keys.push(fairBacklogKey(queue, tenantId), fairFloorKey(queue, tenantId));
    args.push(ids.length);
    for (const id of ids) args.push(id);
  }
  let result: unknown;
  try {
    result = await redis.evalsha(fairBacklogBatchSha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    result = await redis.eval(fairBacklogBatchScript, keys.length, ...keys, ...args);
  }
  if (!Array.isArray(result) || result.length !== tenants.length * 2) throw new Error('fair backlog script returned an unexpected reply');
  return tenants.map((_t, i) => ({ priority: clampFairPriority(Number(result[2 * i])), backlog: Number(result[2 * i + 1]) || 0 }));
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
  if (byTenant.size === 0) {
    if (status.length > 0) await queues.status.addBulk(status);
    return;
  }
  const statusAdded = status.length > 0 ? queues.status.addBulk(status) : undefined;
  // if the backlog call fails, the status add still settles before this rejects (no stray rejection)
  statusAdded?.catch(() => {});
  const inbound = addInbound(queues, byTenant);
  await Promise.all(statusAdded === undefined ? [inbound] : [inbound, statusAdded]);
}

async function addInbound(queues: IngressQueues, byTenant: Map<string, InboundBulkJob[]>): Promise<void> {
  const tenants = [...byTenant.entries()];
  const priorities = await fairPriorities(
    queues.redis,
    queues.inbound,
    tenants.map(([tenantId, list]) => [tenantId, list.map((j) => j.opts.jobId)] as const),
  );
  const pace = queues.pace;
  const bulk: InboundBulkJob[] = tenants.length === 1 ? tenants[0]![1] : [];
  tenants.forEach(([, list], i) => {
    const { priority, backlog } = priorities[i]!;
    // the batch's jobs are the last `list.length` of the backlog (duplicates aside)
    const first = backlog - list.length + 1;
    list.forEach((j, k) => {
      j.opts.priority = priority;
      const delay = paceDelayMs(pace, first + k);
      if (delay > 0) j.opts.delay = delay;
      if (tenants.length > 1) bulk.push(j);
    });
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
