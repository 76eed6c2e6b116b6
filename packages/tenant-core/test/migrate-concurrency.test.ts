import { spawn } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { createSql, type Sql } from '../src/db.ts';
import { AppError } from '../src/errors.ts';
import { migrate, migrationsDir, type MigrationResult } from '../src/migrate.ts';

/**
 * `alphadome migrate` runs at every start of every process (npm start, each app replica):
 * starters racing on one database must apply each migration exactly once, and a migration
 * edited after it was applied must stop the run rather than be skipped silently.
 */

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const runMigrate = fileURLToPath(new URL('./fixtures/run-migrate.ts', import.meta.url));
/** The runner's advisory lock key (migrate.ts: MIGRATION_LOCK_KEY, "alphadom"). */
const LOCK_KEY = (0x616c7068_61646f6dn).toString();

let db: TestDatabase;
let sql: Sql;
let migrationFiles: string[];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runInProcess(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', runMigrate], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function resultOf(run: Run): MigrationResult {
  expect(run.code, `exit code; stderr: ${run.stderr}`).toBe(0);
  const line = run.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as MigrationResult;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  sql = db.sql;
  migrationFiles = (await readdir(migrationsDir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
});

afterAll(async () => {
  await db?.drop();
});

describe('concurrent migrate', () => {
  it('two processes started together apply each migration exactly once', async () => {
    // Hold the runner's lock so that both processes are certainly inside migrate, waiting on
    // it, before either can start: then let them race.
    const holder = createSql({ url: db.url, max: 1 });
    let runs: [Run, Run];
    try {
      await holder`select pg_advisory_lock(${LOCK_KEY}::bigint)`;
      const both = Promise.all([runInProcess({ DATABASE_URL: db.url }), runInProcess({ DATABASE_URL: db.url })]);
      await waitFor(async () => {
        const [row] = await sql<{ n: number }[]>`
          select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
           where l.locktype = 'advisory' and not l.granted and a.datname = ${db.name}
             and a.application_name like 'run-migrate-%'`;
        return row!.n === 2;
      }, 'both migrate processes to wait on the migration lock');
      await holder`select pg_advisory_unlock(${LOCK_KEY}::bigint)`;
      runs = await both;
    } finally {
      await holder.end();
    }
    const [a, b] = runs.map(resultOf) as [MigrationResult, MigrationResult];
    expect([...a.applied, ...b.applied].sort()).toEqual(migrationFiles);
    expect(a.applied.filter((f) => b.applied.includes(f))).toEqual([]);
    // the one that waited found everything done
    const [winner, loser] = a.applied.length > 0 ? [a, b] : [b, a];
    expect(winner.applied).toEqual(migrationFiles);
    expect(loser.skipped).toEqual(migrationFiles);
    const ledger = await sql<{ name: string; n: number }[]>`
      select name, count(*)::int as n from alphadome.schema_migrations group by name order by name`;
    expect(ledger).toEqual(migrationFiles.map((name) => ({ name, n: 1 })));
    const [locks] = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
       where l.locktype = 'advisory' and d.datname = ${db.name}`;
    expect(locks!.n).toBe(0);
  });
});

describe('migrations are append-only', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'alphadome-migrations-'));
    for (const f of migrationFiles) await copyFile(join(migrationsDir, f), join(dir, f));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an unchanged copy is all skipped', async () => {
    expect(await migrate(sql, { dir })).toEqual({ applied: [], skipped: migrationFiles, legacySecretsMoved: 0 });
  });

  it('a migration edited after it was applied stops the run, naming the file', async () => {
    const edited = migrationFiles[1]!;
    await appendFile(join(dir, edited), '\n-- a later edit\n');
    await writeFile(join(dir, '9999_after_the_edit.sql'), 'create table alphadome.zz_after_edit (x int);\n');
    const err = await migrate(sql, { dir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'conflict' });
    expect((err as AppError).message).toContain(edited);
    expect((err as AppError).message).toMatch(/changed after it was applied/);
    // nothing after the edited file ran
    const [t] = await sql`select to_regclass('alphadome.zz_after_edit') as t`;
    expect(t!.t).toBeNull();
    await copyFile(join(migrationsDir, edited), join(dir, edited));
    await rm(join(dir, '9999_after_the_edit.sql'));
  });

  it('a failing migration rolls back whole, is not recorded, and releases the lock', async () => {
    await writeFile(
      join(dir, '9998_broken.sql'),
      'create table alphadome.zz_broken (x int);\ninsert into alphadome.zz_broken values (1);\nselect 1 / 0;\n',
    );
    await expect(migrate(sql, { dir })).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/^migration 9998_broken\.sql failed: division by zero/),
    });
    const [t] = await sql`select to_regclass('alphadome.zz_broken') as t`;
    expect(t!.t).toBeNull();
    const [ledger] = await sql`select count(*)::int as n from alphadome.schema_migrations where name = '9998_broken.sql'`;
    expect(ledger!.n).toBe(0);
    await rm(join(dir, '9998_broken.sql'));
    // the lock is free again: a new file applies
    await writeFile(join(dir, '9999_extra.sql'), 'create table alphadome.zz_extra (x int);\n');
    const result = await Promise.race([
      migrate(sql, { dir }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('migrate waited on a lock left behind')), 5_000)),
    ]);
    expect(result.applied).toEqual(['9999_extra.sql']);
  });

  it('runs on a pool of one connection (as under PGlite)', async () => {
    const one = createSql({ url: db.url, max: 1 });
    try {
      const result = await Promise.race([
        migrate(one, { dir }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('migrate deadlocked on a one-connection pool')), 5_000)),
      ]);
      expect(result.applied).toEqual([]);
    } finally {
      await one.end();
    }
  });
});
