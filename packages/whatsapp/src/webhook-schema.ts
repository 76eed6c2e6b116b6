/**
 * Zod schemas for Meta's WhatsApp Cloud API webhook (`object: whatsapp_business_account`).
 *
 * Policy: strict about what the platform relies on (a message's `id`, `timestamp`, `type` and
 * sender; a status's `id`, `status`, `timestamp` and recipient; `metadata.phone_number_id`),
 * permissive about everything else. Every object is loose (unknown fields are kept), unknown
 * message types pass, and a malformed per-type object (say a `location` without numbers) is
 * dropped to `undefined` instead of failing the message, so a new or odd Meta shape is still
 * enqueued and never silently lost.
 */
import { z } from 'zod';

/** Meta sends unix seconds as a string; numbers are accepted and normalised to a string. */
const timestampSchema = z.union([
  z.string().regex(/^\d{1,13}$/),
  z.number().int().nonnegative().max(1e13).transform((n) => String(n)),
]);

const nonEmpty = z.string().min(1).max(1024);

/** `{code, title, message?, error_data?: {details}}` as found in statuses, messages and values. */
export const metaErrorSchema = z.looseObject({
  code: z.number(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional().catch(undefined),
  href: z.string().optional(),
});

/** A per-type object: validated when present, dropped to undefined when malformed. */
function lenient<T extends z.ZodType>(schema: T) {
  return schema.optional().catch(undefined);
}

const mediaSchema = z.looseObject({
  id: z.string().optional(),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  caption: z.string().optional(),
  filename: z.string().optional(),
  url: z.string().optional(),
  voice: z.boolean().optional(),
  animated: z.boolean().optional(),
});

export const webhookContextSchema = z.looseObject({
  from: z.string().optional(),
  id: z.string().optional(),
  forwarded: z.boolean().optional(),
  frequently_forwarded: z.boolean().optional(),
  referred_product: z
    .looseObject({ catalog_id: z.string().optional(), product_retailer_id: z.string().optional() })
    .optional(),
});

export const interactiveReplySchema = z.looseObject({
  type: z.string(),
  button_reply: lenient(z.looseObject({ id: z.string(), title: z.string() })),
  list_reply: lenient(
    z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() }),
  ),
  nfm_reply: lenient(
    z.looseObject({
      name: z.string().optional(),
      body: z.string().optional(),
      response_json: z.string().optional(),
    }),
  ),
});

const messageCoreShape = {
  /** Sender phone number (digits). May be absent for users who adopted a username. */
  from: nonEmpty.optional(),
  /** Business-scoped user id (BSUID), e.g. `US.13491208655302741918`. */
  from_user_id: nonEmpty.optional(),
  /** The wamid. */
  id: nonEmpty,
  timestamp: timestampSchema,
  type: z.string().min(1).max(64),
};

function hasSender(m: { from?: string | undefined; from_user_id?: string | undefined }): boolean {
  return m.from !== undefined || m.from_user_id !== undefined;
}
const senderIssue = { message: 'message needs from or from_user_id', path: ['from'] };

/**
 * Just what the platform relies on; used to tell "malformed" from "unusual". It accepts exactly
 * the messages webhookMessageSchema accepts (every other field there is lenient).
 */
export const webhookMessageCoreSchema = z.looseObject(messageCoreShape).refine(hasSender, senderIssue);

export const webhookMessageSchema = z
  .looseObject({
    ...messageCoreShape,
    context: lenient(webhookContextSchema),
    text: lenient(z.looseObject({ body: z.string() })),
    image: lenient(mediaSchema),
    audio: lenient(mediaSchema),
    video: lenient(mediaSchema),
    document: lenient(mediaSchema),
    sticker: lenient(mediaSchema),
    location: lenient(
      z.looseObject({
        latitude: z.number(),
        longitude: z.number(),
        name: z.string().optional(),
        address: z.string().optional(),
        url: z.string().optional(),
      }),
    ),
    contacts: lenient(z.array(z.looseObject({}))),
    interactive: lenient(interactiveReplySchema),
    button: lenient(z.looseObject({ payload: z.string().optional(), text: z.string() })),
    /** `emoji` is absent when the user removed their reaction. */
    reaction: lenient(z.looseObject({ message_id: z.string(), emoji: z.string().optional() })),
    order: lenient(
      z.looseObject({
        catalog_id: z.string().optional(),
        text: z.string().optional(),
        product_items: z
          .array(
            z.looseObject({
              product_retailer_id: z.string(),
              quantity: z.union([z.number(), z.string()]).optional(),
              item_price: z.union([z.number(), z.string()]).optional(),
              currency: z.string().optional(),
            }),
          )
          .optional(),
      }),
    ),
    system: lenient(
      z.looseObject({
        body: z.string().optional(),
        type: z.string().optional(),
        wa_id: z.string().optional(),
        new_wa_id: z.string().optional(),
        user_id: z.string().optional(),
        customer: z.string().optional(),
      }),
    ),
    referral: lenient(z.looseObject({})),
    unsupported: lenient(z.looseObject({ type: z.string().optional() })),
    errors: lenient(z.array(metaErrorSchema)),
  })
  .refine(hasSender, senderIssue);

const statusCoreShape = {
  /** The wamid of *our* outbound message. */
  id: nonEmpty,
  /** sent | delivered | read | failed | deleted | played | … (kept open). */
  status: z.string().min(1).max(64),
  timestamp: timestampSchema,
  recipient_id: nonEmpty.optional(),
  recipient_user_id: nonEmpty.optional(),
  // not lenient in webhookStatusSchema either: a wrong type here fails the status there too
  recipient_type: z.string().optional(),
  biz_opaque_callback_data: z.string().optional(),
};

function hasRecipient(s: { recipient_id?: string | undefined; recipient_user_id?: string | undefined }): boolean {
  return s.recipient_id !== undefined || s.recipient_user_id !== undefined;
}
const recipientIssue = { message: 'status needs recipient_id or recipient_user_id', path: ['recipient_id'] };

/**
 * Just what the platform relies on in a status. It accepts exactly the statuses
 * webhookStatusSchema accepts (every other field there is lenient), at a fraction of the cost.
 */
export const webhookStatusCoreSchema = z.looseObject(statusCoreShape).refine(hasRecipient, recipientIssue);

export const webhookStatusSchema = z
  .looseObject({
    ...statusCoreShape,
    conversation: lenient(
      z.looseObject({
        id: z.string().optional(),
        expiration_timestamp: z.union([z.string(), z.number()]).optional(),
        origin: z.looseObject({ type: z.string().optional() }).optional(),
      }),
    ),
    pricing: lenient(
      z.looseObject({
        billable: z.boolean().optional(),
        pricing_model: z.string().optional(),
        category: z.string().optional(),
        type: z.string().optional(),
      }),
    ),
    errors: lenient(z.array(metaErrorSchema)),
  })
  .refine(hasRecipient, recipientIssue);

export const webhookContactSchema = z.looseObject({
  profile: z
    .looseObject({ name: z.string().optional(), username: z.string().optional() })
    .optional()
    .catch(undefined),
  wa_id: z.string().optional(),
  user_id: z.string().optional(),
  parent_user_id: z.string().optional(),
});

export const webhookMetadataSchema = z.looseObject({
  display_phone_number: z.string().max(64),
  phone_number_id: z.string().min(1).max(64),
});

/** The value of a `field: "messages"` change, with every message and status validated. */
export const messagesValueSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  metadata: webhookMetadataSchema,
  contacts: lenient(z.array(webhookContactSchema)),
  messages: z.array(webhookMessageSchema).optional(),
  statuses: z.array(webhookStatusSchema).optional(),
  errors: lenient(z.array(metaErrorSchema)),
});

const messagesChangeSchema = z.looseObject({ field: z.literal('messages'), value: messagesValueSchema });
/** account_update, message_template_status_update, smb_message_echoes, …: kept, not inspected. */
const otherChangeSchema = z.looseObject({
  field: z.string().refine((f) => f !== 'messages'),
  value: z.unknown(),
});

/** The whole envelope, strictly: one malformed message makes the whole parse fail. */
export const webhookEnvelopeSchema = z.looseObject({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(
    z.looseObject({
      /** The WhatsApp Business Account id. */
      id: z.string().min(1).max(64),
      time: z.number().optional(),
      changes: z.array(z.union([messagesChangeSchema, otherChangeSchema])),
    }),
  ),
});

export type MetaError = z.output<typeof metaErrorSchema>;
export type WebhookContext = z.output<typeof webhookContextSchema>;
export type WebhookMessage = z.output<typeof webhookMessageSchema>;
export type WebhookStatus = z.output<typeof webhookStatusSchema>;
export type WebhookContact = z.output<typeof webhookContactSchema>;
export type WebhookMetadata = z.output<typeof webhookMetadataSchema>;
export type MessagesValue = z.output<typeof messagesValueSchema>;
export type WebhookEnvelope = z.output<typeof webhookEnvelopeSchema>;

// --- The skeleton parseWebhook walks: item by item, so one bad item does not sink the batch. ---

export const envelopeSkeletonSchema = z.looseObject({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(
    z.looseObject({
      id: z.string().min(1).max(64),
      changes: z.array(z.looseObject({ field: z.string().max(256), value: z.unknown() })),
    }),
  ),
});

export const messagesValueSkeletonSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  metadata: webhookMetadataSchema,
  contacts: lenient(z.array(webhookContactSchema)),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
});
