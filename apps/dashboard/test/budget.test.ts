import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsage, withTenant } from '@alphadome/tenant-core';
import { firstOfNextMonth, formatDay } from '../src/budget.ts';
import { Client, seedTenant, startHarness, type Harness, type SeededTenant } from './helpers.ts';

let h: Harness;
let a: SeededTenant;
let owner: Client;

beforeAll(async () => {
  h = await startHarness();
  a = await seedTenant(h.db.sql, 'budget-a', '5000000001');
  owner = new Client(h.app);
  await owner.login(a.ownerEmail);
});
afterAll(async () => h?.close());

const USED_UP = 'Your monthly AI budget is used up';
const baseSettings = { fallbackMessage: 'f', handoverMessage: 'h' };
const setBudget = (value: string) => owner.post('/settings', { ...baseSettings, monthlyTokenBudget: value });
const storedBudget = async () =>
  (await withTenant(h.db.sql, a.id, (tx) => tx<{ monthly_token_budget: string | null }[]>`select monthly_token_budget from alphadome.bot_control_settings`))[0]
    ?.monthly_token_budget ?? null;

describe('monthly AI budget', () => {
  it('shows nothing without a budget, or well below it', async () => {
    for (const url of ['/home', '/usage']) expect((await owner.get(url)).body).not.toContain('budget-notice');
    expect((await setBudget('10 000')).statusCode).toBe(303);
    expect(await storedBudget()).toBe('10000');
    await withTenant(h.db.sql, a.id, (tx) => addUsage(tx, a.id, { prompt_tokens: 500, completion_tokens: 100 }));
    for (const url of ['/home', '/usage']) expect((await owner.get(url)).body).not.toContain('budget-notice');
    expect((await owner.get('/usage')).body).toContain('AI tokens this month: 600 of 10,000 (6 %)');
  });

  it('the owner sets the budget on the settings page; empty or 0 is no limit; nonsense is refused', async () => {
    const page = await owner.get('/settings');
    expect(page.body).toContain('name="monthlyTokenBudget"');
    expect(page.body).toContain('value="10000"');
    expect(page.body).toContain('600 used this month');
    const bad = await setBudget('lots');
    expect(new URL(String(bad.headers.location), 'http://x').searchParams.get('err')).toContain('Monthly AI budget');
    expect(await storedBudget()).toBe('10000');
    await setBudget('0');
    expect(await storedBudget()).toBeNull();
    await setBudget('');
    expect(await storedBudget()).toBeNull();
  });

  it('warns from 80 % with the percentage', async () => {
    await setBudget('1000');
    await withTenant(h.db.sql, a.id, (tx) => addUsage(tx, a.id, { prompt_tokens: 200, completion_tokens: 50 })); // 850 of 1000
    for (const url of ['/home', '/usage']) {
      const body = (await owner.get(url)).body;
      expect(body, url).toContain('You have used 85 % of this month');
      expect(body, url).toContain('Raise the budget in Settings');
      expect(body, url).not.toContain(USED_UP);
    }
  });

  it('says the bot answers from canned replies, catalog and FAQ only when an exhausted event exists this month', async () => {
    await withTenant(h.db.sql, a.id, (tx) => tx`
      insert into alphadome.bot_budget_events (tenant_id, month, kind, tokens_used, token_budget)
      values (${a.id}, date_trunc('month', (now() at time zone 'utc'))::date, 'exhausted', 1000, 1000)`);
    const until = formatDay(firstOfNextMonth());
    expect(until).toMatch(/^1 [A-Z][a-z]+ \d{4}$/);
    for (const url of ['/home', '/usage']) {
      const body = (await owner.get(url)).body;
      expect(body, url).toContain(`${USED_UP}:</strong> the bot answers from canned replies, catalog and FAQ only until ${until}.`);
      expect(body, url).toContain('href="/settings#monthlyTokenBudget">Raise the budget in Settings.');
      expect(body, url).not.toContain('You have used');
    }
  });

  it('an event of last month does not count, and raising the budget lifts the notice', async () => {
    await withTenant(h.db.sql, a.id, (tx) => tx`
      insert into alphadome.bot_budget_events (tenant_id, month, kind, tokens_used, token_budget)
      values (${a.id}, (date_trunc('month', (now() at time zone 'utc')) - interval '1 month')::date, 'exhausted', 1, 1)`);
    await setBudget('100000');
    for (const url of ['/home', '/usage']) expect((await owner.get(url)).body, url).not.toContain('budget-notice');
  });
});
