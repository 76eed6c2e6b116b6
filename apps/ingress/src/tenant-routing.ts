import {
  AppError,
  getSecret,
  routePhoneNumber,
  routeTenantSlug,
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
  now?: () => number;
}

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/**
 * A small TTL cache with single-flight loading: concurrent misses for one key share one
 * database query. Rejections are not cached (the next request asks again).
 */
class TtlCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly loading = new Map<string, Promise<T>>();
  /** raised by every invalidation; a load started before it does not store its answer */
  private generation = 0;

  constructor(
    private readonly ttlFor: (value: T) => number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  peek(key: string): Entry<T> | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
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

  constructor(opts: TenantRouterOptions) {
    this.sql = opts.sql;
    this.keyring = opts.keyring;
    const ttl = opts.ttlMs ?? 30_000;
    const negativeTtl = opts.negativeTtlMs ?? 5_000;
    const max = opts.maxEntries ?? 10_000;
    const now = opts.now ?? Date.now;
    this.phones = new TtlCache((v) => (v === null ? negativeTtl : ttl), max, now);
    this.slugs = new TtlCache((v) => (v === null ? negativeTtl : ttl), max, now);
    this.secrets = new TtlCache((v) => (v === null ? negativeTtl : ttl), max, now);
  }

  /** The cached route of a phone number id, if known and fresh (no I/O). */
  peekPhoneNumber(phoneNumberId: string): PhoneRoute | null | undefined {
    return this.phones.peek(phoneNumberId)?.value;
  }

  /** The tenant a phone number id belongs to, or null. Throws when the database cannot answer. */
  byPhoneNumber(phoneNumberId: string): Promise<PhoneRoute | null> {
    return this.phones.get(phoneNumberId, (id) => routePhoneNumber(this.sql, id));
  }

  bySlug(slug: string): Promise<SlugRoute | null> {
    return this.slugs.get(slug, (s) => routeTenantSlug(this.sql, s));
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
    return this.secrets.get(tenantId, (id) => withTenant(this.sql, id, (tx) => getSecret(tx, keyring, id, 'meta_app_secret')));
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
