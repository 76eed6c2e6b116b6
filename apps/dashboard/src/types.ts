import type { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { Keyring, Logger, Sql } from '@alphadome/tenant-core';
import type { Session } from './data/sessions.ts';
import type { DashboardMetrics } from './metrics.ts';
import type { SupabaseAuthConfig } from './supabase.ts';

/** Who may reach a route; every route declares one (a route without one is operator-only). */
export type Access = 'public' | 'user' | 'owner' | 'operator';

export interface RequestSession extends Session {
  tenantName: string | null;
}

export interface DashboardDeps {
  sql: Sql;
  redisUrl: string;
  queuePrefix: string;
  keyring?: Keyring;
  logger?: Logger | false;
  publicUrl?: string;
  /** 'auto' (default): Secure unless the request is plain http to localhost */
  secureCookies?: boolean | 'auto';
  /** session lifetime (default 8 hours) */
  sessionTtlMs?: number;
  /** in-memory per-IP login limiter: attempts per window (default 20 per 10 minutes) */
  loginRateLimit?: { max: number; windowMs: number };
  /** optional Supabase Auth sign-in (POST /login/supabase); users map to existing accounts by email */
  supabase?: SupabaseAuthConfig;
}

export interface DashboardContext {
  deps: DashboardDeps;
  sql: Sql;
  metrics: DashboardMetrics;
  redis(): Redis;
  sendQueue(): Queue;
  /** after a tenant's configuration changed: workers drop their cached context */
  announce(tenantId: string): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    session: RequestSession | null;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}
