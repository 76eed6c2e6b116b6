import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcomes of webhook requests (POST and the GET handshake), one label value each. */
export const requestOutcomes = [
  'accepted', // 200, every acceptable item is in Redis (possibly none)
  'unauthorized', // 401 missing / malformed / wrong signature
  'bad_request', // 400 not JSON, or not a WhatsApp webhook envelope
  'payload_too_large', // 413
  'not_found', // 404 unknown tenant slug
  'unavailable', // 503 Redis or Postgres unreachable, or tenant secrets not readable
  'error', // 500 anything else
  'handshake_ok',
  'handshake_refused',
] as const;
export type RequestOutcome = (typeof requestOutcomes)[number];

/**
 * One registry per ingress instance (tests build several in one process). Label children are
 * bound once here: the hot path only calls `inc()` / `observe()`.
 */
export function createIngressMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'alphadome_ingress_requests_total',
    help: 'Webhook requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const itemsEnqueued = new Counter({
    name: 'alphadome_ingress_items_enqueued_total',
    help: 'Messages and statuses durably handed over in Redis before the 200 (duplicates included)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const signatureFailures = new Counter({
    name: 'alphadome_ingress_signature_failures_total',
    help: 'POSTs refused for a missing, malformed or wrong X-Hub-Signature-256',
    registers: [registry],
  });
  const unknownPhoneNumber = new Counter({
    name: 'alphadome_ingress_unknown_phone_number_total',
    help: 'Items for a phone number id no tenant has (answered 200, not enqueued)',
    registers: [registry],
  });
  const refusedItems = new Counter({
    name: 'alphadome_ingress_refused_items_total',
    help: "Items on a tenant's own-app route for a phone number of another tenant (not enqueued)",
    registers: [registry],
  });
  const invalidItems = new Counter({
    name: 'alphadome_ingress_invalid_items_total',
    help: 'Messages or statuses in a valid envelope that lack what the platform relies on (not enqueued)',
    registers: [registry],
  });
  const shed = new Counter({
    name: 'alphadome_ingress_shed_total',
    help: 'POSTs answered 503 at once because the webhook bodies being handled exceeded INGRESS_MAX_INFLIGHT_BYTES (Meta retries them)',
    registers: [registry],
  });
  const routingStale = new Counter({
    name: 'alphadome_ingress_routing_stale_total',
    help: 'Lookups (phone number, slug, tenant app secret) answered from an expired cache entry because the database did not answer',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const enqueueSeconds = new Histogram({
    name: 'alphadome_ingress_enqueue_seconds',
    help: "Time from a request's items being ready to their jobs being in Redis",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const enqueueBatchSize = new Histogram({
    name: 'alphadome_ingress_enqueue_batch_jobs',
    help: 'Jobs per Redis round trip (requests of one event-loop turn are gathered)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
    registers: [registry],
  });

  const forwarded = new Counter({
    name: 'alphadome_ingress_handoff_forwarded_total',
    help: 'Jobs moved from the hand-off stream into their BullMQ queue (duplicates included)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const handoffLag = new Histogram({
    name: 'alphadome_ingress_handoff_lag_seconds',
    help: 'From the webhook being received to its job being in its BullMQ queue',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const handoffErrors = new Counter({
    name: 'alphadome_ingress_handoff_errors_total',
    help: 'Failed forwarding attempts (the entries stay in the stream and are retried)',
    registers: [registry],
  });
  const handoffDead = new Counter({
    name: 'alphadome_ingress_handoff_dead_letter_total',
    help: 'Hand-off entries this version cannot read, moved to <prefix>:ingress-handoff:dead',
    registers: [registry],
  });
  let backlogSource: (() => Promise<number>) | null = null;
  new Gauge({
    name: 'alphadome_ingress_handoff_backlog_entries',
    help: 'Entries in the hand-off stream not yet forwarded (each holds one batch of jobs)',
    registers: [registry],
    async collect() {
      if (backlogSource === null) return;
      try {
        this.set(await backlogSource());
      } catch {
        // Redis down: the last value stays; readiness reports the outage
      }
    },
  });

  const outcome = Object.fromEntries(requestOutcomes.map((o) => [o, requests.labels(o)])) as Record<
    RequestOutcome,
    ReturnType<typeof requests.labels>
  >;

  return {
    registry,
    outcome,
    enqueued: { message: itemsEnqueued.labels('message'), status: itemsEnqueued.labels('status') },
    signatureFailures,
    unknownPhoneNumber,
    refusedItems,
    invalidItems,
    routingStale,
    shed,
    enqueueSeconds,
    enqueueBatchSize,
    forwarded: { message: forwarded.labels('message'), status: forwarded.labels('status') },
    handoffLag,
    handoffErrors,
    handoffDead,
    /** where the backlog gauge reads from (the forwarder) */
    setBacklogSource(fn: () => Promise<number>): void {
      backlogSource = fn;
    },
  };
}

export type IngressMetrics = ReturnType<typeof createIngressMetrics>;
