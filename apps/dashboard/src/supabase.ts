import { createClient, isAuthApiError, type SupabaseClientOptions } from '@supabase/supabase-js';

export interface SupabaseAuthConfig {
  url: string;
  anonKey: string;
}

type RealtimeTransport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

/**
 * Realtime is never used here, but supabase-js builds its client eagerly and, on Node 20 (no
 * global WebSocket), refuses to start without a transport: this one only says so if ever used.
 */
const noRealtime = class {
  constructor() {
    throw new Error('Supabase Realtime is not used by the dashboard');
  }
} as unknown as RealtimeTransport;

export type SupabaseSignIn =
  | { ok: true; email: string }
  | { ok: false; reason: 'invalid' | 'unavailable'; detail?: string };

/**
 * Check an email and password with Supabase Auth (GoTrue). Only a confirmed email comes back;
 * the session's tokens are dropped here, never logged or stored (the dashboard keeps its own
 * server-side session).
 */
export async function supabaseSignIn(config: SupabaseAuthConfig, email: string, password: string): Promise<SupabaseSignIn> {
  const client = createClient(config.url, config.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: noRealtime },
  });
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  if (error) {
    // a 4xx from GoTrue is a refusal; anything else (unreachable, 5xx) is an outage
    if (isAuthApiError(error) && error.status >= 400 && error.status < 500) return { ok: false, reason: 'invalid' };
    return { ok: false, reason: 'unavailable', detail: `${error.name}: ${error.message}`.slice(0, 200) };
  }
  const user = data.user;
  if (!user?.email || !user.email_confirmed_at) return { ok: false, reason: 'invalid' };
  return { ok: true, email: user.email };
}
