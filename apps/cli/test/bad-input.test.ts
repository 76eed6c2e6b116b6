import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, redisUrl, TEST_KEYRING_SPEC, type TestDatabase } from '@alphadome/testkit/database';
import { createHarness, expectFailure, type Harness } from './cli-harness.ts';

/** Mistakes an operator makes: one line on stderr, a non-zero exit, and nothing changed. */
let db: TestDatabase;
let h: Harness;

async function snapshot() {
  const [counts] = await db.sql<{ tenants: string; faq: string; secrets: string; templates: string; users: string; audit: string }[]>`
    select (select count(*) from alphadome.bot_tenants) as tenants,
           (select count(*) from alphadome.bot_training_data) as faq,
           (select count(*) from alphadome.bot_tenant_secrets) as secrets,
           (select count(*) from alphadome.bot_templates) as templates,
           (select count(*) from alphadome.dashboard_users) as users,
           (select count(*) from alphadome.bot_audit_log) as audit`;
  const tenants = await db.sql`select slug, client_name, credential_status, whatsapp_phone_number_id, updated_at from alphadome.bot_tenants order by slug`;
  return { counts, tenants };
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await createHarness({ DATABASE_URL: db.url, REDIS_URL: redisUrl(), ENCRYPTION_KEYS: TEST_KEYRING_SPEC, QUEUE_PREFIX: 'cli-bad-input' });
  await h.json(['tenant', 'create', '--slug', 'kassangas', '--name', 'Kassangas Music Shop', '--phone-number-id', '106540352242922']);
  await h.json(['faq', 'add', 'kassangas', '--question', 'Where are you?', '--answer', 'Moi Avenue.']);
});

afterAll(async () => {
  await h?.cleanup();
  await db?.drop();
});

describe('alphadome CLI: bad input changes nothing', () => {
  it('unknown tenants, bad values, duplicates, missing files', { timeout: 120_000 }, async () => {
    const before = await snapshot();
    const token = await h.file('token.txt', 'EAAGvalidlookingtoken\n');
    const empty = await h.file('empty.txt', '\n');
    const good = await h.file('good.csv', 'question,answer\nOpen on Sunday?,No.\n');
    const runs = await Promise.all([
      h.cli(['tenant', 'show', 'ghost']),
      h.inProcess(['tenant', 'set-credentials', 'ghost', '--whatsapp-token-file', token]),
      h.inProcess(['faq', 'import', 'ghost', good]),
      h.inProcess(['template', 'add', 'ghost', '--name', 'hours', '--triggers', 'hours', '--body', 'x']),
      h.inProcess(['tenant', 'disable', 'ghost', '--json']),
      h.cli(['tenant', 'create', '--slug', 'Kassangas Shop', '--name', 'X', '--phone-number-id', '123456789']),
      h.cli(['tenant', 'create', '--slug', 'kassangas', '--name', 'Again', '--phone-number-id', '123456789']),
      h.inProcess(['tenant', 'create', '--slug', 'other', '--name', 'Other', '--phone-number-id', '106540352242922']),
      h.inProcess(['tenant', 'create', '--slug', 'other', '--name', 'Other', '--phone-number-id', '12ab']),
      h.inProcess(['tenant', 'create', '--slug', 'other', '--name', 'Other', '--phone-number-id', '123456789', '--display-phone', '0702245555']),
      h.inProcess(['tenant', 'create', '--slug', 'other', '--name', 'Other']),
      h.cli(['tenant', 'set-credentials', 'kassangas', '--whatsapp-token-file', `${h.dir}/missing.txt`]),
      h.inProcess(['tenant', 'set-credentials', 'kassangas', '--whatsapp-token-file', token, '--openai-key-file', empty]),
      h.inProcess(['tenant', 'set-credentials', 'kassangas', '--whatsapp-token-file', token, '--token-expires-at', 'next year']),
      h.inProcess(['tenant', 'set-credentials', 'kassangas']),
      h.inProcess(['tenant', 'update', 'kassangas']),
      h.inProcess(['tenant', 'update', 'kassangas', '--send-rate', 'fast']),
      h.inProcess(['tenant', 'update', 'kassangas', '--bot', 'maybe']),
      h.inProcess(['template', 'add', 'kassangas', '--name', 'hours', '--body', 'no triggers']),
      h.inProcess(['user', 'create', '--email', 'gideon@kassangas.example', '--role', 'owner', '--password-file', token]),
      h.inProcess(['user', 'create', '--email', 'op@alphadome.example', '--role', 'operator', '--password-file', empty]),
      h.inProcess(['user', 'set-password', '--email', 'nobody@alphadome.example', '--password-file', token]),
      h.cli(['nonsense']),
    ]);
    const expected: [number, string | RegExp][] = [
      [1, 'tenant "ghost" not found'],
      [1, 'tenant "ghost" not found'],
      [1, 'tenant "ghost" not found'],
      [1, 'tenant "ghost" not found'],
      [1, 'tenant "ghost" not found'],
      [2, /^alphadome: --slug: must be 1-63 lowercase letters/],
      [1, 'tenant "kassangas" already exists'],
      [1, 'phone number id 106540352242922 already belongs to another tenant'],
      [2, /^alphadome: --phone-number-id: must be the numeric phone number id/],
      [2, /^alphadome: --display-phone: must be an E\.164 phone number/],
      [2, "required option '--phone-number-id <id>' not specified"],
      [1, `--whatsapp-token-file: cannot read ${h.dir}/missing.txt: no such file`],
      [1, `--openai-key-file: ${empty} is empty`],
      [2, /^alphadome: --token-expires-at: must be an ISO 8601 date-time/],
      [2, /^alphadome: give at least one of --whatsapp-token-file/],
      [2, 'nothing to update; see alphadome tenant update --help'],
      [2, '--send-rate: must be a whole number, got "fast"'],
      [2, /^alphadome: option '--bot <state>' argument 'maybe' is invalid/],
      [2, '--triggers: a canned reply needs at least one trigger'],
      [2, '--tenant: an owner belongs to a tenant; give --tenant <slug>'],
      [1, `--password-file: ${empty} is empty`],
      [1, 'user "nobody@alphadome.example" not found'],
      [2, "unknown command 'nonsense'"],
    ];
    runs.forEach((run, i) => expectFailure(run, expected[i]![0], expected[i]![1]));
    for (const run of runs) expect(run.stderr).not.toMatch(/\n\s+at /); // no stack traces
    expect(await snapshot()).toEqual(before);
  });

  it('a malformed FAQ file names FILE:LINE, exits 1, and imports nothing', { timeout: 60_000 }, async () => {
    const before = await snapshot();
    const emptyAnswer = await h.file('empty-answer.csv', 'question,answer\nOpen on Sunday?,No.\nDo you sell drums?,Yes.\nWhat about violins?,\nLast,One\n');
    const extraField = await h.file('extra.csv', 'question,answer,language\n"Multi\nline?",Yes,en\nA,B,en,extra\n');
    const badLanguage = await h.file('lang.csv', 'question,answer,language\nA,B,english\n');
    const badHeader = await h.file('header.csv', 'q,a\nA,B\n');
    const unclosed = await h.file('quote.csv', 'question,answer\nA,B\n"C,D\n');
    const badJson = await h.file('bad.json', '[\n  {"question": "A", "answer": "B"},\n  {"question": "C"}\n]\n');
    const brokenJson = await h.file('broken.json', '[\n  {"question": "A", "answer": "B"},\n  {"question": "C" "answer": "D"}\n]\n');
    const other = await h.file('faq.txt', 'question,answer\nA,B\n');
    const runs = await Promise.all(
      [emptyAnswer, extraField, badLanguage, badHeader, unclosed, badJson, brokenJson, other].map((f, i) =>
        (i === 0 ? h.cli : h.inProcess)(['faq', 'import', 'kassangas', f]),
      ),
    );
    const expected: (string | RegExp)[] = [
      `${emptyAnswer}:4: answer is empty`,
      `${extraField}:4: expected 3 fields (question,answer,language), got 4`,
      `${badLanguage}:2: language must be a language code such as en, sw or en_US`,
      `${badHeader}:1: the header must name the columns question,answer[,language]; "question" is missing`,
      new RegExp(`^alphadome: ${unclosed}:3: invalid CSV: Quote Not Closed`),
      `${badJson}:3: answer is missing`,
      new RegExp(`^alphadome: ${brokenJson}:3: invalid JSON`),
      `${other}: unknown file type; use a .csv or .json file`,
    ];
    runs.forEach((run, i) => expectFailure(run, 1, expected[i]!));
    expect(await snapshot()).toEqual(before);
  });

  it('a missing database or schema is one line too', { timeout: 60_000 }, async () => {
    const unmigrated = await createTestDatabase({ empty: true });
    try {
      const [noSchema, badUrl, noDb] = await Promise.all([
        h.cli(['tenant', 'list'], { env: { DATABASE_URL: unmigrated.url } }),
        h.inProcess(['tenant', 'list'], { env: { DATABASE_URL: 'mysql://nope' } }),
        h.inProcess(['tenant', 'list'], { env: { DATABASE_URL: '' } }),
      ]);
      expectFailure(noSchema, 1, /run: alphadome migrate\)$/);
      expectFailure(badUrl, 1, /^alphadome: invalid environment: DATABASE_URL: must be a URL starting with postgres:/);
      expectFailure(noDb, 1, 'invalid environment: DATABASE_URL: is required but not set');
    } finally {
      await unmigrated.drop();
    }
  });
});
