import { createLogger, createSql, Keyring, loadConfigOrExit } from '@alphadome/tenant-core';
import { buildDashboard } from './app.ts';

const config = loadConfigOrExit(['DATABASE_URL']);
const logger = createLogger('dashboard', config.LOG_LEVEL);
// The Postgres driver can leave a promise rejected with no handler when the server cuts a
// connection (the query in flight has already failed and its job will retry): log it instead of
// letting Node end the process. Thrown exceptions still end it.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection; still running'));
const sql = createSql({
  url: config.DATABASE_URL,
  prepare: config.DATABASE_PREPARE === 'true',
  max: config.DATABASE_POOL_MAX,
  name: 'alphadome-dashboard',
});
const app = await buildDashboard({
  sql,
  redisUrl: config.REDIS_URL,
  queuePrefix: config.QUEUE_PREFIX,
  ...(config.ENCRYPTION_KEYS ? { keyring: Keyring.fromSpec(config.ENCRYPTION_KEYS) } : {}),
  logger,
  ...(config.PUBLIC_DASHBOARD_URL ? { publicUrl: config.PUBLIC_DASHBOARD_URL } : {}),
  ...(config.SUPABASE_URL && config.SUPABASE_ANON_KEY ? { supabase: { url: config.SUPABASE_URL, anonKey: config.SUPABASE_ANON_KEY } } : {}),
});
await app.listen({ port: config.DASHBOARD_PORT, host: config.HOST });
logger.info({ port: config.DASHBOARD_PORT }, 'dashboard listening');

let closing = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'closing');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app
      .close()
      .then(() => sql.end({ timeout: 5 }))
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      });
  });
}
