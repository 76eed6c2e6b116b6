import { ConfigError } from '@alphadome/tenant-core';

/**
 * Per-tenant pacing of inbound jobs (fairness, issue 5). A tenant's burst of thousands of
 * webhooks used to become thousands of jobs ready at once: the worker took each, found its
 * tenant over its in-flight cap and parked it, thousands of times within seconds, and every
 * other tenant's message waited behind that churn (measured on the fairness benchmark: the quiet
 * tenant's latency was 3–10× its latency alone while the burst arrived, 1.2–1.5× after). Now a
 * job beyond the first `free` of its tenant's backlog is added delayed, to its place in a
 * schedule of `perSecond` jobs a second: the worker takes them as they fall due. `perSecond`
 * should be at least the tenant's send rate (Meta's 80/s by default): its replies cannot leave
 * faster than that, so pacing its inbound jobs at that rate costs it no throughput.
 */
export interface InboundPace {
  /** jobs a second per tenant once its backlog exceeds `free`; 0 = no pacing */
  perSecond: number;
  /** backlog a tenant may have with no delay */
  free: number;
}

export const defaultInboundPace: InboundPace = { perSecond: 80, free: 32 };

/** INGRESS_TENANT_PACE_PER_S (0 = off) and INGRESS_TENANT_PACE_FREE, defaults above. */
export function inboundPaceFromEnv(env: Record<string, string | undefined>): InboundPace {
  const read = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0 || !Number.isInteger(v)) throw new ConfigError(`invalid environment: ${name}: must be a whole number ≥ 0, got "${raw}"`);
    return v;
  };
  return { perSecond: read('INGRESS_TENANT_PACE_PER_S', defaultInboundPace.perSecond), free: read('INGRESS_TENANT_PACE_FREE', defaultInboundPace.free) };
}

/** The delay of a tenant's job that is `position`-th (1-based) in its backlog. */
export function paceDelayMs(pace: InboundPace, position: number): number {
  if (pace.perSecond <= 0 || position <= pace.free) return 0;
  return Math.round(((position - pace.free) * 1000) / pace.perSecond);
}
