import type { Tx } from '../db.ts';
import { controlSettingsSchema, type ControlSettingsPatch } from '../schemas.ts';

/** A tenant's bot controls (alphadome.bot_control_settings, one row per tenant). */
export interface ControlSettings {
  tenantId: string;
  botEnabled: boolean;
  systemPrompt: string;
  tone: string;
  fallbackMessage: string;
  handoverMessage: string;
  awayMessage: string;
  escalationPhone: string | null;
  escalationEmail: string | null;
  sendRatePerSecond: number;
  debounceMs: number;
  llmTimeoutMs: number;
  monthlyTokenBudget: number | null;
  businessHours: unknown;
  settings: Record<string, unknown>;
  /** null when the tenant has no row yet and these are the defaults */
  updatedAt: Date | null;
}

/** The column defaults of 0002, for a tenant that has no row yet. */
export const defaultControlSettings: Omit<ControlSettings, 'tenantId' | 'updatedAt'> = {
  botEnabled: true,
  systemPrompt: '',
  tone: '',
  fallbackMessage: 'Thank you for your message. A person from our team will get back to you shortly.',
  handoverMessage: "I'm passing you to a person from our team; they will reply here shortly.",
  awayMessage: '',
  escalationPhone: null,
  escalationEmail: null,
  sendRatePerSecond: 80,
  debounceMs: 2000,
  llmTimeoutMs: 15000,
  monthlyTokenBudget: null,
  businessHours: null,
  settings: {},
};

const columns = {
  botEnabled: 'bot_enabled',
  systemPrompt: 'system_prompt',
  tone: 'tone',
  fallbackMessage: 'fallback_message',
  handoverMessage: 'handover_message',
  awayMessage: 'away_message',
  escalationPhone: 'escalation_phone',
  escalationEmail: 'escalation_email',
  sendRatePerSecond: 'send_rate_per_second',
  debounceMs: 'debounce_ms',
  llmTimeoutMs: 'llm_timeout_ms',
  monthlyTokenBudget: 'monthly_token_budget',
  businessHours: 'business_hours',
  settings: 'settings',
} as const satisfies Record<keyof ControlSettingsPatch, string>;

interface Row {
  tenant_id: string;
  bot_enabled: boolean;
  system_prompt: string;
  tone: string;
  fallback_message: string;
  handover_message: string;
  away_message: string;
  escalation_phone: string | null;
  escalation_email: string | null;
  send_rate_per_second: number;
  debounce_ms: number;
  llm_timeout_ms: number;
  monthly_token_budget: string | number | null;
  business_hours: unknown;
  settings: Record<string, unknown> | null;
  updated_at: Date;
}

const toSettings = (r: Row): ControlSettings => ({
  tenantId: r.tenant_id,
  botEnabled: r.bot_enabled,
  systemPrompt: r.system_prompt,
  tone: r.tone,
  fallbackMessage: r.fallback_message,
  handoverMessage: r.handover_message,
  awayMessage: r.away_message,
  escalationPhone: r.escalation_phone,
  escalationEmail: r.escalation_email,
  sendRatePerSecond: r.send_rate_per_second,
  debounceMs: r.debounce_ms,
  llmTimeoutMs: r.llm_timeout_ms,
  monthlyTokenBudget: r.monthly_token_budget === null ? null : Number(r.monthly_token_budget),
  businessHours: r.business_hours ?? null,
  settings: r.settings ?? {},
  updatedAt: r.updated_at,
});

const selectList = (tx: Tx) => tx`
  tenant_id, bot_enabled, system_prompt, tone, fallback_message, handover_message, away_message,
  escalation_phone, escalation_email, send_rate_per_second, debounce_ms, llm_timeout_ms,
  monthly_token_budget, business_hours, settings, updated_at`;

/** The tenant's settings; the defaults when it has no row. */
export async function getControlSettings(tx: Tx, tenantId: string): Promise<ControlSettings> {
  const rows = await tx<Row[]>`
    select ${selectList(tx)} from alphadome.bot_control_settings where tenant_id = ${tenantId}`;
  return rows[0] ? toSettings(rows[0]) : { tenantId, ...defaultControlSettings, updatedAt: null };
}

/** Change some settings (creating the row on first use); returns all of them. */
export async function upsertControlSettings(tx: Tx, tenantId: string, patch: ControlSettingsPatch): Promise<ControlSettings> {
  const p = controlSettingsSchema.parse(patch);
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(columns)) {
    const v = p[key as keyof typeof p];
    if (v === undefined) continue;
    row[column] = column === 'settings' || column === 'business_hours' ? (v === null ? null : tx.json(v as never)) : v;
  }
  const keys = Object.keys(row);
  if (keys.length === 0) {
    await tx`insert into alphadome.bot_control_settings (tenant_id) values (${tenantId}) on conflict (tenant_id) do nothing`;
    return getControlSettings(tx, tenantId);
  }
  const rows = await tx<Row[]>`
    insert into alphadome.bot_control_settings ${tx({ tenant_id: tenantId, ...row } as unknown as Record<string, never>)}
    on conflict (tenant_id) do update set ${tx(row as Record<string, never>, keys as never[])}
    returning ${selectList(tx)}`;
  return toSettings(rows[0]!);
}
