/**
 * A tenant's burst of webhooks, posted from a process of its own (delivery-setup.ts
 * prepareBurst): BURST = {"ingressUrl", "phoneNumberId", "count", "base", "text"}. It builds and
 * signs every webhook first and prints "ready"; on SIGUSR2 it posts them, 100 in flight, and
 * exits 0 once ingress has answered 200 to every one. So neither its start-up nor the signing
 * falls inside what the bench measures.
 */
import { closePosting, customer, pool, postSigned, signedTextWebhook } from './webhook-post.ts';

const cfg = JSON.parse(process.env.BURST ?? 'null') as { ingressUrl: string; phoneNumberId: string; count: number; base: number; text: string } | null;
if (!cfg) {
  process.stderr.write('burst-poster: BURST is not set\n');
  process.exit(2);
}
const webhooks = Array.from({ length: cfg.count }, (_, i) => signedTextWebhook(cfg.phoneNumberId, customer(i, cfg.base), `${cfg.text} #${i}`));
// a signal listener alone does not keep the process alive: the timer does, until `go`
const idle = setInterval(() => {}, 60_000);
const go = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
process.stdout.write('ready\n');
await go;
clearInterval(idle);
await pool(webhooks, 100, async (w) => {
  await postSigned(cfg.ingressUrl, w);
});
closePosting();
