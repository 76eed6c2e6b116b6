import postgres from 'postgres';
import { createSql, Keyring, migrate } from '@alphadome/tenant-core';
import { adminUrl, databaseUrl, redisUrl, TEST_KEYRING_SPEC, templateDatabaseName } from '@alphadome/testkit/database';

/** Once per `vitest run`: check the services and migrate the template database every test file clones. */
export default async function setup(): Promise<() => Promise<void>> {
  adminUrl();
  redisUrl();
  const name = `alphadome_test_template_${process.pid}`;
  process.env.ALPHADOME_TEST_TEMPLATE_DB = name;
  process.env.ALPHADOME_TEST_RUN = String(process.pid);
  process.env.ENCRYPTION_KEYS ??= TEST_KEYRING_SPEC;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const sql = createSql({ url: databaseUrl(name), max: 2 });
  try {
    await migrate(sql, { keyring: Keyring.fromSpec(TEST_KEYRING_SPEC) });
  } finally {
    await sql.end();
  }
  return async () => {
    await admin.unsafe(`drop database if exists ${templateDatabaseName()} with (force)`);
    // databases of test files that crashed before their afterAll
    const stale = await admin<{ datname: string }[]>`select datname from pg_database where datname like ${`adt_${process.pid}_%`}`;
    for (const { datname } of stale) {
      if (/^adt_\d+_[0-9a-f]{8}$/.test(datname)) await admin.unsafe(`drop database if exists ${datname} with (force)`);
    }
    await admin.end();
  };
}
