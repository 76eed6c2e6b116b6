import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';

/**
 * The queue contract between ingress and worker: names, job payloads and job ids.
 * The queue is the only coupling between the two apps. Job data never holds secrets.
 */
export const queueNames = {
  inbound: 'inbound',
  reply: 'reply',
  send: 'send',
  status: 'status',
  maintenance: 'maintenance',
} as const;
export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** A customer's (or the business's own) message as received; `message` is Meta's object. */
export interface InboundMessageJob {
  tenantId: string;
  phoneNumberId: string;
  wamid: string;
  from: string;
  contactName?: string;
  fromBusiness: boolean;
  /** Meta's message object, as parsed (unknown fields kept) */
  message: Record<string, unknown>;
  /** ms since epoch when ingress received the POST */
  receivedAt: number;
}

/** A delivery status for one of our outbound messages. */
export interface StatusJob {
  tenantId: string;
  phoneNumberId: string;
  wamid: string;
  status: string;
  recipientId: string;
  /** Meta's status object (timestamp, errors, pricing…) */
  statusObj: Record<string, unknown>;
  receivedAt: number;
}

/**
 * Job ids: BullMQ refuses ':' in custom ids and they end up in Redis keys, so derive a
 * fixed-length id from (tenant, wamid[, status]). The same webhook delivered again maps to
 * the same id, and BullMQ ignores the duplicate add.
 */
export function inboundJobId(tenantId: string, wamid: string): string {
  return `in-${digest(`${tenantId}\n${wamid}`)}`;
}

export function statusJobId(tenantId: string, wamid: string, status: string): string {
  return `st-${digest(`${tenantId}\n${wamid}\n${status}`)}`;
}

/**
 * Jobs the worker adds for itself (reply, send) — here too because the dashboard adds send
 * jobs (a person's reply) and apps do not import each other. Never secrets.
 */
export interface ReplyJob {
  tenantId: string;
  phoneNumberId: string;
  /** the customer's message this reply answers */
  inboundWamid: string;
  from: string;
}

export interface SendJob {
  tenantId: string;
  /** bot_message_logs.idempotency_key of the outbound row to send */
  idempotencyKey: string;
}

/** A reply job per inbound wamid: Meta's duplicates and re-run inbound jobs add nothing twice. */
export function replyJobId(tenantId: string, inboundWamid: string): string {
  return `rp-${digest(`${tenantId}\n${inboundWamid}`)}`;
}

/** A send job per stored outbound row: a re-run reply (or a double-submitted form) sends once. */
export function sendJobId(tenantId: string, idempotencyKey: string): string {
  return `sd-${digest(`${tenantId}\n${idempotencyKey}`)}`;
}

/** The one-shot `crypto.hash` (Node ≥ 20.12): no Hash object per id, on the ingress's hot path. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

function digest(s: string): string {
  return (oneShot ? oneShot('sha256', s, 'base64url') : createHash('sha256').update(s).digest('base64url')).slice(0, 32);
}

/** Redis connection options from a redis:// URL, for BullMQ (which needs maxRetriesPerRequest null in workers). */
export function redisOptionsFromUrl(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
} {
  const u = new URL(url);
  const opts: ReturnType<typeof redisOptionsFromUrl> = { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
  if (u.username) opts.username = decodeURIComponent(u.username);
  if (u.password) opts.password = decodeURIComponent(u.password);
  const db = u.pathname.replace('/', '');
  if (db) opts.db = Number(db);
  if (u.protocol === 'rediss:') opts.tls = {};
  return opts;
}

/** Channel on which a tenant's context changes are announced (dashboard, CLI → workers). */
export const tenantChangedChannel = (prefix: string): string => `${prefix}:tenant-changed`;
