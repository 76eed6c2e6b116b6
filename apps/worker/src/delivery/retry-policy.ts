import type { MinimalJob } from 'bullmq';

/** The backoff type of send jobs; the strategy below is given to the send Worker's settings. */
export const DELIVERY_BACKOFF = 'delivery';

/** A send that Meta (or the network) refused for a while: retried with backoff. */
export class SendRetryError extends Error {
  override readonly name = 'SendRetryError';
  constructor(
    readonly code: number,
    readonly title: string,
  ) {
    super(`Graph API error ${code}: ${title}`);
  }
}

/** Meta's pair limit toward one customer. */
export const PAIR_LIMIT_CODE = 131056;

/**
 * Exponential backoff with "equal jitter" (half fixed, half random): base × 2^(attempt-1),
 * capped; many sends refused together (a 130429 burst) spread out instead of retrying in step.
 * A pair-limit refusal waits at least `pairRetryMinMs` (Meta asks for seconds there).
 */
export function deliveryBackoffStrategy(opts: { capMs: number; pairRetryMinMs: number; random?: () => number }) {
  const random = opts.random ?? Math.random;
  return (attemptsMade: number, _type?: string, err?: Error, job?: MinimalJob): number => {
    const base = Math.max(1, Number((job?.opts.backoff as { delay?: number } | undefined)?.delay ?? 1000));
    const exp = Math.min(opts.capMs, base * 2 ** Math.max(0, attemptsMade - 1));
    let delay = Math.round(exp / 2 + random() * (exp / 2));
    if (err instanceof SendRetryError && err.code === PAIR_LIMIT_CODE) delay = Math.max(delay, opts.pairRetryMinMs);
    return delay;
  };
}
