import { DelayedError, type Job } from 'bullmq';
import { applyMessageStatus, withTenant, type StatusJob } from '@alphadome/tenant-core';
import type { ProcessorDeps } from '../deps.ts';

export type StatusOutcome = 'applied' | 'ignored' | 'unknown' | 'waiting';

/** How often and how long a status for a wamid we have not recorded yet is retried. */
export const statusWaitDelaysMs = [500, 1000, 2000, 5000, 10_000, 30_000];

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * Apply a delivery status to our outbound message (never backwards, see message_status_rank).
 * A status can overtake our own record of the send (Meta answers the send, then the webhook
 * races our database write): then the job waits and tries again a few times (delayed, not
 * failed, so it works whatever attempts ingress gave it), and gives up quietly after that.
 */
export function statusProcessor(deps: ProcessorDeps) {
  return async (job: Job<StatusJob & { notFoundTries?: number }>, token?: string): Promise<StatusOutcome> => {
    const d = job.data;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: d.wamid, jobId: job.id, queue: 'status' });
    const errors = Array.isArray(d.statusObj['errors']) ? (d.statusObj['errors'] as unknown[]) : [];
    const first = obj(errors[0]);
    const ts = Number(d.statusObj['timestamp']);
    const at = Number.isFinite(ts) && ts > 0 ? new Date(ts * 1000) : new Date(d.receivedAt || Date.now());
    const result = await withTenant(deps.sql, d.tenantId, (tx) =>
      applyMessageStatus(tx, {
        wamid: d.wamid,
        status: d.status,
        at,
        errorCode: typeof first['code'] === 'number' ? first['code'] : null,
        errorTitle: typeof first['title'] === 'string' ? first['title'] : typeof first['message'] === 'string' ? first['message'] : null,
      }),
    );
    if (result === 'unknown') {
      const tries = d.notFoundTries ?? 0;
      const delay = statusWaitDelaysMs[tries];
      if (delay !== undefined && token) {
        await job.updateData({ ...d, notFoundTries: tries + 1 });
        await job.moveToDelayed(Date.now() + delay, token);
        log.debug({ status: d.status, tries: tries + 1 }, 'status for an unknown wamid; waiting');
        throw new DelayedError();
      }
      log.info({ status: d.status }, 'status for a wamid we never sent (or no longer keep); ignored');
      return 'unknown';
    }
    log.debug({ status: d.status, result }, 'status');
    return result;
  };
}
