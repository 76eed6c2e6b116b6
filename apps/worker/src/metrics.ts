import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one worker (own registry, so several workers can live in one test process). */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly jobsProcessed = new Counter({
    name: 'alphadome_worker_jobs_processed_total',
    help: 'Jobs completed, by queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly jobsFailed = new Counter({
    name: 'alphadome_worker_jobs_failed_total',
    help: 'Job attempts that failed, by queue (retried or final)',
    labelNames: ['queue', 'final'] as const,
    registers: [this.registry],
  });
  readonly replyPaths = new Counter({
    name: 'alphadome_worker_reply_path_total',
    help: 'Replies chosen, by answer path',
    labelNames: ['path'] as const,
    registers: [this.registry],
  });
  readonly graphErrors = new Counter({
    name: 'alphadome_worker_graph_send_errors_total',
    help: 'Graph API send errors, by Meta error code and policy',
    labelNames: ['code', 'policy'] as const,
    registers: [this.registry],
  });
  readonly llmDuration = new Histogram({
    name: 'alphadome_worker_llm_seconds',
    help: 'LLM request duration',
    labelNames: ['outcome'] as const,
    buckets: [0.25, 0.5, 1, 2, 4, 8, 16, 32],
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'alphadome_worker_job_seconds',
    help: 'Job processing time, by queue',
    labelNames: ['queue'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  // delivery (issue 5): tenant id labels are bounded by the number of tenants
  readonly sendFailures = new Counter({
    name: 'alphadome_send_failures_total',
    help: 'Sends that failed for good, by tenant and Meta error code',
    labelNames: ['tenant', 'code'] as const,
    registers: [this.registry],
  });
  readonly sendDelays = new Counter({
    name: 'alphadome_send_delays_total',
    help: 'Sends moved to delayed, by reason (number rate, pair limit, credentials parked)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly tenantParked = new Counter({
    name: 'alphadome_worker_tenant_parked_total',
    help: 'Jobs parked because their tenant had its in-flight cap of that queue running, by queue',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
  readonly alertsSent = new Counter({
    name: 'alphadome_alerts_total',
    help: 'Alerts sent, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
