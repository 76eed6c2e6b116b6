/**
 * The webhook path parses with parseWebhookLean (core schemas per message/status, objects kept as
 * Meta sent them). It must accept and refuse exactly what parseWebhook (the full schemas) does:
 * same verdict on the envelope, the same items in the same order with the same routing fields,
 * the same invalid-item count and problems. Checked on Meta's example payloads and on thousands
 * of seeded mutations of them (wrong types, dropped keys, odd values in every position).
 */
import { describe, expect, it } from 'vitest';
import { fixtures } from '@alphadome/whatsapp/fixtures';
import { parseWebhook, parseWebhookLean, type WebhookItem, type WebhookLeanItem } from '@alphadome/whatsapp';
import { createRng } from '@alphadome/testkit';


/** What routing and the jobs take from an item (the message/status object itself aside). */
function summary(item: WebhookItem | WebhookLeanItem): Record<string, unknown> {
  const { message: _m, statusObj: _s, ...rest } = item as WebhookItem & { message?: unknown; statusObj?: unknown };
  return rest;
}

function expectSameVerdict(json: unknown): void {
  const full = parseWebhook(json);
  const lean = parseWebhookLean(json);
  expect(lean.ok).toBe(full.ok);
  if (!full.ok || !lean.ok) {
    expect(lean).toEqual(full);
    return;
  }
  expect(lean.items.map(summary)).toEqual(full.items.map(summary));
  expect({ invalid: lean.invalidItems, problems: lean.problems, ignored: lean.ignoredChanges }).toEqual({
    invalid: full.invalidItems,
    problems: full.problems,
    ignored: full.ignoredChanges,
  });
  // the lean items carry the objects exactly as received
  const raw = JSON.stringify(json);
  for (const item of lean.items) {
    const obj = item.kind === 'message' ? item.message : item.statusObj;
    expect(raw).toContain(JSON.stringify(obj));
  }
}

const WRONG: unknown[] = [null, 0, -1, 1.5, '', 'x', true, [], {}, [[]], { a: 1 }, '1750000000', 1750000000, 'US.123', 'wamid.x'];

function mutate(value: unknown, rng: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => (nodes.push({ parent: v, key: i }), walk(x)));
    else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) nodes.push({ parent: v as Record<string, unknown>, key: k }), walk((v as Record<string, unknown>)[k]);
  };
  walk(copy);
  for (let n = 1 + Math.floor(rng() * 3); n > 0 && nodes.length > 0; n--) {
    const { parent, key } = nodes[Math.floor(rng() * nodes.length)]!;
    if (!Array.isArray(parent) && rng() < 0.25) delete parent[key as string];
    else (parent as Record<string | number, unknown>)[key] = WRONG[Math.floor(rng() * WRONG.length)];
  }
  return copy;
}

describe('parseWebhookLean ≡ parseWebhook (accepts and refuses the same)', () => {
  const bodies = Object.entries(fixtures).map(([name, raw]) => [name, JSON.parse(raw) as unknown] as const);

  it.each(bodies)('%s', (_name, json) => {
    expectSameVerdict(json);
  });

  it('on 5,000 seeded mutations of the example payloads', () => {
    const rng = createRng(20250619);
    for (let i = 0; i < 5_000; i++) {
      const [, json] = bodies[Math.floor(rng() * bodies.length)]!;
      expectSameVerdict(mutate(json, rng));
    }
  });
});
