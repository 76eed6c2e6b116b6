import { describe, expect, it } from 'vitest';
import {
  buildStatusWebhook,
  buildTextWebhook,
  parseWebhook,
  signBody,
  toMetaJson,
  verifySignature,
  type WebhookMessageItem,
  type WebhookStatusItem,
} from '../src/index.ts';

const SECRET = 'test-app-secret';

describe('toMetaJson', () => {
  it('escapes like Meta: lower-case \\u for non-ASCII and @, \\/ for slashes', () => {
    expect(toMetaJson({ a: 'ä/@😀', b: [1, null] })).toBe('{"a":"\\u00e4\\/\\u0040\\ud83d\\ude00","b":[1,null]}');
    const value = { text: 'Bei ni KSh 1,500 — wasiliana gideon@kassangas.co.ke https://x.example/a 🎸', n: 3.5 };
    expect(JSON.parse(toMetaJson(value))).toEqual(value);
    expect(/^[\x20-\x7e]*$/.test(toMetaJson(value))).toBe(true);
  });
});

describe('buildTextWebhook', () => {
  const input = {
    phoneNumberId: '106540352242922',
    displayPhoneNumber: '254702245555',
    from: '254712345678',
    wamid: 'wamid.HBgMMjU0NzEyMzQ1Njc4FQIAEhgUM0FCQ0RFRgA=',
    text: 'Habari! Gitaa ya Yamaha — bei gani? 🎸 me@example.com',
    name: 'Wanjirũ',
    timestamp: 1750000000,
  };

  it('produces a Meta-shaped, Meta-escaped body that parses to one message', () => {
    const raw = buildTextWebhook(input);
    expect(raw).toContain('Wanjir\\u0169');
    expect(raw).toContain('me\\u0040example.com');
    expect(/^[\x20-\x7e]*$/.test(raw)).toBe(true);
    const r = parseWebhook(JSON.parse(raw));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.items).toHaveLength(1);
    const item = r.items[0] as WebhookMessageItem;
    expect(item).toMatchObject({
      kind: 'message',
      phoneNumberId: input.phoneNumberId,
      displayPhoneNumber: input.displayPhoneNumber,
      from: input.from,
      wamid: input.wamid,
      contactName: 'Wanjirũ',
      timestamp: 1750000000,
      fromBusiness: false,
    });
    expect(item.message.text?.body).toBe(input.text);
  });

  it('signs and verifies over the built bytes; re-serialising breaks it', () => {
    const raw = buildTextWebhook(input);
    const header = signBody(raw, SECRET);
    expect(verifySignature(Buffer.from(raw), header, SECRET)).toBe(true);
    expect(verifySignature(Buffer.from(JSON.stringify(JSON.parse(raw))), header, SECRET)).toBe(false);
  });

  it('a business-scoped sender is sent as from_user_id', () => {
    const raw = buildTextWebhook({ ...input, from: 'US.13491208655302741918' });
    const body = JSON.parse(raw);
    expect(body.entry[0].changes[0].value.messages[0]).not.toHaveProperty('from');
    expect(body.entry[0].changes[0].value.messages[0].from_user_id).toBe('US.13491208655302741918');
    const r = parseWebhook(body);
    expect(r.ok && r.items[0]?.kind === 'message' && r.items[0].from).toBe('US.13491208655302741918');
  });

  it('replyToWamid adds context', () => {
    const body = JSON.parse(buildTextWebhook({ ...input, replyToWamid: 'wamid.OUT' }));
    expect(body.entry[0].changes[0].value.messages[0].context).toEqual({ from: '254702245555', id: 'wamid.OUT' });
  });
});

describe('buildStatusWebhook', () => {
  it('delivered with pricing', () => {
    const raw = buildStatusWebhook({
      phoneNumberId: '106540352242922',
      displayPhoneNumber: '254702245555',
      wamid: 'wamid.OUT1',
      status: 'delivered',
      recipientId: '254712345678',
      timestamp: 1750000001,
    });
    const r = parseWebhook(JSON.parse(raw));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const item = r.items[0] as WebhookStatusItem;
    expect(item).toMatchObject({ kind: 'status', status: 'delivered', dedupeKey: 'wamid.OUT1:delivered', recipientId: '254712345678' });
    expect(item.statusObj.pricing?.pricing_model).toBe('PMP');
    expect(raw).toContain('"status":"delivered"');
  });

  it('failed with errors (default and custom)', () => {
    const base = {
      phoneNumberId: '106540352242922',
      displayPhoneNumber: '254702245555',
      wamid: 'wamid.OUT2',
      status: 'failed',
      recipientId: '254712345678',
    } as const;
    const def = parseWebhook(JSON.parse(buildStatusWebhook(base)));
    expect(def.ok && (def.items[0] as WebhookStatusItem).statusObj.errors?.[0]?.code).toBe(131026);
    const custom = parseWebhook(
      JSON.parse(buildStatusWebhook({ ...base, errors: [{ code: 131047, title: 'Re-engagement message' }] })),
    );
    expect(custom.ok && (custom.items[0] as WebhookStatusItem).statusObj.errors?.[0]).toMatchObject({
      code: 131047,
      title: 'Re-engagement message',
      error_data: { details: 'Re-engagement message' },
    });
  });
});
