/**
 * Meta-like webhook bodies for tests, the demo and benchmarks. Each builder returns the raw
 * string exactly as Meta would POST it (see toMetaJson), ready to be signed with signBody().
 */
import { toMetaJson } from './meta-json.ts';
import { isBusinessScopedUserId } from './parse-webhook.ts';

export interface WebhookValueInput {
  phoneNumberId: string;
  displayPhoneNumber: string;
  /** WhatsApp Business Account id; defaults to a stable fake. */
  wabaId?: string;
  contacts?: unknown[];
  messages?: unknown[];
  statuses?: unknown[];
}

const DEFAULT_WABA_ID = '102290129340398';

function nowSeconds(): string {
  return String(Math.floor(Date.now() / 1000));
}

/** One entry, one `messages` change. */
export function buildWebhookObject(input: WebhookValueInput): Record<string, unknown> {
  const value: Record<string, unknown> = {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: input.displayPhoneNumber, phone_number_id: input.phoneNumberId },
  };
  if (input.contacts) value['contacts'] = input.contacts;
  if (input.messages) value['messages'] = input.messages;
  if (input.statuses) value['statuses'] = input.statuses;
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: input.wabaId ?? DEFAULT_WABA_ID, changes: [{ value, field: 'messages' }] }],
  };
}

export interface TextWebhookInput {
  phoneNumberId: string;
  displayPhoneNumber: string;
  /** Phone number, or a business-scoped user id (`US.…`, sent as `from_user_id` like Meta). */
  from: string;
  wamid: string;
  text: string;
  /** Profile name; defaults to none. */
  name?: string;
  wabaId?: string;
  /** Unix seconds; defaults to now. */
  timestamp?: number | string;
  /** wamid this message replies to (`context`). */
  replyToWamid?: string;
}

/** A user's text message as Meta delivers it. */
export function buildTextWebhook(input: TextWebhookInput): string {
  const bsuid = isBusinessScopedUserId(input.from);
  const contact: Record<string, unknown> = {
    profile: input.name !== undefined ? { name: input.name } : {},
  };
  if (bsuid) contact['user_id'] = input.from;
  else contact['wa_id'] = input.from;
  const message: Record<string, unknown> = bsuid ? { from_user_id: input.from } : { from: input.from };
  if (input.replyToWamid !== undefined) {
    message['context'] = { from: input.displayPhoneNumber, id: input.replyToWamid };
  }
  Object.assign(message, {
    id: input.wamid,
    timestamp: String(input.timestamp ?? nowSeconds()),
    text: { body: input.text },
    type: 'text',
  });
  const obj = buildWebhookObject({
    phoneNumberId: input.phoneNumberId,
    displayPhoneNumber: input.displayPhoneNumber,
    contacts: [contact],
    messages: [message],
    ...(input.wabaId !== undefined ? { wabaId: input.wabaId } : {}),
  });
  return toMetaJson(obj);
}

export interface StatusWebhookInput {
  phoneNumberId: string;
  displayPhoneNumber: string;
  /** wamid of the outbound message. */
  wamid: string;
  status: 'sent' | 'delivered' | 'read' | 'failed' | (string & {});
  /** Phone number or business-scoped user id of the recipient. */
  recipientId: string;
  wabaId?: string;
  timestamp?: number | string;
  /** For `failed`: defaults to a 131026 (undeliverable) error. */
  errors?: { code: number; title: string; message?: string; details?: string }[];
  /** Adds Meta's per-message pricing block (default for sent/delivered/read). */
  pricing?: boolean;
  /** The send's `biz_opaque_callback_data`, echoed back as Meta does. */
  callbackData?: string;
}

/** A status update for one of our outbound messages as Meta delivers it. */
export function buildStatusWebhook(input: StatusWebhookInput): string {
  const status: Record<string, unknown> = {
    id: input.wamid,
    status: input.status,
    timestamp: String(input.timestamp ?? nowSeconds()),
  };
  if (isBusinessScopedUserId(input.recipientId)) status['recipient_user_id'] = input.recipientId;
  else status['recipient_id'] = input.recipientId;
  if (input.callbackData !== undefined) status['biz_opaque_callback_data'] = input.callbackData;

  if (input.status === 'failed') {
    const errors = input.errors ?? [
      {
        code: 131026,
        title: 'Message undeliverable',
        message: 'Message undeliverable',
        details: 'Message Undeliverable.',
      },
    ];
    status['errors'] = errors.map((e) => ({
      code: e.code,
      title: e.title,
      message: e.message ?? e.title,
      error_data: { details: e.details ?? e.title },
      href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
    }));
  } else if (input.pricing ?? true) {
    status['pricing'] = { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' };
  }

  const obj = buildWebhookObject({
    phoneNumberId: input.phoneNumberId,
    displayPhoneNumber: input.displayPhoneNumber,
    statuses: [status],
    ...(input.wabaId !== undefined ? { wabaId: input.wabaId } : {}),
  });
  return toMetaJson(obj);
}
