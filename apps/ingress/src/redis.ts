import { Redis } from 'ioredis';
import { redisOptionsFromUrl } from '@alphadome/tenant-core';

/**
 * The producer connection. `enableOfflineQueue: false`: while Redis is unreachable a command
 * fails at once instead of waiting in memory, so a webhook answers 503 quickly and Meta
 * retries; `connectTimeout` bounds the wait for a half-open network.
 */
export function createProducerRedis(url: string): Redis {
  const redis = new Redis({
    ...redisOptionsFromUrl(url),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    connectionName: 'alphadome-ingress',
    // reconnect quickly after an outage: Meta's retries come back soon
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  redis.on('error', () => {}); // reconnects by itself; readiness and requests report the outage
  return redis;
}
