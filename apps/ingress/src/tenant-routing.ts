import {
  AppError,
  getSecret,
  routePhoneNumber,
  routeTenantSlug,
  withinDeadline,
  withTenant,
  type Keyring,
  type Sql,
} from '@alphadome/tenant-core';

export interface PhoneRoute {
  tenantId: string;
  status: 'active' | 'disabled';
}

export interface SlugRoute extends PhoneRoute {
  ownMetaApp: boolean;
}

export interface TenantRouterOptions {
  sql: Sql;
  /** null when ENCRYPTION_KEYS is not configured: tenant secrets cannot be read */
  keyring: Keyring | null;
  /** how long a found route (or secret) is trusted without asking the database again */
  ttlMs?: number;
  /** how long "no such phone number / slug" is remembered (short: a tenant may be created any time) */
  negativeTtlMs?: number;
  /** entries beyond this clear the cache (bounds memory whatever the input) */
  maxEntries?: number;
  /**
   * Longest a lookup waits for the database before it fails (default 2 s). A query on a
   * connection the server cut can stay unsettled in postgres.js; without a deadline every
   * request for that phone number would wait on it (lookups are shared) and Meta's deliveries
   * for the tenant would time out until the process restarted.
   */
  lookupTimeoutMs?: number;
  /**
   * When a lookup fails (database down, deadline passed), a route that expired less than this
   * long ago is used instead (default 10 min): a short database outage does not stop webhooks
   * for tenants ingress already knows. Never for "no such number": that answer would drop the
   * messages (200, nothing enqueued); those lookups fail (503, Meta retries). Invalidation
   * (a tenant changed) removes stale routes too.
   */
  staleIfErrorMs?: number;
  /** called when a stale route answered because the lookup failed */
  onStale?: (kind: 'phone' | 'slug' | 'secret', err: unknown) => void;
  now?: () => number;
}

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/**
 * A small TTL cache with single-flight loading: concurrent misses for one key share one
 * database query. Rejections are not cached (the next request asks again); a failed load
 * answers with the expired entry instead if `staleIfErrorMs` allows it (never a null entry).
 */
class TtlCache<T> {
  /** fresh and expired entries; an expired one is kept as the stale-if-error fallback */
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T>>();
  /** raised by every invalidation; a load started before it does not store its answer */
  private generation = 0;

  constructor(
    private readonly ttlFor: (value: T) => number,
    private readonly maxEntries: number,
    private readonly now: () => number,
    private readonly staleIfErrorMs: number,
    private readonly onStale: (err: unknown) => void,
  ) {}

  peek(key: string): Entry<T> | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.now()) {
      if (e.value === null || e.expiresAt + this.staleIfErrorMs <= this.now()) this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  get(key: string, load: (key: string) => Promise<T>): Promise<T> {
    const hit = this.peek(key);
    if (hit !== undefined) return Promise.resolve(hit.value);
    let pending = this.loading.get(key);
    if (pending === undefined) {
      // a change announced while loading must not be overwritten by the stale answer
      const generation = this.generation;
      pending = load(key).then(
        (value) => {
          this.loading.delete(key);
          if (generation === this.generation) {
            if (this.entries.size >= this.maxEntries) this.entries.clear();
            this.entries.set(key, { value, expiresAt: this.now() + this.ttlFor(value) });
          }
          return value;
        },
        (err: unknown) => {
          this.loading.delete(key);
          // peek() left only a usable stale entry here (non-null, within staleIfErrorMs);
          // an invalidation since the load started removed it
          const stale = this.entries.get(key);
          if (stale !== undefined && stale.value !== null && stale.expiresAt + this.staleIfErrorMs > this.now()) {
            this.onStale(err);
            return stale.value;
          }
          throw err;
        },
      );
      this.loading.set(key, pending);
    }
    return pending;
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  deleteWhere(pred: (value: T) => boolean): void {
    this.generation++;
    for (const [k, e] of this.entries) if (pred(e.value)) this.entries.delete(k);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Tenant routing for ingress: phone number id → tenant, slug → tenant, and a tenant's own Meta
 * app secret, each cached in process with a TTL. `invalidate(tenantId)` (wired to the
 * tenant-changed announcements) drops what is known about that tenant at once, and every
 * negative entry too (a phone number or slug may just have been given to it). Secrets stay
 * in this process's memory only.
 */
export class TenantRouter {
  private readonly sql: Sql;
  private readonly keyring: Keyring | null;
  private readonly phones: TtlCache<PhoneRoute | null>;
  private readonly slugs: TtlCache<SlugRoute | null>;
  private readonly secrets: TtlCache<string | null>;
  private readonly lookupTimeoutMs: number;

  constructor(opts: TenantRouterOptions) {
    this.sql = opts.sql;
    this.keyring = opts.keyring;
    const ttl = opts.ttlMs ?? 30_000;
    const negativeTtl = opts.negativeTtlMs ?? 5_000;
    const max = opts.maxEntries ?? 10_000;
    const now = opts.now ?? Date.now;
    this.lookupTimeoutMs = opts.lookupTimeoutMs ?? 2_000;
    const stale = opts.staleIfErrorMs ?? 10 * 60_000;
    const onStale = opts.onStale ?? (() => {});
    const ttlFor = <V>(v: V | null) => (v === null ? negativeTtl : ttl);
    this.phones = new TtlCache(ttlFor, max, now, stale, (err) => onStale('phone', err));
    this.slugs = new TtlCache(ttlFor, max, now, stale, (err) => onStale('slug', err));
    this.secrets = new TtlCache(ttlFor, max, now, stale, (err) => onStale('secret', err));
  }

  /** A database read under the lookup deadline (the shared load fails, so the next request asks again). */
  private timed<T>(p: Promise<T>, what: string): Promise<T> {
    return this.lookupTimeoutMs > 0 ? withinDeadline(p, this.lookupTimeoutMs, what) : p;
  }

  /** The cached route of a phone number id, if known and fresh (no I/O). */
  peekPhoneNumber(phoneNumberId: string): PhoneRoute | null | undefined {
    return this.phones.peek(phoneNumberId)?.value;
  }

  /** The tenant a phone number id belongs to, or null. Throws when the database cannot answer. */
  byPhoneNumber(phoneNumberId: string): Promise<PhoneRoute | null> {
    return this.phones.get(phoneNumberId, (id) => this.timed(routePhoneNumber(this.sql, id), 'tenant routing by phone number id'));
  }

  bySlug(slug: string): Promise<SlugRoute | null> {
    return this.slugs.get(slug, (s) => this.timed(routeTenantSlug(this.sql, s), 'tenant routing by slug'));
  }

  get canReadSecrets(): boolean {
    return this.keyring !== null;
  }

  /** The tenant's own Meta app secret (decrypted under its tenant scope), or null if none is stored. */
  metaAppSecret(tenantId: string): Promise<string | null> {
    const keyring = this.keyring;
    if (keyring === null) {
      return Promise.reject(new AppError('config', 'ENCRYPTION_KEYS is not set: tenant Meta app secrets cannot be read'));
    }
    return this.secrets.get(tenantId, (id) =>
      this.timed(withTenant(this.sql, id, (tx) => getSecret(tx, keyring, id, 'meta_app_secret')), "the tenant's Meta app secret"),
    );
  }

  invalidate(tenantId: string): void {
    const stale = (v: PhoneRoute | null): boolean => v === null || v.tenantId === tenantId;
    this.phones.deleteWhere(stale);
    this.slugs.deleteWhere(stale);
    this.secrets.delete(tenantId);
  }

  clear(): void {
    this.phones.clear();
    this.slugs.clear();
    this.secrets.clear();
  }
}
