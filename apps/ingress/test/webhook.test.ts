import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inboundJobId, statusJobId } from '@alphadome/tenant-core';
import { fixtures, fixtureBuffer, type FixtureName } from '@alphadome/whatsapp/fixtures';
import { buildStatusWebhook, buildTextWebhook, buildWebhookObject, signBody, toMetaJson } from '@alphadome/whatsapp';
import {
  createTenant,
  expectIngressJobOptions,
  META_DISPLAY_PHONE,
  META_PHONE_NUMBER_ID,
  metricsText,
  metricValue,
  PLATFORM_SECRET,
  post,
  SECOND_PHONE_NUMBER_ID,
  startHarness,
  type Harness,
} from './helpers.ts';

let h: Harness;
let tenantA: string;
let tenantB: string;
let disabledTenant: string;
const DISABLED_PHONE_NUMBER_ID = '100000000000003';

beforeAll(async () => {
  h = await startHarness('webhook');
  tenantA = await createTenant(h.db.sql, { slug: 'kassangas', name: 'Kassangas Music Shop', phoneNumberId: META_PHONE_NUMBER_ID });
  tenantB = await createTenant(h.db.sql, { slug: 'second-shop', phoneNumberId: SECOND_PHONE_NUMBER_ID });
  disabledTenant = await createTenant(h.db.sql, { slug: 'paused-shop', phoneNumberId: DISABLED_PHONE_NUMBER_ID, active: false });
});

afterAll(async () => {
  await h?.close();
});

beforeEach(async () => {
  await h.drain();
});

/** wamids of the messages / (wamid, status) of the statuses in a fixture, read independently of the parser under test. */
function itemsOf(raw: string): { messages: { id: string; phoneNumberId: string }[]; statuses: { id: string; status: string; phoneNumberId: string }[] } {
  const body = JSON.parse(raw) as {
    entry: { changes: { field: string; value: { metadata?: { phone_number_id: string }; messages?: { id: string }[]; statuses?: { id: string; status: string }[] } }[] }[];
  };
  const messages: { id: string; phoneNumberId: string }[] = [];
  const statuses: { id: string; status: string; phoneNumberId: string }[] = [];
  for (const entry of body.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') continue;
      const phoneNumberId = change.value.metadata!.phone_number_id;
      for (const m of change.value.messages ?? []) messages.push({ id: m.id, phoneNumberId });
      for (const s of change.value.statuses ?? []) statuses.push({ id: s.id, status: s.status, phoneNumberId });
    }
  }
  return { messages, statuses };
}

const tenantOf = (phoneNumberId: string): string => (phoneNumberId === META_PHONE_NUMBER_ID ? tenantA : tenantB);

async function expectEnqueuedExactly(raw: string): Promise<void> {
  const { messages, statuses } = itemsOf(raw);
  const inbound = await h.jobs('inbound');
  const status = await h.jobs('status');
  expect(inbound.map((j) => j.id).sort()).toEqual(messages.map((m) => inboundJobId(tenantOf(m.phoneNumberId), m.id)).sort());
  const distinctStatuses = new Set(statuses.map((s) => statusJobId(tenantOf(s.phoneNumberId), s.id, s.status)));
  expect(status.map((j) => j.id).sort()).toEqual([...distinctStatuses].sort());
  for (const job of inbound) {
    expect(job.name).toBe('message');
    const m = messages.find((x) => x.id === job.data.wamid)!;
    expect(job.data.tenantId).toBe(tenantOf(m.phoneNumberId));
    expect(job.data.phoneNumberId).toBe(m.phoneNumberId);
    expect(job.data.message.id).toBe(m.id);
    expect(typeof job.data.receivedAt).toBe('number');
    expectIngressJobOptions(job.opts);
  }
  for (const job of status) {
    expect(job.name).toBe('status');
    expect(job.data.statusObj.id).toBe(job.data.wamid);
    expectIngressJobOptions(job.opts);
  }
}

describe("Meta's example payloads", () => {
  const single: FixtureName[] = [
    'text',
    'textEscaped',
    'image',
    'interactiveButtonReply',
    'interactiveListReply',
    'reaction',
    'location',
    'contacts',
    'unsupported',
    'statusSent',
    'statusDelivered',
    'statusRead',
    'statusFailed',
    'messageBsuid',
  ];

  it.each(single)('%s verifies and is enqueued once', async (name) => {
    const res = await post(h.app, fixtureBuffer(name));
    expect(res.statusCode).toBe(200);
    await expectEnqueuedExactly(fixtures[name]);
    expect((await h.jobs('inbound')).length + (await h.jobs('status')).length).toBeGreaterThan(0);
  });

  it('a batch of several entries with messages and statuses of two tenants: every item once, each to its tenant', async () => {
    const res = await post(h.app, fixtureBuffer('batch'));
    expect(res.statusCode).toBe(200);
    await expectEnqueuedExactly(fixtures.batch);
    expect(await h.jobs('inbound')).toHaveLength(4);
    expect(await h.jobs('status')).toHaveLength(3);
    const tenants = new Set((await h.jobs('inbound')).map((j) => j.data.tenantId));
    expect(tenants).toEqual(new Set([tenantA, tenantB]));
  });

  it('a non-messages change (template status update) is accepted with nothing to enqueue', async () => {
    const res = await post(h.app, fixtureBuffer('templateStatusUpdate'));
    expect(res.statusCode).toBe(200);
    expect(await h.jobs('inbound')).toHaveLength(0);
    expect(await h.jobs('status')).toHaveLength(0);
  });

  it('job data carries what the worker needs: text, sender, contact name, statuses with pricing and errors', async () => {
    await post(h.app, fixtureBuffer('text'));
    await post(h.app, fixtureBuffer('statusFailed'));
    await post(h.app, fixtureBuffer('statusDelivered'));
    const [msg] = await h.jobs('inbound');
    expect(msg!.data).toMatchObject({
      tenantId: tenantA,
      phoneNumberId: META_PHONE_NUMBER_ID,
      from: '16505551234',
      contactName: 'Sheena Nelson',
      fromBusiness: false,
      message: { type: 'text', text: { body: 'Does it come in another color?' } },
    });
    const statuses = await h.jobs('status');
    const failed = statuses.find((j) => j.data.status === 'failed')!;
    expect(failed.data.statusObj.errors[0].code).toBe(131047);
    expect(failed.data.recipientId).toBe('16505551234');
    const delivered = statuses.find((j) => j.data.status === 'delivered')!;
    expect(delivered.data.statusObj.pricing).toMatchObject({ category: 'service', pricing_model: 'PMP' });
  });
});

describe('raw bytes are what is signed', () => {
  it('a body with \\u00e4, \\/ and \\u0040 as Meta escapes them verifies, and decodes to the real text', async () => {
    const raw = fixtures.textEscaped;
    expect(raw).toContain('\\u00e4');
    expect(raw).toContain('\\/');
    expect(raw).toContain('\\u0040');
    const res = await post(h.app, Buffer.from(raw, 'utf8'));
    expect(res.statusCode).toBe(200);
    const [job] = await h.jobs('inbound');
    const body = (job!.data.message.text as { body: string }).body;
    expect(body).toContain('Hällo!');
    expect(body).toContain('gideon@example.com');
    expect(body).toContain('https://kassangas.example/gitaa');
    expect(body).toContain('🎸');
    expect(job!.data.contactName).toBe('Wanjirũ Kamau');
  });

  it('the same body re-serialised no longer matches the signature Meta sent (401)', async () => {
    const raw = fixtures.textEscaped;
    const reserialised = JSON.stringify(JSON.parse(raw));
    expect(reserialised).not.toBe(raw);
    const res = await post(h.app, reserialised, { signature: signBody(raw, PLATFORM_SECRET) });
    expect(res.statusCode).toBe(401);
    expect(await h.jobs('inbound')).toHaveLength(0);
  });

  it('a business-scoped user id (US.…) as sender is accepted', async () => {
    const raw = buildTextWebhook({
      phoneNumberId: META_PHONE_NUMBER_ID,
      displayPhoneNumber: META_DISPLAY_PHONE,
      from: 'US.13491208655302741918',
      wamid: 'wamid.BSUID-test-1',
      text: 'Habari',
      name: 'Amina',
    });
    const res = await post(h.app, raw);
    expect(res.statusCode).toBe(200);
    const [job] = await h.jobs('inbound');
    expect(job!.data.from).toBe('US.13491208655302741918');
    expect(job!.id).toBe(inboundJobId(tenantA, 'wamid.BSUID-test-1'));
  });

  it('the content type does not matter: the bytes are read raw and verified', async () => {
    const res = await post(h.app, fixtureBuffer('text'), { contentType: 'application/json; charset=utf-8' });
    expect(res.statusCode).toBe(200);
    expect(await h.jobs('inbound')).toHaveLength(1);
  });
});

describe('refused requests enqueue nothing', () => {
  const body = fixtures.text;
  const good = signBody(body, PLATFORM_SECRET);
  const hex = good.slice('sha256='.length);
  const cases: [string, string | undefined][] = [
    ['missing', undefined],
    ['empty', ''],
    ['malformed: no algorithm prefix', hex],
    ['malformed: sha1 prefix', `sha1=${hex}`],
    ['malformed: not hex', `sha256=${'z'.repeat(64)}`],
    ['wrong length: 63 hex digits', `sha256=${hex.slice(1)}`],
    ['wrong length: 66 hex digits', `sha256=${hex}00`],
    ['wrong secret', signBody(body, 'some-other-app-secret')],
    ['signature of another body', signBody(fixtures.image, PLATFORM_SECRET)],
    ['upper-case algorithm', `SHA256=${hex}`],
  ];

  it.each(cases)('signature %s → 401', async (_name, signature) => {
    const before = metricValue(await metricsText(h.app), 'alphadome_ingress_signature_failures_total');
    const res = await post(h.app, body, { signature });
    expect(res.statusCode).toBe(401);
    expect(await h.jobs('inbound')).toHaveLength(0);
    expect(await h.jobs('status')).toHaveLength(0);
    const after = metricValue(await metricsText(h.app), 'alphadome_ingress_signature_failures_total');
    expect(after).toBe(before + 1);
  });

  it('a body over 3 MiB → 413, whatever the signature', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 1, 0x20);
    const res = await post(h.app, big);
    expect(res.statusCode).toBe(413);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_requests_total', 'outcome="payload_too_large"')).toBeGreaterThan(0);
  });

  it('non-JSON with a valid signature → 400', async () => {
    for (const raw of ['not json {', '{"object":"whatsapp_business_account",', '', '\u0000\u0001']) {
      const res = await post(h.app, raw);
      expect(res.statusCode, JSON.stringify(raw)).toBe(400);
    }
    expect(await h.jobs('inbound')).toHaveLength(0);
  });

  it('JSON that is not a WhatsApp envelope, validly signed → 400, nothing enqueued, no crash', async () => {
    const bodies = [
      '{"hello":"world"}',
      '[]',
      'null',
      '"whatsapp_business_account"',
      '12',
      '{"object":"page","entry":[]}',
      '{"object":"whatsapp_business_account","entry":"nope"}',
      '{"object":"whatsapp_business_account","entry":[{"changes":[]}]}',
      '['.repeat(50_000) + ']'.repeat(50_000),
      '{"__proto__":{"polluted":true},"object":"whatsapp_business_account"}',
    ];
    for (const raw of bodies) {
      const res = await post(h.app, raw);
      expect(res.statusCode, raw.slice(0, 60)).toBe(400);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(await h.jobs('inbound')).toHaveLength(0);
    // still serving
    expect((await post(h.app, fixtures.text)).statusCode).toBe(200);
  });
});

describe('bodies we cannot store', () => {
  const deep = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);
  const textWith = (wamid: string, extra: string): string =>
    buildTextWebhook({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: META_DISPLAY_PHONE, from: '254711000111', wamid, text: 'x' }).replace(
      '"type":"text"',
      `"type":"text","x_extra":${extra}`,
    );

  it('a signed message nesting 10,000 levels deep → 400; a webhook sharing its batch → 200', async () => {
    const bad = textWith('wamid.deep-1', deep(10_000));
    const good = textWith('wamid.deep-neighbour', '1');
    const [a, b] = await Promise.all([post(h.app, bad), post(h.app, good)]);
    expect({ deep: a.statusCode, neighbour: b.statusCode }).toEqual({ deep: 400, neighbour: 200 });
    expect((await h.jobs('inbound')).map((j) => j.data.wamid)).toEqual(['wamid.deep-neighbour']);
  });

  it('brackets inside strings do not count as nesting; 50 more real levels are fine', async () => {
    const raw = textWith('wamid.deep-ok', `[${JSON.stringify('[{'.repeat(500))},${deep(50)}]`);
    expect((await post(h.app, raw)).statusCode).toBe(200);
    expect(await h.jobs('inbound')).toHaveLength(1);
  });
});

describe('dedupe, routing and tenants', () => {
  it('the same webhook delivered 5 times (in a row and at once) → one job per item', async () => {
    for (let i = 0; i < 5; i++) expect((await post(h.app, fixtureBuffer('batch'))).statusCode).toBe(200);
    const again = await Promise.all(Array.from({ length: 5 }, () => post(h.app, fixtureBuffer('batch'))));
    expect(again.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(await h.jobs('inbound')).toHaveLength(4);
    expect(await h.jobs('status')).toHaveLength(3);
    await expectEnqueuedExactly(fixtures.batch);
  });

  it('an unknown phone number id → 200 (Meta must not retry forever), nothing enqueued, counted', async () => {
    const before = metricValue(await metricsText(h.app), 'alphadome_ingress_unknown_phone_number_total');
    const raw = buildTextWebhook({ phoneNumberId: '999999999999999', displayPhoneNumber: '15550000000', from: '254700000001', wamid: 'wamid.unknown-1', text: 'hi' });
    const res = await post(h.app, raw);
    expect(res.statusCode).toBe(200);
    expect(await h.jobs('inbound')).toHaveLength(0);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_unknown_phone_number_total')).toBe(before + 1);
  });

  it("items of a disabled tenant are still enqueued (the worker decides not to reply)", async () => {
    const raw = buildTextWebhook({ phoneNumberId: DISABLED_PHONE_NUMBER_ID, displayPhoneNumber: '254700000003', from: '254700000009', wamid: 'wamid.disabled-1', text: 'anyone there?' });
    const res = await post(h.app, raw);
    expect(res.statusCode).toBe(200);
    const [job] = await h.jobs('inbound');
    expect(job!.data.tenantId).toBe(disabledTenant);
  });

  it('known and unknown numbers in one POST: the known ones are enqueued, 200', async () => {
    const obj = buildWebhookObject({
      phoneNumberId: META_PHONE_NUMBER_ID,
      displayPhoneNumber: META_DISPLAY_PHONE,
      messages: [{ from: '254711111111', id: 'wamid.mixed-known', timestamp: '1750000000', type: 'text', text: { body: 'a' } }],
    }) as { entry: unknown[] };
    const other = buildWebhookObject({
      phoneNumberId: '888888888888888',
      displayPhoneNumber: '15551111111',
      wabaId: '1999',
      messages: [{ from: '254711111112', id: 'wamid.mixed-unknown', timestamp: '1750000000', type: 'text', text: { body: 'b' } }],
    }) as { entry: unknown[] };
    obj.entry.push(...other.entry);
    const res = await post(h.app, toMetaJson(obj));
    expect(res.statusCode).toBe(200);
    const jobs = await h.jobs('inbound');
    expect(jobs.map((j) => j.data.wamid)).toEqual(['wamid.mixed-known']);
  });

  it('1,000 items in one POST: all enqueued, in one Redis round trip', async () => {
    const messages = Array.from({ length: 600 }, (_, i) => ({
      from: `2547${String(i).padStart(8, '0')}`,
      id: `wamid.bulk-${i}`,
      timestamp: '1750000000',
      type: 'text',
      text: { body: `message ${i}` },
    }));
    const statuses = Array.from({ length: 400 }, (_, i) => ({
      id: `wamid.out-${i}`,
      status: 'delivered',
      timestamp: '1750000000',
      recipient_id: `2547${String(i).padStart(8, '0')}`,
    }));
    const raw = toMetaJson(buildWebhookObject({ phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: META_DISPLAY_PHONE, messages, statuses }));
    const batchesBefore = metricValue(await metricsText(h.app), 'alphadome_ingress_enqueue_batch_jobs_count');
    const res = await post(h.app, raw);
    expect(res.statusCode).toBe(200);
    await h.settle();
    expect(await h.queues.inbound.count()).toBe(600);
    expect(await h.queues.status.count()).toBe(400);
    const batchesAfter = metricValue(await metricsText(h.app), 'alphadome_ingress_enqueue_batch_jobs_count');
    expect(batchesAfter - batchesBefore).toBe(1);
  });

  it('a malformed message inside a good envelope is skipped and counted; the rest is enqueued', async () => {
    const raw = toMetaJson(
      buildWebhookObject({
        phoneNumberId: META_PHONE_NUMBER_ID,
        displayPhoneNumber: META_DISPLAY_PHONE,
        messages: [
          { from: '254711111111', id: 'wamid.good-1', timestamp: '1750000000', type: 'text', text: { body: 'ok' } },
          { from: '254711111111', timestamp: '1750000000', type: 'text', text: { body: 'no id' } },
        ],
      }),
    );
    const before = metricValue(await metricsText(h.app), 'alphadome_ingress_invalid_items_total');
    const res = await post(h.app, raw);
    expect(res.statusCode).toBe(200);
    expect((await h.jobs('inbound')).map((j) => j.data.wamid)).toEqual(['wamid.good-1']);
    expect(metricValue(await metricsText(h.app), 'alphadome_ingress_invalid_items_total')).toBe(before + 1);
  });

  it('a status for each transition is its own job; a redelivered transition is not', async () => {
    const base = { phoneNumberId: META_PHONE_NUMBER_ID, displayPhoneNumber: META_DISPLAY_PHONE, wamid: 'wamid.out-transitions', recipientId: '254700000001' };
    for (const status of ['sent', 'delivered', 'read', 'read'] as const) {
      expect((await post(h.app, buildStatusWebhook({ ...base, status }))).statusCode).toBe(200);
    }
    const jobs = await h.jobs('status');
    expect(jobs.map((j) => j.data.status).sort()).toEqual(['delivered', 'read', 'sent']);
  });
});
