import { userInfo } from 'node:os';
import { Redis } from 'ioredis';
import {
  announceTenantChanged,
  createSql,
  Keyring,
  loadConfig,
  type Config,
  type Sql,
} from '@alphadome/tenant-core';
import { UsageError } from './errors.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** all of standard input, for `-` as a file name */
  readStdin: () => Promise<Buffer>;
  env: Record<string, string | undefined>;
}

/**
 * What a command needs, created on first use: the environment, one small pool, the keyring,
 * and the set of tenants to announce as changed when the command ends. `close()` announces
 * and ends the pool so the process exits at once.
 */
export class CliContext {
  readonly io: CliIo;
  readonly json: boolean;
  private config?: Config;
  private pool?: Sql;
  private changed = new Set<string>();
  private stdinTaken = false;

  constructor(io: CliIo, opts: { json: boolean }) {
    this.io = io;
    this.json = opts.json;
  }

  env(): Config {
    this.config ??= loadConfig(this.io.env);
    return this.config;
  }

  sql(): Sql {
    if (!this.pool) {
      const config = loadConfig(this.io.env, ['DATABASE_URL']);
      this.config = config;
      this.pool = createSql({
        url: config.DATABASE_URL,
        prepare: config.DATABASE_PREPARE === 'true',
        max: 2,
        name: 'alphadome-cli',
      });
    }
    return this.pool;
  }

  /** The keyring; ENCRYPTION_KEYS is required for commands that touch secrets. */
  keyring(): Keyring {
    return Keyring.fromSpec(this.env().ENCRYPTION_KEYS);
  }

  /** Who did it, for the audit log. */
  get actor(): string {
    let name = this.io.env.SUDO_USER ?? this.io.env.USER;
    if (!name) {
      try {
        name = userInfo().username;
      } catch {
        name = 'unknown';
      }
    }
    return `cli:${name}`;
  }

  /** Standard input can be read once: two `-` file names in one command are refused. */
  takeStdin(flag: string): Promise<Buffer> {
    if (this.stdinTaken) throw new UsageError(`${flag}: standard input (-) is already used by another option`);
    this.stdinTaken = true;
    return this.io.readStdin();
  }

  out(line = ''): void {
    this.io.stdout(`${line}\n`);
  }

  warn(message: string): void {
    this.io.stderr(`alphadome: warning: ${message}\n`);
  }

  /** The one JSON document of a `--json` run. */
  printJson(doc: unknown): void {
    this.io.stdout(`${JSON.stringify(doc, null, 2)}\n`);
  }

  /** Print `doc` with --json, else run `human` to print lines. */
  result(doc: unknown, human: () => void): void {
    if (this.json) this.printJson(doc);
    else human();
  }

  tenantChanged(tenantId: string): void {
    this.changed.add(tenantId);
  }

  /** Tell workers which tenants changed; an unreachable Redis is a warning, not an error. */
  async announce(): Promise<void> {
    if (this.changed.size === 0) return;
    const ids = [...this.changed];
    this.changed.clear();
    const { REDIS_URL, QUEUE_PREFIX } = this.env();
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    let ok = true;
    try {
      await client.connect();
      for (const id of ids) ok = (await announceTenantChanged(client, QUEUE_PREFIX, id)) && ok;
    } catch {
      ok = false;
    } finally {
      client.disconnect();
    }
    if (!ok) {
      this.warn(
        `could not reach Redis at ${redactUrl(REDIS_URL)} to announce the change; running workers pick it up when their cache expires`,
      );
    }
  }

  async close(): Promise<void> {
    try {
      await this.announce();
    } finally {
      await this.pool?.end({ timeout: 5 });
      this.pool = undefined;
    }
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return 'REDIS_URL';
  }
}
