import { inboundJobId, queueNames, statusJobId } from '@alphadome/tenant-core';
import type { WebhookItem, WebhookLeanItem } from '@alphadome/whatsapp';
import type { IngressJob } from './enqueue.ts';

/**
 * One queue job per webhook item. The job id comes from (tenant, wamid) for a message and
 * (tenant, wamid, status) for a status, so Meta's redeliveries are no-ops in BullMQ.
 * Job data holds what the worker needs, never a secret; the message (or status) object is the
 * one Meta sent (parseWebhookLean), referenced, not copied: BullMQ serialises it once.
 */
export function jobForItem(item: WebhookItem | WebhookLeanItem, tenantId: string, receivedAt: number): IngressJob {
  if (item.kind === 'message') {
    return {
      queue: queueNames.inbound,
      name: 'message',
      jobId: inboundJobId(tenantId, item.wamid),
      data: {
        tenantId,
        phoneNumberId: item.phoneNumberId,
        wamid: item.wamid,
        from: item.from,
        ...(item.contactName !== undefined ? { contactName: item.contactName } : {}),
        fromBusiness: item.fromBusiness,
        message: item.message as Record<string, unknown>,
        receivedAt,
      },
    };
  }
  return {
    queue: queueNames.status,
    name: 'status',
    jobId: statusJobId(tenantId, item.wamid, item.status),
    data: {
      tenantId,
      phoneNumberId: item.phoneNumberId,
      wamid: item.wamid,
      status: item.status,
      recipientId: item.recipientId,
      statusObj: item.statusObj as Record<string, unknown>,
      receivedAt,
    },
  };
}
