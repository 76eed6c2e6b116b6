/**
 * Posting signed text webhooks to the ingress, for the delivery benchmarks (delivery-setup.ts)
 * and their burst poster (burst-poster.ts). Kept free of the database, queue and simulator
 * modules so the poster process starts with little to load.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { buildTextWebhook, signBody } from '@alphadome/whatsapp';

export const BENCH_APP_SECRET = 'bench-platform-app-secret';

/** The customer wa_id of message `n` of a burst starting at `base`. */
export const customer = (n: number, base: number) => String(254_700_000_000 + base + n);

/** A signed text webhook from `from` to the tenant's number (`wamid` random unless given). */
export function signedTextWebhook(phoneNumberId: string, from: string, text: string, wamid?: string): { raw: string; signature: string } {
  const raw = buildTextWebhook({
    phoneNumberId,
    displayPhoneNumber: '15550783881',
    from,
    wamid: wamid ?? `wamid.BENCH${randomBytes(12).toString('hex')}`,
    text,
    name: 'Customer',
  });
  return { raw, signature: signBody(raw, BENCH_APP_SECRET) };
}

/**
 * Kept-alive connections, and node:http rather than fetch: a burst poster using fetch spent
 * ~1 ms of CPU per webhook, on the cores the system under test needs.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

/** POST a signed webhook; resolves with the time it was sent, rejects unless ingress answers 200. */
export function postSigned(ingressUrl: string, w: { raw: string; signature: string }): Promise<number> {
  const at = Date.now();
  const body = Buffer.from(w.raw);
  return new Promise((resolve, reject) => {
    const req = request(
      `${ingressUrl}/webhooks/whatsapp`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-hub-signature-256': w.signature },
      },
      (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve(at) : reject(new Error(`ingress answered ${res.statusCode}`))));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** POST one signed text webhook; resolves with the time it was sent. */
export function postWebhook(ingressUrl: string, phoneNumberId: string, from: string, text: string, wamid?: string): Promise<number> {
  return postSigned(ingressUrl, signedTextWebhook(phoneNumberId, from, text, wamid));
}

/** Run `fn` over `items`, `n` at a time. */
export async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Close the kept-alive connections (a process that is done posting can then exit). */
export function closePosting(): void {
  agent.destroy();
}
