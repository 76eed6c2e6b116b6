import { describe, expect, it } from 'vitest';
import {
  parseWebhook,
  countItems,
  webhookEnvelopeSchema,
  type WebhookItem,
  type WebhookMessageItem,
  type WebhookStatusItem,
} from '../src/index.ts';
import { fixtures, type FixtureName } from './fixtures/index.ts';

function parseFixture(name: FixtureName) {
  const result = parseWebhook(JSON.parse(fixtures[name]));
  if (!result.ok) throw new Error(`fixture ${name} did not parse: ${result.error}`);
  return result;
}
function onlyMessage(name: FixtureName): WebhookMessageItem {
  const { items } = parseFixture(name);
  expect(items).toHaveLength(1);
  const item = items[0] as WebhookItem;
  expect(item.kind).toBe('message');
  return item as WebhookMessageItem;
}
function onlyStatus(name: FixtureName): WebhookStatusItem {
  const { items } = parseFixture(name);
  expect(items).toHaveLength(1);
  const item = items[0] as WebhookItem;
  expect(item.kind).toBe('status');
  return item as WebhookStatusItem;
}

describe('parseWebhook: Meta documented payloads', () => {
  it('every fixture also passes the strict envelope schema', () => {
    for (const name of Object.keys(fixtures) as FixtureName[]) {
      const r = webhookEnvelopeSchema.safeParse(JSON.parse(fixtures[name]));
      expect(r.success, name).toBe(true);
    }
  });

  it('text', () => {
    const item = onlyMessage('text');
    expect(item).toMatchObject({
      kind: 'message',
      phoneNumberId: '106540352242922',
      displayPhoneNumber: '15550783881',
      wabaId: '102290129340398',
      wamid: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
      dedupeKey: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
      from: '16505551234',
      contactName: 'Sheena Nelson',
      fromBusiness: false,
      timestamp: 1749416383,
    });
    expect(item.message.type).toBe('text');
    expect(item.message.text?.body).toBe('Does it come in another color?');
  });

  it('Meta-escaped text decodes to the real characters', () => {
    const item = onlyMessage('textEscaped');
    expect(item.contactName).toBe('Wanjirũ Kamau');
    expect(item.message.text?.body).toBe(
      'Hällo! Is the Yamaha C40 guitar in stock? Reply to gideon@example.com or see https://kassangas.example/gitaa — asante 🎸',
    );
  });

  it('image', () => {
    const item = onlyMessage('image');
    expect(item.message.type).toBe('image');
    expect(item.message.image).toMatchObject({
      id: '1003383421387256',
      mime_type: 'image/jpeg',
      caption: 'Is this guitar still available?',
    });
  });

  it('interactive button_reply with context', () => {
    const item = onlyMessage('interactiveButtonReply');
    expect(item.message.interactive?.type).toBe('button_reply');
    expect(item.message.interactive?.button_reply).toEqual({ id: 'cancel-subscription', title: 'Cancel subscription' });
    expect(item.message.context?.id).toBe('wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDMzE2RTUzQUIzNTM3MzJGOEMA');
  });

  it('interactive list_reply', () => {
    const item = onlyMessage('interactiveListReply');
    expect(item.message.interactive?.list_reply).toEqual({
      id: 'priority_express',
      title: 'Express Shipping',
      description: 'Next Day to 2 Days',
    });
  });

  it('reaction', () => {
    const item = onlyMessage('reaction');
    expect(item.message.reaction).toEqual({
      message_id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA',
      emoji: '👍',
    });
  });

  it('location', () => {
    const item = onlyMessage('location');
    expect(item.message.location).toMatchObject({ latitude: 37.483307, longitude: -122.148981, name: 'Main Street Beach' });
  });

  it('contacts message keeps the whole vCard-like object', () => {
    const item = onlyMessage('contacts');
    const card = item.message.contacts?.[0] as Record<string, unknown>;
    expect(card['emails']).toEqual([{ email: 'bjohnson@luckyshrub.com', type: 'WORK' }]);
    expect((card['name'] as Record<string, unknown>)['formatted_name']).toBe('Barbara J. Johnson');
  });

  it('unsupported message is still an item, with its errors', () => {
    const item = onlyMessage('unsupported');
    expect(item.message.type).toBe('unsupported');
    expect(item.message.errors?.[0]).toMatchObject({ code: 131051, title: 'Message type unknown' });
    expect(item.message.unsupported).toEqual({ type: 'edit' });
  });

  it('statuses sent / delivered / read with conversation and pricing', () => {
    const sent = onlyStatus('statusSent');
    expect(sent).toMatchObject({
      kind: 'status',
      status: 'sent',
      wamid: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA',
      dedupeKey: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA:sent',
      recipientId: '16505551234',
      phoneNumberId: '106540352242922',
      wabaId: '102290129340398',
    });
    expect(sent.statusObj.conversation?.origin?.type).toBe('service');
    expect(sent.statusObj.pricing).toMatchObject({ billable: false, pricing_model: 'PMP', category: 'service' });

    expect(onlyStatus('statusDelivered').dedupeKey).toMatch(/:delivered$/);
    expect(onlyStatus('statusRead').status).toBe('read');
  });

  it('failed status carries Meta errors', () => {
    const failed = onlyStatus('statusFailed');
    expect(failed.status).toBe('failed');
    expect(failed.statusObj.errors?.[0]).toMatchObject({
      code: 131047,
      title: 'Re-engagement message',
      error_data: { details: expect.stringContaining('24 hours') },
    });
  });

  it('message from a business-scoped user id (from_user_id, no phone)', () => {
    const item = onlyMessage('messageBsuid');
    expect(item.from).toBe('US.13491208655302741918');
    expect(item.fromUserId).toBe('US.13491208655302741918');
    expect(item.contactName).toBe('Sheena Nelson');
    expect(item.username).toBe('@sheena');
    expect(item.fromBusiness).toBe(false);
  });

  it('a `from` that is itself a business-scoped id is accepted', () => {
    const body = JSON.parse(fixtures.text);
    body.entry[0].changes[0].value.messages[0].from = 'US.13491208655302741918';
    body.entry[0].changes[0].value.contacts[0] = { profile: { name: 'X' }, user_id: 'US.13491208655302741918' };
    const r = parseWebhook(body);
    expect(r.ok && r.items[0]?.kind === 'message' && r.items[0].from).toBe('US.13491208655302741918');
  });

  it('non-messages fields are ignored changes, not errors', () => {
    const r = parseFixture('templateStatusUpdate');
    expect(r.items).toEqual([]);
    expect(r.ignoredChanges).toBe(1);
    expect(r.invalidItems).toBe(0);
  });

  it('batch: every entry × change × message and status, in order', () => {
    const r = parseFixture('batch');
    expect(r.ignoredChanges).toBe(1);
    expect(r.invalidItems).toBe(0);
    expect(r.items.map((i) => [i.kind, i.phoneNumberId, i.wabaId])).toEqual([
      ['message', '106540352242922', '102290129340398'],
      ['message', '106540352242922', '102290129340398'],
      ['status', '106540352242922', '102290129340398'],
      ['status', '106540352242922', '102290129340398'],
      ['message', '110200345678901', '109876543210987'],
      ['status', '110200345678901', '109876543210987'],
      ['message', '110200345678901', '109876543210987'],
    ]);
    const messages = r.items.filter((i): i is WebhookMessageItem => i.kind === 'message');
    expect(messages.map((m) => m.contactName)).toEqual(['Sheena Nelson', 'Otieno Odhiambo', 'Achieng', undefined]);
    expect(messages.map((m) => m.fromBusiness)).toEqual([false, false, false, true]);
    const statuses = r.items.filter((i): i is WebhookStatusItem => i.kind === 'status');
    // Same wamid, two transitions: two distinct dedupe keys.
    expect(new Set(statuses.map((s) => s.dedupeKey)).size).toBe(3);
    expect(countItems(JSON.parse(fixtures.batch))).toBe(7);
  });

  it('a message from the business number is flagged even when formatted differently', () => {
    const body = JSON.parse(fixtures.text);
    body.entry[0].changes[0].value.metadata.display_phone_number = '+1 555-078-3881';
    body.entry[0].changes[0].value.messages[0].from = '15550783881';
    const r = parseWebhook(body);
    expect(r.ok && r.items[0]?.kind === 'message' && r.items[0].fromBusiness).toBe(true);
  });
});

describe('parseWebhook: permissive about the unknown, strict about what we rely on', () => {
  it('keeps unknown fields and unknown message types', () => {
    const body = JSON.parse(fixtures.text);
    const msg = body.entry[0].changes[0].value.messages[0];
    msg.type = 'hologram';
    msg.hologram = { frames: 3 };
    msg.some_new_field = { nested: true };
    delete msg.text;
    body.entry[0].changes[0].value.new_value_field = 1;
    const r = parseWebhook(body);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const item = r.items[0] as WebhookMessageItem;
    expect(item.message.type).toBe('hologram');
    expect((item.message as Record<string, unknown>)['hologram']).toEqual({ frames: 3 });
    expect((item.message as Record<string, unknown>)['some_new_field']).toEqual({ nested: true });
  });

  it('a malformed per-type object degrades to undefined, the message still comes through', () => {
    const body = JSON.parse(fixtures.location);
    body.entry[0].changes[0].value.messages[0].location = { latitude: 'north' };
    const r = parseWebhook(body);
    expect(r.ok && r.items.length).toBe(1);
    if (!r.ok) return;
    const item = r.items[0] as WebhookMessageItem;
    expect(item.message.type).toBe('location');
    expect(item.message.location).toBeUndefined();
  });

  it('a message without id, sender, timestamp or type is left out and counted; the rest passes', () => {
    for (const breakIt of [
      (m: Record<string, unknown>) => delete m['id'],
      (m: Record<string, unknown>) => delete m['from'],
      (m: Record<string, unknown>) => (m['from'] = 16505551234),
      (m: Record<string, unknown>) => delete m['timestamp'],
      (m: Record<string, unknown>) => (m['timestamp'] = 'yesterday'),
      (m: Record<string, unknown>) => delete m['type'],
      (m: Record<string, unknown>) => (m['id'] = ''),
    ]) {
      const body = JSON.parse(fixtures.batch);
      breakIt(body.entry[0].changes[0].value.messages[1]);
      const r = parseWebhook(body);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.items).toHaveLength(6);
      expect(r.invalidItems).toBe(1);
      expect(r.problems[0]).toMatch(/^entry\.0\.changes\.0\.value\.messages\.1/);
    }
  });

  it('a status without recipient is left out and counted', () => {
    const body = JSON.parse(fixtures.statusSent);
    delete body.entry[0].changes[0].value.statuses[0].recipient_id;
    const r = parseWebhook(body);
    expect(r.ok && r.items.length).toBe(0);
    expect(r.ok && r.invalidItems).toBe(1);
  });

  it('a status addressed by recipient_user_id is accepted', () => {
    const body = JSON.parse(fixtures.statusSent);
    const s = body.entry[0].changes[0].value.statuses[0];
    delete s.recipient_id;
    s.recipient_user_id = 'US.13491208655302741918';
    const r = parseWebhook(body);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.items[0]).toMatchObject({ kind: 'status', recipientId: 'US.13491208655302741918', recipientUserId: 'US.13491208655302741918' });
  });

  it('a messages change without metadata.phone_number_id is counted invalid', () => {
    const body = JSON.parse(fixtures.batch);
    delete body.entry[1].changes[0].value.metadata.phone_number_id;
    const r = parseWebhook(body);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.items).toHaveLength(5);
    expect(r.invalidItems).toBe(1);
    expect(r.problems[0]).toContain('entry.1.changes.0.value.metadata');
  });

  it('problems never echo values from the body', () => {
    const body = JSON.parse(fixtures.text);
    body.entry[0].changes[0].value.messages[0].id = { secret: 'SECRET-VALUE-123' };
    body.entry[0].changes[0].value.messages[0].from = 'SECRET-VALUE-123'.repeat(1000);
    const r = parseWebhook(body);
    expect(JSON.stringify(r)).not.toContain('SECRET-VALUE-123');
  });
});

describe('parseWebhook never throws', () => {
  it('rejects non-envelopes with a short message that does not echo the body', () => {
    const marker = 'ECHO-MARKER-9f2';
    const inputs: unknown[] = [
      null,
      undefined,
      0,
      marker,
      [marker],
      { object: marker },
      { object: 'page', entry: [] },
      { object: 'whatsapp_business_account' },
      { object: 'whatsapp_business_account', entry: marker },
      { object: 'whatsapp_business_account', entry: [{ id: marker }] },
      { object: 'whatsapp_business_account', entry: [{ id: 5, changes: [] }] },
      { object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ value: marker }] }] },
    ];
    for (const input of inputs) {
      const r = parseWebhook(input);
      expect(r.ok, JSON.stringify(input)).toBe(false);
      if (r.ok) continue;
      expect(r.error.length).toBeLessThanOrEqual(200);
      expect(r.error).not.toContain(marker);
    }
  });

  it('an empty entry list is a valid, empty batch', () => {
    expect(parseWebhook({ object: 'whatsapp_business_account', entry: [] })).toEqual({
      ok: true,
      items: [],
      ignoredChanges: 0,
      invalidItems: 0,
      problems: [],
    });
  });

  it('survives 1,000 random junk values (seeded)', () => {
    // mulberry32: deterministic so a failure reproduces.
    let seed = 0x5eed1234;
    const rand = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const keys = ['object', 'entry', 'id', 'changes', 'field', 'value', 'messages', 'statuses', 'metadata',
      'phone_number_id', 'display_phone_number', 'from', 'from_user_id', 'timestamp', 'type', 'text', 'body',
      'status', 'recipient_id', 'contacts', 'profile', 'name', 'wa_id', 'errors', 'code', '__proto__', 'constructor'];
    const junk = (depth: number): unknown => {
      const r = rand();
      if (depth > 6 || r < 0.25) {
        return pick<unknown>([null, undefined, true, false, 0, -1, 1e308, NaN, '', 'messages',
          'whatsapp_business_account', 'whatsapp', 'x'.repeat(Math.floor(rand() * 5000)), '\u0000\ud800',
          BigInt(7), Symbol('s'), () => 1, new Date(), /re/]);
      }
      if (r < 0.5) return Array.from({ length: Math.floor(rand() * 5) }, () => junk(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = 0, n = Math.floor(rand() * 6); i < n; i++) {
        // Own properties, as JSON.parse makes them (so "__proto__" is a plain key, not a setter).
        Object.defineProperty(o, pick(keys), { value: junk(depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    };
    const mutate = (base: unknown, depth = 0): unknown => {
      if (depth > 8 || rand() < 0.15) return junk(depth);
      if (Array.isArray(base)) return base.map((x) => mutate(x, depth + 1));
      if (base && typeof base === 'object') {
        const o: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(base)) if (rand() > 0.1) o[k] = mutate(v, depth + 1);
        return o;
      }
      return base;
    };
    const bases = Object.values(fixtures).map((s) => JSON.parse(s));
    let deep: unknown = { object: 'whatsapp_business_account', entry: [] };
    for (let i = 0; i < 10_000; i++) deep = { entry: [deep] };

    const inputs: unknown[] = [deep, new Proxy({}, { get() { throw new Error('boom'); } })];
    for (let i = 0; i < 1000; i++) inputs.push(i % 2 === 0 ? junk(0) : mutate(pick(bases)));

    let ok = 0;
    for (const input of inputs) {
      const r = parseWebhook(input);
      expect(typeof r.ok).toBe('boolean');
      if (r.ok) {
        ok++;
        for (const item of r.items) {
          expect(typeof item.wamid).toBe('string');
          expect(item.dedupeKey.length).toBeGreaterThan(0);
          if (item.kind === 'message') expect(typeof item.from).toBe('string');
        }
      } else {
        expect(r.error.length).toBeLessThanOrEqual(200);
      }
      expect(() => countItems(input)).not.toThrow();
    }
    // The mutations keep some envelopes intact, so both branches were exercised.
    expect(ok).toBeGreaterThan(20);
  });

  it('handles a 1,000-item batch', () => {
    const body = JSON.parse(fixtures.text);
    const value = body.entry[0].changes[0].value;
    const template = value.messages[0];
    value.messages = Array.from({ length: 1000 }, (_, i) => ({ ...template, id: `wamid.${i}` }));
    const r = parseWebhook(body);
    expect(r.ok && r.items.length).toBe(1000);
    expect(r.ok && new Set(r.items.map((i) => i.dedupeKey)).size).toBe(1000);
  });
});
