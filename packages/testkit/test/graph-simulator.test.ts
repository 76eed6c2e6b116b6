import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGraphSimulator } from '../src/index.ts';
import type { GraphFaultKind, GraphSimulator } from '../src/index.ts';

const PNID = '106540352242922';
const TOKEN = 'EAAG-test-token';

let sim: GraphSimulator;

beforeAll(async () => {
  sim = await startGraphSimulator({ seed: 42 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.reset());

function post(body: unknown, opts: { token?: string | null; pnid?: string; signal?: AbortSignal; raw?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(`${sim.url}/v21.0/${opts.pnid ?? PNID}/messages`, {
    method: 'POST',
    headers,
    body: opts.raw ?? JSON.stringify(body),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}

const textTo = (to: string, body = 'Habari! We open at 9.') => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to,
  type: 'text',
  text: { body },
});

function expectMetaError(json: any, code: number) {
  expect(json).toMatchObject({ error: { type: 'OAuthException', code } });
  expect(typeof json.error.message).toBe('string');
  expect(json.error.message.length).toBeGreaterThan(0);
  expect(json.error.fbtrace_id).toMatch(/^[A-Za-z0-9_-]{6,}$/);
}

describe('graph simulator: sends and read receipts', () => {
  it('answers a text send like Meta and records it', async () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await post(textTo('+254 702 245555'));
    expect(res.status).toBe(200);
    const json = (await res.json()) as any;
    expect(json.messaging_product).toBe('whatsapp');
    expect(json.contacts).toEqual([{ input: '+254 702 245555', wa_id: '254702245555' }]);
    expect(json.messages).toHaveLength(1);
    expect(json.messages[0].id).toMatch(/^wamid\.[A-Za-z0-9+/=]+$/);

    expect(sim.received).toHaveLength(1);
    const rec = sim.received[0]!;
    expect(rec).toMatchObject({
      kind: 'send',
      phoneNumberId: PNID,
      version: 'v21.0',
      token: TOKEN,
      outcome: 'ok',
      status: 200,
      messageId: json.messages[0].id,
    });
    expect(rec.body.text?.body).toBe('Habari! We open at 9.');
    expect(Math.abs(rec.receivedAt - Date.now())).toBeLessThan(5_000);
    expect(sim.sent()).toHaveLength(1);
    expect(sim.sentTo(PNID)).toHaveLength(1);
    expect(sim.sentTo('999')).toHaveLength(0);
  });

  it('gives every send a distinct wamid', async () => {
    const ids = new Set<string>();
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const json = (await (await post(textTo(`2547000000${i}`))).json()) as any;
        ids.add(json.messages[0].id);
      }),
    );
    expect(ids.size).toBe(50);
  });

  it('answers mark-as-read (with typing indicator) with success and keeps it out of sent()', async () => {
    const res = await post({
      messaging_product: 'whatsapp',
      status: 'read',
      message_id: 'wamid.INBOUND1',
      typing_indicator: { type: 'text' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    expect(sim.received[0]).toMatchObject({ kind: 'read', outcome: 'ok' });
    expect(sim.sent()).toHaveLength(0);
    expect(sim.reads()).toHaveLength(1);
  });

  it('rejects invalid JSON with code 100 and records it', async () => {
    const res = await post(undefined, { raw: '{"messaging_product":' });
    expect(res.status).toBe(400);
    expectMetaError(await res.json(), 100);
    expect(sim.received[0]).toMatchObject({ kind: 'invalid', outcome: 'error', errorCode: 100 });
  });

  it('validates bodies the way Meta does (missing to, list row title over 24 chars)', async () => {
    const noTo = await post({ messaging_product: 'whatsapp', type: 'text', text: { body: 'hi' } });
    expect(noTo.status).toBe(400);
    expectMetaError(await noTo.json(), 100);

    const longRow = await post({
      messaging_product: 'whatsapp',
      to: '254700000001',
      type: 'interactive',
      interactive: {
        type: 'list',
        body: { text: 'Pick a guitar' },
        action: {
          button: 'Guitars',
          sections: [{ title: 'Acoustic', rows: [{ id: 'g1', title: 'Yamaha F310 Acoustic Guitar Natural' }] }],
        },
      },
    });
    expect(longRow.status).toBe(400);
    const json = (await longRow.json()) as any;
    expectMetaError(json, 131009);
    expect(json.error.error_data.details).toMatch(/Row title/);
    expect(sim.sent()).toHaveLength(0);
  });

  it('answers unknown routes with 404 and a Meta-like error', async () => {
    const res = await fetch(`${sim.url}/v21.0/${PNID}/nonsense`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    const json = (await res.json()) as any;
    expect(json.error.message).toContain('Unknown path components');
    expect(typeof json.error.fbtrace_id).toBe('string');
  });
});

describe('graph simulator: tokens', () => {
  it('accepts unregistered tokens, refuses a registered invalid or expired one with 190', async () => {
    expect((await post(textTo('254700000001'), { token: 'never-registered' })).status).toBe(200);

    sim.setToken('revoked', { valid: false });
    sim.setToken('expired', { expiresAt: new Date(Date.now() - 60_000) });
    sim.setToken('fine', { expiresAt: new Date(Date.now() + 86_400_000) });
    for (const token of ['revoked', 'expired']) {
      const res = await post(textTo('254700000001'), { token });
      expect(res.status).toBe(401);
      const json = (await res.json()) as any;
      expectMetaError(json, 190);
      expect(json.error.error_subcode).toBe(463);
      expect(json.error.message).toMatch(/^Error validating access token: Session has expired/);
    }
    expect((await post(textTo('254700000001'), { token: 'fine' })).status).toBe(200);
    expect(sim.received.map((r) => r.outcome)).toEqual(['ok', 'error', 'error', 'ok']);
    expect(sim.received[1]!.errorCode).toBe(190);
  });

  it('refuses a missing token, and unregistered tokens when strictTokens is set', async () => {
    const noToken = await post(textTo('254700000001'), { token: null });
    expect(noToken.status).toBe(401);
    expectMetaError(await noToken.json(), 190);

    const strict = await startGraphSimulator({ strictTokens: true });
    try {
      strict.setToken('known');
      const send = (token: string) =>
        fetch(`${strict.url}/v21.0/${PNID}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(textTo('254700000001')),
        });
      expect((await send('unknown')).status).toBe(401);
      expect((await send('known')).status).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('answers debug_token from the registered token info and records the call', async () => {
    const expiresAt = new Date('2027-01-31T00:00:00Z');
    sim.setToken('tenant-token', { expiresAt, appId: '777', scopes: ['whatsapp_business_messaging'] });
    sim.setToken('dead-token', { valid: false });
    const debug = async (input: string) => {
      const res = await fetch(`${sim.url}/v21.0/debug_token?input_token=${encodeURIComponent(input)}`, {
        headers: { authorization: 'Bearer app|secret' },
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as any).data;
    };
    expect(await debug('tenant-token')).toMatchObject({
      app_id: '777',
      type: 'SYSTEM_USER',
      application: 'Alphadome',
      data_access_expires_at: 0,
      expires_at: Math.floor(expiresAt.getTime() / 1000),
      is_valid: true,
      scopes: ['whatsapp_business_messaging'],
    });
    expect(await debug('dead-token')).toMatchObject({ is_valid: false });
    expect(await debug('whatever')).toMatchObject({
      is_valid: true,
      expires_at: 0,
      scopes: ['whatsapp_business_messaging', 'whatsapp_business_management'],
    });
    expect(sim.debugTokenCalls.map((c) => c.inputToken)).toEqual(['tenant-token', 'dead-token', 'whatever']);
    expect(sim.debugTokenCalls[0]!.appToken).toBe('app|secret');
    expect(sim.received).toHaveLength(0);
  });
});

describe('graph simulator: faults', () => {
  const expected: Array<[GraphFaultKind, number, number[]]> = [
    ['130429', 130429, [400]],
    ['131056', 131056, [400]],
    ['131026', 131026, [400]],
    ['131047', 131047, [400]],
    ['190', 190, [401]],
    ['5xx', -1, [500, 503]],
  ];

  for (const [kind, code, statuses] of expected) {
    it(`scripted ${kind} answers with Meta's error shape and HTTP ${statuses.join('/')}`, async () => {
      sim.failNext(1, kind);
      const res = await post(textTo('254700000001'));
      expect(statuses).toContain(res.status);
      const json = (await res.json()) as any;
      const expectedCode = code === -1 ? (res.status === 500 ? 1 : 2) : code;
      expectMetaError(json, expectedCode);
      if (code >= 130000) {
        expect(json.error.error_data).toEqual({ messaging_product: 'whatsapp', details: expect.any(String) });
      }
      if (kind === '130429') {
        expect(json.error.message).toBe('(#130429) Rate limit hit');
        expect(json.error.error_data.details).toBe('Cloud API message throughput has been reached.');
      }
      if (kind === '190') expect(json.error.error_subcode).toBe(463);
      expect(sim.received[0]).toMatchObject({ outcome: 'error', errorCode: expectedCode, status: res.status });
      // The script is consumed: the next send goes through.
      expect((await post(textTo('254700000001'))).status).toBe(200);
    });
  }

  it('consumes script steps in order, per phone number before global', async () => {
    sim.script(['ok', '130429', 'ok']);
    sim.failNext(1, '131047', { phoneNumberId: 'other' });
    const statuses: number[] = [];
    statuses.push((await post(textTo('1'), { pnid: 'other' })).status); // phone script
    for (let i = 0; i < 4; i++) statuses.push((await post(textTo('1'))).status);
    expect(statuses).toEqual([400, 200, 400, 200, 200]);
    expect(sim.received.map((r) => r.errorCode ?? 0)).toEqual([131047, 0, 130429, 0, 0]);
  });

  it('applies random rates from a seeded PRNG (same seed → same outcomes)', async () => {
    const run = async () => {
      const s = await startGraphSimulator({ seed: 7, faults: { rates: { '130429': 0.3, '5xx': 0.2 } } });
      try {
        const out: number[] = [];
        for (let i = 0; i < 40; i++) {
          const res = await fetch(`${s.url}/v21.0/${PNID}/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify(textTo('254700000001')),
          });
          await res.arrayBuffer();
          out.push(res.status);
        }
        return out;
      } finally {
        await s.close();
      }
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(5);
    expect(a.filter((s) => s === 400).length).toBeGreaterThan(3);
    expect(a.filter((s) => s >= 500).length).toBeGreaterThan(1);
  });

  it('per-phone-number faults replace the global ones for that number only', async () => {
    sim.setFaults({ rates: { '130429': 1 } }, { phoneNumberId: 'noisy' });
    expect((await post(textTo('1'), { pnid: 'noisy' })).status).toBe(400);
    expect((await post(textTo('1'))).status).toBe(200);
  });

  it('adds latency', async () => {
    sim.setFaults({ latencyMs: 120 });
    const t0 = Date.now();
    expect((await post(textTo('1'))).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('holds a timeout request until the client gives up, and close() still ends held sockets', async () => {
    const s = await startGraphSimulator();
    s.failNext(2, 'timeout');
    const send = (signal?: AbortSignal) =>
      fetch(`${s.url}/v21.0/${PNID}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(textTo('254700000001')),
        ...(signal ? { signal } : {}),
      });
    const t0 = Date.now();
    const err = await send(AbortSignal.timeout(200)).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(s.received[0]).toMatchObject({ outcome: 'timeout', status: 0 });

    // A second hung request with no client timeout: close() must end it and resolve promptly.
    const hung = send().catch((e: unknown) => e);
    await s.waitFor((recs) => recs.length === 2, 2_000);
    expect(s.heldCount).toBe(1);
    const c0 = Date.now();
    await s.close();
    expect(Date.now() - c0).toBeLessThan(1_000);
    expect(await hung).toBeInstanceOf(Error);
  });
});

describe('graph simulator: helpers and media', () => {
  it('maxInAnyWindow counts successful sends in the busiest sliding window', () => {
    const at = (receivedAt: number, phoneNumberId = PNID, outcome: 'ok' | 'error' = 'ok') =>
      sim.received.push({
        kind: 'send',
        phoneNumberId,
        version: 'v21.0',
        token: TOKEN,
        body: {},
        receivedAt,
        outcome,
        status: outcome === 'ok' ? 200 : 400,
      });
    // Out of order on purpose (records are appended when answered).
    for (const t of [0, 100, 999, 1000, 1500, 1999, 2000, 1998, 1001]) at(10_000 + t);
    at(10_000 + 1500, PNID, 'error');
    at(10_000 + 1500, 'other');
    // Windows [t, t+1000): from 1000 → 1000,1001,1500,1998,1999 = 5; from 0 → 0,100,999 = 3.
    expect(sim.maxInAnyWindow(PNID)).toBe(5);
    expect(sim.maxInAnyWindow(PNID, 1)).toBe(1);
    expect(sim.maxInAnyWindow(PNID, 3000)).toBe(9);
    expect(sim.maxInAnyWindow('other')).toBe(1);
    expect(sim.maxInAnyWindow('nobody')).toBe(0);
  });

  it('maxInAnyWindow sees real traffic', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => post(textTo(`2547${i}`)).then((r) => r.arrayBuffer())));
    expect(sim.maxInAnyWindow(PNID)).toBe(20);
  });

  it('waitFor resolves on a later send and rejects with a clear message on timeout', async () => {
    const waiting = sim.waitFor((recs) => recs.some((r) => r.body.to === '254711111111'), 2_000);
    setTimeout(() => void post(textTo('254711111111')), 30);
    await expect(waiting).resolves.toHaveLength(1);
    await expect(sim.waitForSent(1, { phoneNumberId: PNID, timeoutMs: 500 })).resolves.toHaveLength(1);
    await expect(sim.waitFor(() => false, 50)).rejects.toThrow(/GraphSimulator\.waitFor timed out after 50 ms/);
  });

  it('serves media metadata and bytes', async () => {
    const bytes = Buffer.from('OggS fake voice note');
    sim.addMedia('media-1', { mimeType: 'audio/ogg', bytes });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const meta = (await (await fetch(`${sim.url}/v21.0/media-1`, { headers: auth })).json()) as any;
    expect(meta).toMatchObject({
      url: `${sim.url}/media-download/media-1`,
      mime_type: 'audio/ogg',
      file_size: bytes.length,
      id: 'media-1',
      messaging_product: 'whatsapp',
    });
    expect(meta.sha256).toMatch(/^[0-9a-f]{64}$/);
    const dl = await fetch(meta.url, { headers: auth });
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-type')).toBe('audio/ogg');
    expect(Buffer.from(await dl.arrayBuffer()).equals(bytes)).toBe(true);

    const unknownMeta = await fetch(`${sim.url}/v21.0/nope`, { headers: auth });
    expect(unknownMeta.status).toBe(400);
    expectMetaError(await unknownMeta.json(), 100);
    expect((await fetch(`${sim.url}/media-download/nope`, { headers: auth })).status).toBe(404);
    expect(sim.mediaRequests.map((r) => `${r.kind}:${r.status}`)).toEqual([
      'metadata:200',
      'download:200',
      'metadata:400',
      'download:404',
    ]);
  });
});
