import { Redis } from 'ioredis';
import { tenantChangedChannel } from './queues.ts';

/**
 * Tell every worker (and ingress) that a tenant's configuration changed, so in-process caches
 * drop it at once. Caches also expire on a short TTL, so a missed message only delays the change.
 * Returns false (never throws) when Redis cannot be reached: the change itself is already stored.
 */
export async function announceTenantChanged(
  redis: Redis | string,
  prefix: string,
  tenantId: string,
): Promise<boolean> {
  const client =
    typeof redis === 'string' ? new Redis(redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 }) : redis;
  try {
    if (typeof redis === 'string') await client.connect();
    await client.publish(tenantChangedChannel(prefix), tenantId);
    return true;
  } catch {
    return false;
  } finally {
    if (typeof redis === 'string') client.disconnect();
  }
}

/** Subscribe to tenant changes; returns a function that unsubscribes and closes the connection. */
export async function onTenantChanged(
  redisUrl: string,
  prefix: string,
  handler: (tenantId: string) => void,
): Promise<() => Promise<void>> {
  const sub = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const channel = tenantChangedChannel(prefix);
  sub.on('message', (ch: string, message: string) => {
    if (ch === channel) handler(message);
  });
  sub.on('error', () => {}); // reconnects by itself; caches fall back to their TTL meanwhile
  await sub.subscribe(channel);
  return async () => {
    await sub.unsubscribe(channel).catch(() => {});
    sub.disconnect();
  };
}
