import type { z } from 'zod';
import {
  envelopeSkeletonSchema,
  messagesValueSkeletonSchema,
  webhookMessageCoreSchema,
  webhookMessageSchema,
  webhookStatusCoreSchema,
  webhookStatusSchema,
  type WebhookContact,
  type WebhookMessage,
  type WebhookStatus,
} from './webhook-schema.ts';

interface WebhookItemBase {
  /** Business phone number id (routes the item to its tenant). */
  phoneNumberId: string;
  displayPhoneNumber: string;
  /** WhatsApp Business Account id (`entry[].id`). */
  wabaId: string;
  wamid: string;
  /** Unix seconds, as Meta reported it. */
  timestamp: number;
}

export interface WebhookMessageItem extends WebhookItemBase {
  kind: 'message';
  /** = wamid. Meta redelivers the same message; queue and database dedupe on this. */
  dedupeKey: string;
  /**
   * Who wrote: the phone number (`from`) when Meta shares it, else the business-scoped user id
   * (`from_user_id`, e.g. `US.13491208655302741918`). Reply to this value.
   */
  from: string;
  /** The sender's business-scoped user id, when Meta sent one (message or contacts). */
  fromUserId?: string;
  /** The sender's WhatsApp profile name, when the contacts array carries it. */
  contactName?: string;
  /** The sender's WhatsApp username, when they have one. */
  username?: string;
  /** The message came from the business's own number (never answer it). */
  fromBusiness: boolean;
  /** The message as parsed; unknown fields and unknown types are kept. */
  message: WebhookMessage;
}

export interface WebhookStatusItem extends WebhookItemBase {
  kind: 'status';
  /** = `${wamid}:${status}`: one job per transition, Meta's duplicates dedupe. */
  dedupeKey: string;
  status: string;
  /** The recipient phone number (`recipient_id`), else their business-scoped user id. */
  recipientId: string;
  recipientUserId?: string;
  statusObj: WebhookStatus;
}

export type WebhookItem = WebhookMessageItem | WebhookStatusItem;

/**
 * An item of parseWebhookLean: the same fields, with the message (or status) object exactly as
 * Meta sent it (JSON-parsed; unknown and malformed optional fields kept as they are).
 */
export type WebhookLeanMessageItem = Omit<WebhookMessageItem, 'message'> & { message: Record<string, unknown> };
export type WebhookLeanStatusItem = Omit<WebhookStatusItem, 'statusObj'> & { statusObj: Record<string, unknown> };
export type WebhookLeanItem = WebhookLeanMessageItem | WebhookLeanStatusItem;

export type ParseWebhookResult<I = WebhookItem> =
  | {
      ok: true;
      items: I[];
      /** Changes of other fields (account_update, message_template_status_update, …). */
      ignoredChanges: number;
      /** Messages, statuses or `messages` changes left out because they lacked what we rely on. */
      invalidItems: number;
      /** Where the invalid ones were (paths and reasons only, never values); at most 10. */
      problems: string[];
    }
  | { ok: false; error: string };

const MAX_PROBLEMS = 10;
const BSUID = /^[A-Z]{2}\.[A-Za-z0-9.]+$/;

/** True for a business-scoped user id such as `US.13491208655302741918` or `US.ENT.1181…`. */
export function isBusinessScopedUserId(id: string): boolean {
  return BSUID.test(id);
}

function digits(s: string): string {
  return s.replace(/\D/g, '');
}

/** Summarise a zod failure without echoing any input value. */
function describeIssue(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix}: invalid`;
  const path = issue.path
    .slice(0, 8)
    .map((p) => (typeof p === 'number' ? String(p) : String(p).slice(0, 40)))
    .join('.');
  const where = path ? `${prefix}.${path}` : prefix;
  return `${where}: ${issue.code}`.slice(0, 200);
}

function findContact(
  contacts: WebhookContact[] | undefined,
  from: string | undefined,
  fromUserId: string | undefined,
): WebhookContact | undefined {
  if (!contacts || contacts.length === 0) return undefined;
  const match = contacts.find(
    (c) => (from !== undefined && c.wa_id === from) || (fromUserId !== undefined && c.user_id === fromUserId),
  );
  // Meta sends one contact for the one sender; with a single entry and no ids to compare, use it.
  if (match) return match;
  return contacts.length === 1 ? contacts[0] : undefined;
}

/**
 * Splits a (JSON-parsed) webhook POST into one item per message and per status, across every
 * entry and change. Never throws. `ok: false` only when the body is not a WhatsApp Business
 * Account webhook envelope at all; a malformed message or status inside a good envelope is
 * counted in `invalidItems` and the rest of the batch still comes through.
 */
export function parseWebhook(json: unknown): ParseWebhookResult {
  try {
    return parseUnsafe(json, false) as ParseWebhookResult;
  } catch {
    // Exotic input (throwing getters, proxies…): still never throw.
    return { ok: false, error: 'unreadable webhook body' };
  }
}

/**
 * parseWebhook for the webhook path (ingress): the same envelope checks, the same items, the
 * same verdicts on malformed messages and statuses (same `invalidItems` and `problems`), but
 * each message and status is validated with its core schema only (id, timestamp, type, sender;
 * id, status, timestamp, recipient) and handed on as the object Meta sent, not as zod's copy.
 * The full schemas accept exactly what the core ones accept (every other field is lenient), so
 * nothing is accepted or refused differently; what differs is that a malformed optional
 * per-type field (say a `location` without numbers) is kept as sent instead of dropped, and a
 * numeric `timestamp` stays a number inside the object. Several times cheaper per item.
 */
export function parseWebhookLean(json: unknown): ParseWebhookResult<WebhookLeanItem> {
  try {
    return parseUnsafe(json, true);
  } catch {
    return { ok: false, error: 'unreadable webhook body' };
  }
}

function parseUnsafe(json: unknown, lean: boolean): ParseWebhookResult<WebhookItem | WebhookLeanItem> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, error: 'webhook body is not a JSON object' };
  }
  const envelope = envelopeSkeletonSchema.safeParse(json);
  if (!envelope.success) {
    return { ok: false, error: `not a WhatsApp webhook envelope (${describeIssue(envelope.error, 'body')})` };
  }

  const items: (WebhookItem | WebhookLeanItem)[] = [];
  const messageSchema = lean ? webhookMessageCoreSchema : webhookMessageSchema;
  const statusSchema = lean ? webhookStatusCoreSchema : webhookStatusSchema;
  const problems: string[] = [];
  let ignoredChanges = 0;
  let invalidItems = 0;
  const problem = (p: string): void => {
    invalidItems++;
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };

  envelope.data.entry.forEach((entry, ei) => {
    const wabaId = entry.id;
    entry.changes.forEach((change, ci) => {
      if (change.field !== 'messages') {
        ignoredChanges++;
        return;
      }
      const at = `entry.${ei}.changes.${ci}.value`;
      const value = messagesValueSkeletonSchema.safeParse(change.value);
      if (!value.success) {
        problem(describeIssue(value.error, at));
        return;
      }
      const { metadata, contacts } = value.data;
      const phoneNumberId = metadata.phone_number_id;
      const displayPhoneNumber = metadata.display_phone_number;
      const businessDigits = digits(displayPhoneNumber);

      value.data.messages?.forEach((raw, mi) => {
        const parsed = messageSchema.safeParse(raw);
        if (!parsed.success) {
          problem(describeIssue(parsed.error, `${at}.messages.${mi}`));
          return;
        }
        const message = parsed.data;
        const contact = findContact(contacts, message.from, message.from_user_id);
        const fromUserId = message.from_user_id ?? contact?.user_id;
        // hasSender() guarantees one of the two.
        const from = (message.from ?? message.from_user_id) as string;
        const item: WebhookMessageItem | WebhookLeanMessageItem = {
          kind: 'message',
          phoneNumberId,
          displayPhoneNumber,
          wabaId,
          dedupeKey: message.id,
          wamid: message.id,
          timestamp: Number(message.timestamp),
          from,
          fromBusiness:
            message.from !== undefined &&
            !isBusinessScopedUserId(message.from) &&
            businessDigits.length > 0 &&
            digits(message.from) === businessDigits,
          // the core schema validated `raw` (an object, or it would have failed): keep it as sent
          message: lean ? (raw as Record<string, unknown>) : (message as WebhookMessage),
        };
        if (fromUserId !== undefined) item.fromUserId = fromUserId;
        const name = contact?.profile?.name;
        if (name !== undefined && name !== '') item.contactName = name;
        const username = contact?.profile?.username;
        if (username !== undefined && username !== '') item.username = username;
        items.push(item);
      });

      value.data.statuses?.forEach((raw, si) => {
        const parsed = statusSchema.safeParse(raw);
        if (!parsed.success) {
          problem(describeIssue(parsed.error, `${at}.statuses.${si}`));
          return;
        }
        const s = parsed.data;
        const item: WebhookStatusItem | WebhookLeanStatusItem = {
          kind: 'status',
          phoneNumberId,
          displayPhoneNumber,
          wabaId,
          dedupeKey: `${s.id}:${s.status}`,
          wamid: s.id,
          timestamp: Number(s.timestamp),
          status: s.status,
          recipientId: (s.recipient_id ?? s.recipient_user_id) as string,
          statusObj: lean ? (raw as Record<string, unknown>) : (s as WebhookStatus),
        };
        if (s.recipient_user_id !== undefined) item.recipientUserId = s.recipient_user_id;
        items.push(item);
      });
    });
  });

  return { ok: true, items, ignoredChanges, invalidItems, problems };
}

/** Number of messages + statuses in a body, without validating them (metrics, batching). */
export function countItems(json: unknown): number {
  try {
    const envelope = envelopeSkeletonSchema.safeParse(json);
    if (!envelope.success) return 0;
    let n = 0;
    for (const entry of envelope.data.entry) {
      for (const change of entry.changes) {
        if (change.field !== 'messages') continue;
        const v = change.value as { messages?: unknown; statuses?: unknown } | null;
        if (v && typeof v === 'object') {
          if (Array.isArray(v.messages)) n += v.messages.length;
          if (Array.isArray(v.statuses)) n += v.statuses.length;
        }
      }
    }
    return n;
  } catch {
    return 0;
  }
}
