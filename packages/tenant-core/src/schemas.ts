import { z } from 'zod';

/**
 * Schemas for values that come from people (CLI arguments, dashboard forms, import files).
 * Repositories take already-parsed values; apps parse with these first and show the message.
 */

export const slugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or hyphens, starting with a letter or digit');

/** Meta's phone number id and WhatsApp Business Account id are numeric strings. */
export const phoneNumberIdSchema = z.string().regex(/^\d{5,20}$/, 'must be the numeric phone number id from Meta (5-20 digits)');
export const wabaIdSchema = z.string().regex(/^\d{5,20}$/, 'must be the numeric WhatsApp Business Account id (5-20 digits)');

/** E.164: +, country code, subscriber number; 8 to 15 digits in all. */
export const e164Schema = z.string().regex(/^\+[1-9]\d{7,14}$/, 'must be an E.164 phone number such as +254702245555');

export const emailSchema = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be an email address'))
  .transform((e) => e.toLowerCase());

/** ISO 639 language with an optional region, as WhatsApp writes them: en, sw, en_US, pt-BR. */
export const languageSchema = z
  .string()
  .regex(/^[a-z]{2,3}([_-][A-Za-z]{2,4})?$/, 'must be a language code such as en, sw or en_US');

export const clientNameSchema = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code such as KES');

export const timezoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Africa/Nairobi');

export const modelSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/, 'must be a model name such as gpt-4o-mini');

export const isoDateTimeSchema = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with a zone, such as 2027-01-31T00:00:00Z' })
  .transform((s) => new Date(s));

export const credentialStatuses = ['missing', 'valid', 'invalid', 'expired'] as const;
export const credentialStatusSchema = z.enum(credentialStatuses);
export type CredentialStatus = z.infer<typeof credentialStatusSchema>;

export const createTenantSchema = z.object({
  slug: slugSchema,
  clientName: clientNameSchema,
  phoneNumberId: phoneNumberIdSchema,
  wabaId: wabaIdSchema.optional(),
  displayPhone: e164Schema.optional(),
  ownMetaApp: z.boolean().default(false),
  isPlatform: z.boolean().default(false),
  coexistence: z.boolean().default(false),
  currency: currencySchema.optional(),
  timezone: timezoneSchema.optional(),
  aiModel: modelSchema.optional(),
});
export type CreateTenantInput = z.input<typeof createTenantSchema>;

/** Columns a tenant transaction may change (see the column grant in 0001). */
export const tenantUpdateSchema = z
  .object({
    clientName: clientNameSchema,
    clientPhone: e164Schema.nullable(),
    displayPhone: e164Schema.nullable(),
    wabaId: wabaIdSchema.nullable(),
    tokenExpiresAt: z.date().nullable(),
    aiModel: modelSchema.nullable(),
    isActive: z.boolean(),
    currency: currencySchema,
    timezone: timezoneSchema,
    coexistence: z.boolean(),
  })
  .partial();
export type TenantUpdate = z.input<typeof tenantUpdateSchema>;

/** Routing columns: operator actions through alphadome.admin_update_tenant_routing. */
export const tenantRoutingSchema = z
  .object({ slug: slugSchema, phoneNumberId: phoneNumberIdSchema, ownMetaApp: z.boolean() })
  .partial();
export type TenantRoutingUpdate = z.input<typeof tenantRoutingSchema>;

const message = (max: number) => z.string().max(max, `must be at most ${max} characters`);

export const controlSettingsSchema = z
  .object({
    botEnabled: z.boolean(),
    systemPrompt: message(20_000),
    tone: message(500),
    fallbackMessage: message(4096).min(1, 'must not be empty'),
    handoverMessage: message(4096).min(1, 'must not be empty'),
    awayMessage: message(4096),
    escalationPhone: e164Schema.nullable(),
    escalationEmail: emailSchema.nullable(),
    // Meta's ceiling for one number is 1,000 msg/s on the highest tier
    sendRatePerSecond: z.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000'),
    debounceMs: z.number().int().min(0, 'must be at least 0').max(60_000, 'must be at most 60000'),
    llmTimeoutMs: z.number().int().min(1000, 'must be at least 1000').max(120_000, 'must be at most 120000'),
    monthlyTokenBudget: z.number().int().min(0).nullable(),
    businessHours: z.unknown().nullable(),
    settings: z.record(z.string(), z.unknown()),
  })
  .partial();
export type ControlSettingsPatch = z.input<typeof controlSettingsSchema>;

export const templateKinds = ['canned', 'fallback', 'away', 'handover', 'optout', 'wa_template'] as const;
export const templateKindSchema = z.enum(templateKinds);
export type TemplateKind = z.infer<typeof templateKindSchema>;

export const templateNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be 1-64 lowercase letters, digits, _ . or -, starting with a letter or digit');

/** "hours, Open ,saa  ngapi" → ["hours", "open", "saa ngapi"]: trimmed, folded, deduplicated. */
export function normaliseTriggers(input: string | readonly string[]): string[] {
  const parts = typeof input === 'string' ? input.split(',') : input;
  const seen = new Set<string>();
  for (const p of parts) {
    const t = p.trim().replace(/\s+/g, ' ').toLowerCase();
    if (t) seen.add(t);
  }
  return [...seen];
}

export const triggersSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => normaliseTriggers(v))
  .pipe(
    z
      .array(z.string().max(100, 'each trigger must be at most 100 characters'))
      .max(100, 'at most 100 triggers'),
  );

export const templateInputSchema = z
  .object({
    name: templateNameSchema,
    kind: templateKindSchema.default('canned'),
    triggers: triggersSchema.default([]),
    body: z.string().trim().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters (WhatsApp text limit)'),
    language: languageSchema.default('en'),
    waTemplateName: templateNameSchema.nullable().optional(),
    waTemplateLanguage: languageSchema.nullable().optional(),
    isActive: z.boolean().default(true),
  })
  .refine((t) => t.kind !== 'canned' || t.triggers.length > 0, {
    message: 'a canned reply needs at least one trigger',
    path: ['triggers'],
  });
export type TemplateInput = z.input<typeof templateInputSchema>;

export const faqInputSchema = z.object({
  question: z.string().trim().min(1, 'question is empty').max(1000, 'question is longer than 1000 characters'),
  answer: z.string().trim().min(1, 'answer is empty').max(4096, 'answer is longer than 4096 characters (WhatsApp text limit)'),
  language: languageSchema.default('en'),
  tags: z.array(z.string().trim().min(1).max(50)).max(20).default([]),
  isActive: z.boolean().default(true),
});
export type FaqInput = z.input<typeof faqInputSchema>;
export type FaqRecord = z.output<typeof faqInputSchema>;

export const faqPatchSchema = faqInputSchema.partial();
export type FaqPatch = z.input<typeof faqPatchSchema>;

export const userRoles = ['owner', 'operator'] as const;
export const userRoleSchema = z.enum(userRoles);
export type UserRole = z.infer<typeof userRoleSchema>;

export const passwordSchema = z
  .string()
  .min(10, 'must be at least 10 characters')
  .max(1024, 'must be at most 1024 characters');

/** One line for a person: `field: problem; field: problem`. */
export function describeZodError(error: z.ZodError, names: Record<string, string> = {}): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const name = names[path] ?? path;
      return name ? `${name}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

export { parseFaqFile } from './faq-file.ts';
