import { z } from 'zod';

/**
 * The environment, parsed once with zod. Every app asks for the variables it needs with
 * `loadConfig(env, [...required])`; a bad or missing value is one line naming the variable.
 */
const urlWith = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);

const port = z.coerce.number().int().min(0).max(65535);

export const envSchema = z.object({
  DATABASE_URL: urlWith(['postgres:', 'postgresql:']).optional(),
  DATABASE_PREPARE: z.enum(['true', 'false']).default('true'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: urlWith(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9:{}_-]+$/, 'letters, digits, : { } _ - only').default('alphadome'),
  META_APP_SECRET: z.string().min(8, 'must be at least 8 characters').optional(),
  META_VERIFY_TOKEN: z.string().min(8, 'must be at least 8 characters').optional(),
  GRAPH_API_BASE_URL: urlWith(['http:', 'https:']).default('https://graph.facebook.com'),
  GRAPH_API_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v23.0').default('v23.0'),
  OPENAI_BASE_URL: urlWith(['http:', 'https:']).optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  ENCRYPTION_KEYS: z.string().optional(),
  INGRESS_PORT: port.default(3000),
  DASHBOARD_PORT: port.default(3001),
  WORKER_PORT: port.default(3002),
  HOST: z.string().default('0.0.0.0'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUBLIC_DASHBOARD_URL: urlWith(['http:', 'https:']).optional(),
  SUPABASE_URL: urlWith(['http:', 'https:']).optional(),
  SUPABASE_ANON_KEY: z.string().min(1).optional(),
});

export type Config = z.infer<typeof envSchema>;
export type ConfigKey = keyof Config;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parse the environment; throws ConfigError with one line per bad or missing variable. */
export function loadConfig<K extends ConfigKey = never>(
  env: Record<string, string | undefined> = process.env,
  required: readonly K[] = [],
): Config & { [P in K]-?: NonNullable<Config[P]> } {
  // empty strings count as unset, as in most .env tooling
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  } else {
    for (const key of required) {
      if (parsed.data[key] === undefined) problems.push(`${key}: is required but not set`);
    }
    if ((parsed.data.SUPABASE_URL === undefined) !== (parsed.data.SUPABASE_ANON_KEY === undefined)) {
      problems.push('SUPABASE_URL, SUPABASE_ANON_KEY: set both or neither');
    }
    if (parsed.data.ENCRYPTION_KEYS !== undefined) {
      // parse eagerly so a bad keyring stops the process at start, not at the first secret
      try {
        parseKeyringSpec(parsed.data.ENCRYPTION_KEYS);
      } catch (err) {
        problems.push(`ENCRYPTION_KEYS: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  return parsed.data as Config & { [P in K]-?: NonNullable<Config[P]> };
}

/** For app entry points: the same, but a bad environment prints one line and exits 1. */
export function loadConfigOrExit<K extends ConfigKey = never>(
  required: readonly K[] = [],
  env: Record<string, string | undefined> = process.env,
): Config & { [P in K]-?: NonNullable<Config[P]> } {
  try {
    return loadConfig(env, required);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`alphadome: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

export interface KeySpec {
  id: string;
  key: Buffer;
}

/** `id:base64key,id2:base64key2` → keys, first active. Keys must be 32 bytes (AES-256). */
export function parseKeyringSpec(spec: string): KeySpec[] {
  const keys: KeySpec[] = [];
  const seen = new Set<string>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const idx = part.indexOf(':');
    if (idx <= 0) throw new Error('each key must be written id:base64key');
    const id = part.slice(0, idx);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new Error(`key id "${id.slice(0, 32)}" must be 1-32 letters, digits, _ or -`);
    const b64 = part.slice(idx + 1);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) throw new Error(`key "${id}" is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new Error(`key "${id}" must decode to 32 bytes, got ${key.length}`);
    if (seen.has(id)) throw new Error(`key id "${id}" appears twice`);
    seen.add(id);
    keys.push({ id, key });
  }
  if (keys.length === 0) throw new Error('no keys given');
  return keys;
}
