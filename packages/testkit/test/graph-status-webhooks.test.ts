import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createGraphClient, parseWebhook, verifySignature } from '@alphadome/whatsapp';
import { startGraphSimulator } from '../src/index.ts';
import type { GraphSimulator } from '../src/index.ts';

/**
 * The simulator's optional status webhooks: what Meta posts to an app for every message it
 * accepted (sent, delivered…), signed with the app secret over the exact bytes, echoing the
 * send's biz_opaque_callback_data, retried until answered 2xx. Off unless configured.
 */
const PNID = '106540352242922';
const TOKEN = 'EAAG-status-test-token';
const SECRET = 'status-webhook-app-secret';

interface Received {
  raw: Buffer;
  signature: string | undefined;
}
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** answers to give, in order (then 200) */
const answers: number[] = [];
let sim: GraphSimulator;

beforeAll(async () => {
  receiver = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ raw: Buffer.concat(chunks), signature: req.headers['x-hub-signature-256'] as string | undefined });
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const addr = receiver.address();
  receiverUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhooks/whatsapp`;
  sim = await startGraphSimulator({ seed: 3 });
});
afterAll(async () => {
  await sim.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});
afterEach(() => {
  sim.setStatusWebhooks(null);
  sim.reset();
  received.length = 0;
  answers.length = 0;
});

const statusesIn = (raw: Buffer) => {
  const parsed = parseWebhook(JSON.parse(raw.toString('utf8')));
  if (!parsed.ok) throw new Error('the simulator posted a body that is not a webhook');
  return parsed.items.filter((i) => i.kind === 'status');
};

it('is off unless configured: an accepted send posts nothing', async () => {
  const graph = createGraphClient({ baseUrl: sim.url });
  await graph.sendMessage(PNID, TOKEN, { messaging_product: 'whatsapp', to: '254700000001', type: 'text', text: { body: 'Hi' } });
  await new Promise((r) => setTimeout(r, 400));
  expect(received).toHaveLength(0);
  expect(sim.statusDeliveries).toHaveLength(0);
});

it('posts sent then delivered, signed like Meta, echoing biz_opaque_callback_data and the wamid', async () => {
  sim.setStatusWebhooks({ url: receiverUrl, appSecret: SECRET, delayMs: 10, displayPhoneNumber: () => '254702245555' });
  const graph = createGraphClient({ baseUrl: sim.url });
  const { wamid } = await graph.sendMessage(
    PNID,
    TOKEN,
    { messaging_product: 'whatsapp', to: '254700000002', type: 'text', text: { body: 'Karibu' } },
    { callbackData: 'ad1:0b6f3c1e-9a57-4a3c-8d1e-2f6f0b9c7a11' },
  );
  // the send body carried the callback data to "Meta"
  expect(sim.sent()[0]!.body['biz_opaque_callback_data']).toBe('ad1:0b6f3c1e-9a57-4a3c-8d1e-2f6f0b9c7a11');
  await sim.waitFor(() => sim.statusDeliveries.filter((d) => d.deliveredAt).length === 2, 5_000);
  expect(received).toHaveLength(2);
  for (const r of received) expect(verifySignature(r.raw, r.signature, SECRET)).toBe(true);
  const items = received.flatMap((r) => statusesIn(r.raw));
  expect(items.map((i) => i.kind === 'status' && i.status)).toEqual(['sent', 'delivered']);
  for (const i of items) {
    if (i.kind !== 'status') continue;
    expect(i.wamid).toBe(wamid);
    expect(i.phoneNumberId).toBe(PNID);
    expect(i.statusObj.biz_opaque_callback_data).toBe('ad1:0b6f3c1e-9a57-4a3c-8d1e-2f6f0b9c7a11');
    expect(i.statusObj.recipient_id).toBe('254700000002');
  }
});

it('a send whose sender went away is still accepted, and its statuses still come', async () => {
  sim.setStatusWebhooks({ url: receiverUrl, appSecret: SECRET, statuses: ['sent'], delayMs: 0 });
  sim.setFaults({ latencyMs: 300 });
  const graph = createGraphClient({ baseUrl: sim.url, timeoutMs: 100 });
  await expect(
    graph.sendMessage(PNID, TOKEN, { messaging_product: 'whatsapp', to: '254700000003', type: 'text', text: { body: 'x' } }, { callbackData: 'ad1:late' }),
  ).rejects.toMatchObject({ code: -1 });
  expect(sim.answering).toBe(1);
  await sim.waitFor(() => sim.statusDeliveries.some((d) => d.deliveredAt), 5_000);
  expect(sim.sent()).toHaveLength(1);
  expect(sim.answering).toBe(0);
  expect(sim.statusDeliveries[0]).toMatchObject({ wamid: sim.sent()[0]!.messageId, status: 'sent', callbackData: 'ad1:late' });
});

it('retries a status webhook that is not answered 2xx (as Meta does)', async () => {
  answers.push(503, 500);
  sim.setStatusWebhooks({ url: receiverUrl, appSecret: SECRET, statuses: ['sent'], delayMs: 0 });
  const graph = createGraphClient({ baseUrl: sim.url });
  await graph.sendMessage(PNID, TOKEN, { messaging_product: 'whatsapp', to: '254700000004', type: 'text', text: { body: 'y' } });
  await sim.waitFor(() => sim.statusDeliveries.some((d) => d.deliveredAt), 5_000);
  expect(sim.statusDeliveries[0]).toMatchObject({ attempts: 3, lastStatus: 200 });
  expect(received).toHaveLength(3);
  expect(sim.pendingStatusDeliveries()).toBe(0);
});

it('refuses callback data over 512 characters, as Meta does', async () => {
  const res = await fetch(`${sim.url}/v23.0/${PNID}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ messaging_product: 'whatsapp', to: '254700000005', type: 'text', text: { body: 'z' }, biz_opaque_callback_data: 'x'.repeat(513) }),
  });
  expect(res.status).toBe(400);
  await expect(
    createGraphClient({ baseUrl: sim.url }).sendMessage(PNID, TOKEN, { messaging_product: 'whatsapp', to: '1', type: 'text', text: { body: 'z' } }, { callbackData: 'x'.repeat(513) }),
  ).rejects.toThrow(RangeError);
  expect(sim.sent()).toHaveLength(0);
});
