import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Per phone number send limit + Meta's pair limit toward one customer, in one Lua script
 * (atomic across any number of worker processes; time from Redis TIME, so worker clocks do
 * not matter).
 *
 * Per number: at most `limit` sends in any window of `windowMs` (the window already includes
 * the jitter margin). Two pieces:
 *  - a reservation pointer (GCRA "theoretical arrival time"): a send that cannot go now is
 *    given its own future slot, paced at window/limit, and is delayed exactly until then —
 *    a backlog of 5,000 is scheduled once, instead of 5,000 jobs polling for each token;
 *  - a guard: a sliding log of the sends of the last window. A send goes only if the log
 *    holds fewer than `limit` — so even jobs that wake late and bunch up never exceed it.
 * Per (number, customer): a token bucket (one token per `pairIntervalMs`, `pairBurst` deep),
 * checked first; a send waiting for the pair limit takes no number slot.
 *
 * Returns {0} to send now, or the ms to wait and the slot reserved (0 = none).
 */
const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local pairInterval = tonumber(ARGV[3])
local pairBurst = tonumber(ARGV[4])
local slot = tonumber(ARGV[5])
local spacing = window / limit

local ptokens = pairBurst
if pairInterval > 0 then
  local p = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
  if p[1] then
    ptokens = math.min(pairBurst, tonumber(p[1]) + (now - tonumber(p[2])) / pairInterval)
  end
  if ptokens < 1 then
    return {math.ceil((1 - ptokens) * pairInterval), slot, 1}
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[2])
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat') or '0')

local go = false
if count < limit then
  if slot > 0 then go = true elseif tat <= now then go = true end
end

if go then
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('ZADD', KEYS[2], now, tostring(now) .. '-' .. tostring(seq))
  redis.call('PEXPIRE', KEYS[2], math.ceil(window * 2))
  if slot == 0 then
    redis.call('HSET', KEYS[1], 'tat', math.max(tat, now) + spacing)
  end
  redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(window * 2, math.max(tat, now) + spacing - now + window)))
  if pairInterval > 0 then
    redis.call('HSET', KEYS[3], 'tokens', ptokens - 1, 'ts', now)
    redis.call('PEXPIRE', KEYS[3], math.ceil(pairInterval * pairBurst + 1000))
  end
  return {0, 0, 0}
end

local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local freeAt = now
if count >= limit and oldest[2] then freeAt = tonumber(oldest[2]) + window + 1 end
if slot > 0 then
  -- holds a slot already (woke late, or the log is full of bunched sends): wait for room only
  return {math.max(1, math.ceil(freeAt - now)), slot, 2}
end
local mine = math.max(tat, freeAt, now)
redis.call('HSET', KEYS[1], 'tat', mine + spacing)
redis.call('PEXPIRE', KEYS[1], math.ceil(mine + spacing - now + window * 2))
return {math.max(1, math.ceil(mine - now)), mine, 3}
`;

export type LimitReason = 'pair' | 'number_full' | 'number_slot';

export interface TakeInput {
  phoneNumberId: string;
  /** the customer (wa_id); null skips the pair limit */
  waId: string | null;
  /** sends per window */
  limit: number;
  windowMs: number;
  pairIntervalMs: number;
  pairBurst: number;
  /** the slot this job reserved on an earlier call (0 = none) */
  slot: number;
}

export type TakeResult = { ok: true } | { ok: false; waitMs: number; slot: number; reason: LimitReason };

const reasons: Record<number, LimitReason> = { 1: 'pair', 2: 'number_full', 3: 'number_slot' };

type WithLimiter = Redis & { alphadomeTake?: (...args: (string | number)[]) => Promise<[number, number, number]> };

export class SendRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    const r = redis as WithLimiter;
    if (!r.alphadomeTake) redis.defineCommand('alphadomeTake', { numberOfKeys: 3, lua: SCRIPT });
  }

  /** Keys share one hash slot (the prefix's tag, else the phone number id) for Redis Cluster. */
  keys(phoneNumberId: string, waId: string | null): [string, string, string] {
    const tag = this.prefix.includes('{') ? phoneNumberId : `{${phoneNumberId}}`;
    const base = `${this.prefix}:rl:${tag}`;
    const pair = waId ? createHash('sha256').update(waId).digest('base64url').slice(0, 16) : 'none';
    return [`${base}:num`, `${base}:log`, `${base}:pair:${pair}`];
  }

  async take(i: TakeInput): Promise<TakeResult> {
    const limit = Math.max(1, Math.floor(i.limit));
    const [k1, k2, k3] = this.keys(i.phoneNumberId, i.waId);
    const pairInterval = i.waId ? Math.max(0, i.pairIntervalMs) : 0;
    const [wait, slot, reason] = await (this.redis as WithLimiter).alphadomeTake!(
      k1,
      k2,
      k3,
      limit,
      i.windowMs,
      pairInterval,
      Math.max(1, i.pairBurst),
      Math.max(0, Math.floor(i.slot)),
    );
    if (wait === 0) return { ok: true };
    return { ok: false, waitMs: wait, slot, reason: reasons[reason] ?? 'number_slot' };
  }
}
