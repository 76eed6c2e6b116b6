import { DelayedError, type Job } from 'bullmq';
import { applyMessageStatus, recordOutboundAccepted, withinDeadline, withTenantOneTrip, type StatusJob } from '@alphadome/tenant-core';
import type { ProcessorDeps } from '../deps.ts';
import { parseSendCallbackData } from './send.ts';

export type StatusOutcome = 'applied' | 'ignored' | 'unknown' | 'waiting';

/** How often and how long a status for a wamid we have not recorded yet is retried. */
export const statusWaitDelaysMs = [500, 1000, 2000, 5000, 10_000, 30_000];

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * Apply a delivery status to our outbound message (never backwards, see message_status_rank).
 * A status can overtake our own record of the send (Meta answers the send, then the webhook
 * races our database write), or be the only news of a send whose answer we never read (the
 * worker died mid-call, the call timed out): when the status carries our callback data
 * (biz_opaque_callback_data = the outbound row, see send.ts), the wamid is recorded on that row
 * here, and a retry of the send finds it sent instead of sending it again. Without callback data
 * the job waits and tries again a few times (delayed, not failed, so it works whatever attempts
 * ingress gave it), and gives up quietly after that.
 */
export function statusProcessor(deps: ProcessorDeps) {
  return async (job: Job<StatusJob & { notFoundTries?: number }>, token?: string): Promise<StatusOutcome> => {
    const d = job.data;
    const log = deps.logger.child({ tenantId: d.tenantId, wamid: d.wamid, jobId: job.id, queue: 'status' });
    const errors = Array.isArray(d.statusObj['errors']) ? (d.statusObj['errors'] as unknown[]) : [];
    const first = obj(errors[0]);
    const ts = Number(d.statusObj['timestamp']);
    const at = Number.isFinite(ts) && ts > 0 ? new Date(ts * 1000) : new Date(d.receivedAt || Date.now());
    const input = {
      wamid: d.wamid,
      status: d.status,
      at,
      errorCode: typeof first['code'] === 'number' ? first['code'] : null,
      errorTitle: typeof first['title'] === 'string' ? first['title'] : typeof first['message'] === 'string' ? first['message'] : null,
    };
    // BEGIN, the tenant, the one statement and COMMIT: one round trip
    let result = await withinDeadline(
      withTenantOneTrip(deps.sql, d.tenantId, (tx) => applyMessageStatus(tx, input)),
      20_000,
      'applying a status',
    );
    const messageId = result === 'unknown' ? parseSendCallbackData(d.statusObj['biz_opaque_callback_data']) : null;
    if (messageId) {
      // RLS keeps this to the status's own tenant: another tenant's row id finds nothing ('missing')
      // record, then apply the status, in one transaction and one round trip: the apply (by wamid)
      // sees the wamid the record statement just wrote, or the one another recorder committed
      // ('same'); after 'other' or 'missing' no row has this wamid and it is 'unknown'
      const [recorded, applied] = await withinDeadline(
        withTenantOneTrip(deps.sql, d.tenantId, (tx) => Promise.all([recordOutboundAccepted(tx, d.tenantId, messageId, d.wamid), applyMessageStatus(tx, input)])),
        20_000,
        'recording a sent message from its status',
      );
      result = recorded === 'recorded' || recorded === 'same' ? applied : 'unknown';
      if (recorded === 'recorded') log.info({ status: d.status, messageId }, 'status webhook recorded the wamid of a send whose answer we had not recorded');
      if (recorded === 'other') {
        log.warn({ status: d.status, messageId }, 'status of a second copy of one message (Meta accepted it twice)');
        return 'unknown';
      }
    }
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
