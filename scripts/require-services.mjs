// `npm test` needs a real Postgres and Redis. Say so clearly instead of skipping tests.
const missing = ['DATABASE_URL', 'REDIS_URL'].filter((k) => !process.env[k]);
if (missing.length > 0) {
  console.error(
    `npm test: ${missing.join(' and ')} not set. The suite runs against real services, e.g.\n` +
      '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 npm test\n' +
      '(a superuser URL: tests create and drop their own databases). .ci/run starts both and sets them.',
  );
  process.exit(1);
}
