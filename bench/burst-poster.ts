/**
 * A tenant's burst of webhooks, posted from a process of its own (delivery-setup.ts postBurst):
 * BURST = {"ingressUrl", "phoneNumberId", "count", "base", "text"}; 100 in flight; exits 0 once
 * ingress has answered 200 to every one.
 */
import { customer, pool, postWebhook } from './delivery-setup.ts';

const cfg = JSON.parse(process.env.BURST ?? 'null') as { ingressUrl: string; phoneNumberId: string; count: number; base: number; text: string } | null;
if (!cfg) {
  process.stderr.write('burst-poster: BURST is not set\n');
  process.exit(2);
}
await pool(
  Array.from({ length: cfg.count }, (_, i) => i),
  100,
  async (i) => {
    await postWebhook(cfg.ingressUrl, cfg.phoneNumberId, customer(i, cfg.base), `${cfg.text} #${i}`);
  },
);
