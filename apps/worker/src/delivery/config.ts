import { z } from 'zod';

/**
 * Knobs of the delivery stage (send queue). Per-tenant values come from the tenant's control
 * settings: `send_rate_per_second` (Meta's per-number throughput: 80 by default, 20 for
 * coexistence numbers) and, in `settings` (jsonb), `pair_interval_ms` / `pair_burst`.
 */
export interface DeliveryConfig {
  /** the window Meta's throughput limit is counted in */
  windowMs: number;
  /**
   * Safety margin added to the window: sends are paced at (window + margin) / limit, so a
   * send that reaches Meta up to this much later than its neighbour (network jitter) still
   * never puts limit + 1 sends into one window. 50 ms at 80/s = pace of 76/s.
   */
  windowMarginMs: number;
  /** pair limit toward one customer: one token per interval, up to `pairBurst` at once */
  pairIntervalMs: number;
  pairBurst: number;
  /** rate-limit delays one send may take before it fails visibly */
  maxRateDelays: number;
  /** a send parked because the tenant's credential is invalid looks again after this long */
  parkRecheckMs: number;
  /** retry backoff: base × 2^(attempt-1) with jitter, capped */
  retryCapMs: number;
  /** Meta's pair limit (131056) asks for a pause of seconds, not milliseconds */
  pairRetryMinMs: number;
  /** Meta's customer-service window */
  serviceWindowMs: number;
  /**
   * A send whose earlier attempt never got an answer (worker killed mid-call, timeout) waits
   * this long after that attempt for Meta's status webhook (matched by biz_opaque_callback_data)
   * before it sends again: the send may have been accepted (send.ts).
   */
  attemptWaitMs: number;
}

export const defaultDeliveryConfig: DeliveryConfig = {
  windowMs: 1000,
  windowMarginMs: 50,
  pairIntervalMs: 6000,
  pairBurst: 5,
  maxRateDelays: 200,
  parkRecheckMs: 30_000,
  retryCapMs: 60_000,
  pairRetryMinMs: 6000,
  serviceWindowMs: 24 * 3600 * 1000,
  attemptWaitMs: 30_000,
};

const int = (min: number) => z.coerce.number().int().min(min).optional();
const envSchema = z.object({
  SEND_WINDOW_MARGIN_MS: int(0),
  SEND_PAIR_INTERVAL_MS: int(0),
  SEND_PAIR_BURST: int(1),
  SEND_MAX_RATE_DELAYS: int(1),
  SEND_PARK_RECHECK_MS: int(100),
  SEND_RETRY_CAP_MS: int(1),
  SEND_PAIR_RETRY_MIN_MS: int(0),
  SEND_ATTEMPT_WAIT_MS: int(0),
});

/** DeliveryConfig overrides from the environment (main.ts); throws a readable error on a bad value. */
export function deliveryConfigFromEnv(env: NodeJS.ProcessEnv): Partial<DeliveryConfig> {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const e = parsed.data;
  const out: Partial<DeliveryConfig> = {};
  if (e.SEND_WINDOW_MARGIN_MS !== undefined) out.windowMarginMs = e.SEND_WINDOW_MARGIN_MS;
  if (e.SEND_PAIR_INTERVAL_MS !== undefined) out.pairIntervalMs = e.SEND_PAIR_INTERVAL_MS;
  if (e.SEND_PAIR_BURST !== undefined) out.pairBurst = e.SEND_PAIR_BURST;
  if (e.SEND_MAX_RATE_DELAYS !== undefined) out.maxRateDelays = e.SEND_MAX_RATE_DELAYS;
  if (e.SEND_PARK_RECHECK_MS !== undefined) out.parkRecheckMs = e.SEND_PARK_RECHECK_MS;
  if (e.SEND_RETRY_CAP_MS !== undefined) out.retryCapMs = e.SEND_RETRY_CAP_MS;
  if (e.SEND_PAIR_RETRY_MIN_MS !== undefined) out.pairRetryMinMs = e.SEND_PAIR_RETRY_MIN_MS;
  if (e.SEND_ATTEMPT_WAIT_MS !== undefined) out.attemptWaitMs = e.SEND_ATTEMPT_WAIT_MS;
  return out;
}
