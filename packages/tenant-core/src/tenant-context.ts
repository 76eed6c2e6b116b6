import { withTenant, type Sql, type Tx } from './db.ts';
import { getSecret, type Keyring } from './secrets.ts';
import { onTenantChanged } from './tenant-events.ts';

/**
 * Everything the worker needs to answer for one tenant, loaded in one withTenant transaction
 * and cached in-process. Decrypted secrets live only here, in memory: never in job data,
 * never logged (the fields are named so pino's redaction blanks them anyway).
 */
export interface TenantSettings {
  botEnabled: boolean;
  systemPrompt: string;
  tone: string;
  fallbackMessage: string;
  handoverMessage: string;
  awayMessage: string;
  escalationPhone: string | null;
  sendRatePerSecond: number;
  debounceMs: number;
  llmTimeoutMs: number;
  monthlyTokenBudget: number | null;
  extra: Record<string, unknown>;
}

export interface CannedTemplate {
  id: string;
  name: string;
  triggers: string[];
  body: string;
  language: string;
}

export interface TenantContext {
  tenantId: string;
  slug: string;
  name: string;
  phoneNumberId: string | null;
  isActive: boolean;
  credentialStatus: string;
  /** tenant's model, else null (the platform default applies) */
  model: string | null;
  /** prices without a currency of their own are in this one (default KES) */
  currency: string;
  settings: TenantSettings;
  canned: CannedTemplate[];
  fallback: { id: string | null; body: string };
  handover: { id: string | null; body: string };
  secrets: { whatsappToken: string | null; openaiKey: string | null };
  /** active non-empty system templates (fallback, away, handover, optout), oldest first */
  systemTemplates: { id: string; kind: string; language: string; body: string }[];
  /** IANA time zone of the business hours (default Africa/Nairobi) */
  timezone: string;
  /** bot_control_settings.business_hours as stored (null: always open) */
  businessHours: unknown;
  loadedAt: number;
}

export const defaultTenantSettings: TenantSettings = {
  botEnabled: true,
  systemPrompt: '',
  tone: '',
  fallbackMessage: 'Thank you for your message. A person from our team will get back to you shortly.',
  handoverMessage: "I'm passing you to a person from our team; they will reply here shortly.",
  awayMessage: '',
  escalationPhone: null,
  sendRatePerSecond: 80,
  debounceMs: 2000,
  llmTimeoutMs: 15000,
  monthlyTokenBudget: null,
  extra: {},
};

interface SettingsRow {
  bot_enabled: boolean;
  system_prompt: string;
  tone: string;
  fallback_message: string;
  handover_message: string;
  away_message: string;
  escalation_phone: string | null;
  send_rate_per_second: number;
  debounce_ms: number;
  llm_timeout_ms: number;
  monthly_token_budget: string | number | null;
  settings: Record<string, unknown> | null;
  business_hours: unknown;
}

/** Load a tenant's context inside the given tenant transaction; null if the tenant does not exist. */
export async function loadTenantContext(tx: Tx, keyring: Keyring | null, tenantId: string): Promise<TenantContext | null> {
  const [t] = await tx<
    {
      id: string;
      slug: string;
      client_name: string;
      whatsapp_phone_number_id: string | null;
      is_active: boolean;
      credential_status: string;
      ai_model: string | null;
      currency: string | null;
      timezone: string | null;
    }[]
  >`select id, slug, client_name, whatsapp_phone_number_id, is_active, credential_status, ai_model, currency, timezone
      from alphadome.bot_tenants where id = ${tenantId}`;
  if (!t) return null;
  const [s] = await tx<SettingsRow[]>`
    select bot_enabled, system_prompt, tone, fallback_message, handover_message, away_message, escalation_phone,
           send_rate_per_second, debounce_ms, llm_timeout_ms, monthly_token_budget, settings, business_hours
      from alphadome.bot_control_settings limit 1`;
  const settings: TenantSettings = s
    ? {
        botEnabled: s.bot_enabled,
        systemPrompt: s.system_prompt,
        tone: s.tone,
        fallbackMessage: s.fallback_message || defaultTenantSettings.fallbackMessage,
        handoverMessage: s.handover_message || defaultTenantSettings.handoverMessage,
        awayMessage: s.away_message,
        escalationPhone: s.escalation_phone,
        sendRatePerSecond: s.send_rate_per_second,
        debounceMs: s.debounce_ms,
        llmTimeoutMs: s.llm_timeout_ms,
        monthlyTokenBudget: s.monthly_token_budget === null ? null : Number(s.monthly_token_budget),
        extra: s.settings ?? {},
      }
    : { ...defaultTenantSettings };
  const templates = await tx<{ id: string; name: string; kind: string; triggers: string[]; body: string; language: string }[]>`
    select id, name, kind, triggers, body, language from alphadome.bot_templates
     where is_active and kind in ('canned', 'fallback', 'handover', 'away', 'optout')
     order by created_at, id`;
  const canned = templates
    .filter((r) => r.kind === 'canned' && r.body.trim() !== '' && r.triggers.length > 0)
    .map((r) => ({ id: r.id, name: r.name, triggers: r.triggers, body: r.body, language: r.language }));
  const fallbackTpl = templates.find((r) => r.kind === 'fallback' && r.body.trim() !== '');
  const handoverTpl = templates.find((r) => r.kind === 'handover' && r.body.trim() !== '');
  const secrets = keyring
    ? {
        whatsappToken: await getSecret(tx, keyring, tenantId, 'whatsapp_token'),
        openaiKey: await getSecret(tx, keyring, tenantId, 'openai_key'),
      }
    : { whatsappToken: null, openaiKey: null };
  return {
    tenantId: t.id,
    slug: t.slug,
    name: t.client_name,
    phoneNumberId: t.whatsapp_phone_number_id,
    isActive: t.is_active,
    credentialStatus: t.credential_status,
    model: t.ai_model,
    currency: t.currency?.trim() || 'KES',
    settings,
    canned,
    fallback: fallbackTpl ? { id: fallbackTpl.id, body: fallbackTpl.body } : { id: null, body: settings.fallbackMessage },
    handover: handoverTpl ? { id: handoverTpl.id, body: handoverTpl.body } : { id: null, body: settings.handoverMessage },
    secrets,
    systemTemplates: templates
      .filter((r) => r.kind !== 'canned' && r.body !== '')
      .map((r) => ({ id: r.id, kind: r.kind, language: r.language, body: r.body })),
    timezone: t.timezone ?? 'Africa/Nairobi',
    businessHours: s?.business_hours ?? null,
    loadedAt: Date.now(),
  };
}

export interface TenantContextCacheOptions {
  sql: Sql;
  keyring: Keyring | null;
  /** default 30 s: a missed invalidation only delays a change this long */
  ttlMs?: number;
  /** entries of each tenant's memo (derived data such as catalog search results), default 200 */
  memoEntries?: number;
}

/**
 * In-process cache of tenant contexts with a TTL; concurrent misses share one load.
 * `subscribe()` drops entries when the dashboard or CLI announces a change (onTenantChanged).
 * Next to each context, a small LRU memo of data derived from the tenant's tables (the
 * catalog's search results: `memo(tenantId, 'catalog:' + text, load)`), with the same TTL and
 * dropped with the context when the tenant changes.
 */
export class TenantContextCache {
  private readonly entries = new Map<string, { value: TenantContext | null; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<TenantContext | null>>();
  private generation = new Map<string, number>();
  private unsubscribe: (() => Promise<void>) | null = null;
  private readonly ttlMs: number;
  private readonly memoEntries: number;
  private allGeneration = 0;
  /** per tenant: key → value, in least-recently-used order (a Map keeps insertion order) */
  private readonly memos = new Map<string, Map<string, { value: unknown; expiresAt: number }>>();

  constructor(private readonly opts: TenantContextCacheOptions) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.memoEntries = Math.max(opts.memoEntries ?? 200, 1);
  }

  /**
   * A value derived from the tenant's data, cached under `key` until the TTL passes or the
   * tenant changes. A load that an invalidation overtook is returned but not kept.
   */
  async memo<T>(tenantId: string, key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    let memo = this.memos.get(tenantId);
    const hit = memo?.get(key);
    if (memo && hit) {
      memo.delete(key);
      if (hit.expiresAt > now) {
        memo.set(key, hit); // most recently used last
        return hit.value as T;
      }
    }
    if (this.ttlMs <= 0) return load();
    const gen = `${this.allGeneration}:${this.generation.get(tenantId) ?? 0}`;
    const value = await load();
    if (`${this.allGeneration}:${this.generation.get(tenantId) ?? 0}` !== gen) return value;
    memo = this.memos.get(tenantId);
    if (!memo) {
      memo = new Map();
      this.memos.set(tenantId, memo);
    }
    memo.delete(key);
    memo.set(key, { value, expiresAt: Date.now() + this.ttlMs });
    while (memo.size > this.memoEntries) {
      const oldest = memo.keys().next().value;
      if (oldest === undefined) break;
      memo.delete(oldest);
    }
    return value;
  }

  /** How many memo entries a tenant has (for tests and diagnostics). */
  memoSize(tenantId: string): number {
    return this.memos.get(tenantId)?.size ?? 0;
  }

  async get(tenantId: string): Promise<TenantContext | null> {
    const hit = this.entries.get(tenantId);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    const running = this.inflight.get(tenantId);
    if (running) return running;
    const gen = this.generation.get(tenantId) ?? 0;
    const p = withTenant(this.opts.sql, tenantId, (tx) => loadTenantContext(tx, this.opts.keyring, tenantId))
      .then((value) => {
        // an invalidation that arrived while loading wins: don't cache what may be stale
        if ((this.generation.get(tenantId) ?? 0) === gen) {
          this.entries.set(tenantId, { value, expiresAt: Date.now() + this.ttlMs });
        }
        return value;
      })
      .finally(() => this.inflight.delete(tenantId));
    this.inflight.set(tenantId, p);
    return p;
  }

  invalidate(tenantId?: string): void {
    if (tenantId === undefined) {
      this.entries.clear();
      this.memos.clear();
      this.allGeneration++;
      for (const k of this.generation.keys()) this.generation.set(k, (this.generation.get(k) ?? 0) + 1);
      this.inflight.clear();
      return;
    }
    this.entries.delete(tenantId);
    this.memos.delete(tenantId);
    this.inflight.delete(tenantId);
    this.generation.set(tenantId, (this.generation.get(tenantId) ?? 0) + 1);
  }

  async subscribe(redisUrl: string, prefix: string): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = await onTenantChanged(redisUrl, prefix, (id) => this.invalidate(id === '*' ? undefined : id));
  }

  async close(): Promise<void> {
    const u = this.unsubscribe;
    this.unsubscribe = null;
    this.entries.clear();
    this.memos.clear();
    if (u) await u();
  }
}
