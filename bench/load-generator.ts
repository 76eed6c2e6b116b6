/**
 * Load generator for the ingress benchmark, run as a process of its own so it never shares a
 * core's event loop with the server it measures. Input: one JSON argument; output: one JSON
 * line with autocannon's figures.
 *
 * Every request carries a unique wamid (a fixed-width counter spliced into the body, so the
 * body length stays the same) and its own X-Hub-Signature-256: no request is a duplicate the
 * queue could skip cheaply, and both targets get exactly the same requests.
 */
import { createHmac } from 'node:crypto';
import autocannon from 'autocannon';

export interface LoadSpec {
  url: string;
  /** the body; WAMID_PLACEHOLDER in it is replaced per request */
  template: string;
  placeholder: string;
  secret: string;
  connections: number;
  durationS: number;
  /** fixed overall rate (requests/s); unset = as fast as the server answers */
  overallRate?: number;
  /** distinguishes runs so wamids never repeat across runs */
  runId: string;
}

export interface LoadResult {
  durationS: number;
  total: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const at = spec.template.indexOf(spec.placeholder);
  if (at < 0) throw new Error('placeholder not in template');
  const head = spec.template.slice(0, at);
  const tail = spec.template.slice(at + spec.placeholder.length);
  const width = spec.placeholder.length - spec.runId.length;
  let n = 0;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 10,
    ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const id = spec.runId + String(n++).padStart(width, '0');
          const body = head + id + tail;
          req.body = body;
          req.headers = {
            'content-type': 'application/json',
            'x-hub-signature-256': `sha256=${createHmac('sha256', spec.secret).update(body).digest('hex')}`,
          };
          return req;
        },
      },
    ],
  });
  const out: LoadResult = {
    durationS: result.duration,
    total: result.requests.total,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    rps: result['2xx'] / result.duration,
    p50_ms: result.latency.p50,
    p90_ms: result.latency.p90,
    p99_ms: result.latency.p99,
    max_ms: result.latency.max,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load generator: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
