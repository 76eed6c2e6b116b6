/**
 * Entry of the forwarder process (started and supervised by ForwarderProcess in ingress). It
 * owns its Redis connections and BullMQ queues and runs at a lower CPU priority: BullMQ's
 * per-job cost (~30 µs of JavaScript and ~26 µs of Redis Lua per job) is paid beside the
 * webhook path, from spare CPU, while the webhook path only verifies, routes and appends to
 * the hand-off stream. Under a burst the stream absorbs the difference and drains after.
 */
import { createLogger } from '@alphadome/tenant-core';
import type { IngressJob } from './enqueue.ts';
import { createIngressQueues } from './queues.ts';
import { HandoffForwarder, type ForwarderStats } from './forwarder.ts';
import { FORWARDER_ENV, type ForwarderChildConfig, type FromForwarder, type ToForwarder } from './forwarder-supervisor.ts';
import { createProducerRedis } from './redis.ts';

const config = JSON.parse(process.env[FORWARDER_ENV] ?? 'null') as ForwarderChildConfig | null;
const redisUrl = process.env.REDIS_URL;
if (config === null || redisUrl === undefined || process.send === undefined) {
  process.stderr.write('forwarder-process: started without its configuration; it is run by ingress, not by hand\n');
  process.exit(2);
}
const send = (msg: FromForwarder): void => {
  if (process.connected) process.send!(msg);
};

const logger = createLogger('ingress-forwarder', config.logLevel);
const producer = createProducerRedis(redisUrl);
const queues = createIngressQueues(producer, config.prefix, config.pace);

/** Counts since the last report; sent to ingress (for its /metrics) four times a second. */
const fresh = (): Extract<FromForwarder, { type: 'stats' }> => ({ type: 'stats', messages: 0, statuses: 0, lags: [], errors: 0, dead: 0 });
let pending = fresh();
const MAX_LAG_SAMPLES = 2_000;
const stats: ForwarderStats = {
  forwarded(jobs: readonly IngressJob[], now: number) {
    for (const job of jobs) {
      if (job.name === 'message') pending.messages++;
      else pending.statuses++;
      if (pending.lags.length < MAX_LAG_SAMPLES) pending.lags.push((now - job.data.receivedAt) / 1000);
    }
  },
  error: () => void pending.errors++,
  dead: (count) => void (pending.dead += count),
};
function report(): void {
  if (pending.messages + pending.statuses + pending.errors + pending.dead === 0) return;
  send(pending);
  pending = fresh();
}
const reporter = setInterval(report, 250);

const forwarder = new HandoffForwarder({ redisUrl, producer, queues, key: config.key, consumer: config.consumer, logger, stats });
forwarder.start();
send({ type: 'started' });

let stopping: Promise<void> | null = null;
function stop(drainMs: number): Promise<void> {
  stopping ??= (async () => {
    try {
      await forwarder.stop({ drainMs });
      await Promise.allSettled([queues.inbound.close(), queues.status.close()]);
      await producer.quit().catch(() => producer.disconnect());
    } finally {
      clearInterval(reporter);
      report();
      send({ type: 'stopped' });
      // ingress may be gone already (killed): disconnecting a closed channel throws
      if (process.connected) process.disconnect();
      process.exit(0);
    }
  })();
  return stopping;
}

process.on('message', (msg: ToForwarder) => {
  if (msg.type === 'stop') void stop(msg.drainMs);
});
// ingress went away without saying goodbye: finish what is in hand, leave the rest in the stream
process.on('disconnect', () => void stop(2_000));
process.on('SIGTERM', () => void stop(2_000));
process.on('SIGINT', () => {}); // a Ctrl-C reaches the whole process group: ingress stops us in order
