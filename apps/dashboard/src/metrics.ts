import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Per-app registry (not the global one), so several dashboards in one process do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'alphadome_dashboard_' });
  const requests = new Counter({
    name: 'alphadome_dashboard_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'alphadome_dashboard_http_request_duration_seconds',
    help: 'Server time per request',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const logins = new Counter({
    name: 'alphadome_dashboard_logins_total',
    help: 'Login attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { registry, requests, duration, logins };
}
export type DashboardMetrics = ReturnType<typeof createMetrics>;
