import type { FastifyInstance } from 'fastify';
import { listUsage, type UsageDay } from '@alphadome/tenant-core';
import { budgetNotice, loadBudgetStatus } from '../budget.ts';
import { html, raw, type SafeHtml } from '../html.ts';
import { sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { inTenant } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };

/** Messages in/out per day as an inline SVG bar chart, oldest day on the left. */
function chart(days: UsageDay[]): SafeHtml {
  const series = [...days].reverse();
  if (series.length === 0) return html``;
  const max = Math.max(1, ...series.map((d) => Math.max(d.messages_in, d.messages_out)));
  const w = 600;
  const h = 160;
  const slot = w / series.length;
  const bar = Math.max(1, slot / 2 - 1);
  const bars = series.map((d, i) => {
    const hin = Math.round((d.messages_in / max) * (h - 20));
    const hout = Math.round((d.messages_out / max) * (h - 20));
    const x = i * slot;
    return raw(
      `<rect x="${x.toFixed(1)}" y="${h - hin}" width="${bar.toFixed(1)}" height="${hin}" fill="#0b57d0"><title>${d.day}: ${d.messages_in} in</title></rect>` +
        `<rect x="${(x + bar + 1).toFixed(1)}" y="${h - hout}" width="${bar.toFixed(1)}" height="${hout}" fill="#0f9d58"><title>${d.day}: ${d.messages_out} out</title></rect>`,
    );
  });
  return html`<figure class="card"><svg viewBox="0 0 ${w} ${h}" role="img" aria-label="Messages in (blue) and out (green) per day, up to ${max} a day">${bars}</svg>
<figcaption class="muted"><span style="color:#0b57d0">■</span> in · <span style="color:#0f9d58">■</span> out · ${series[0]!.day} to ${series[series.length - 1]!.day}</figcaption></figure>`;
}

export function usageRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/usage', owner, async (req, reply) => {
    const { days, budget } = await inTenant(ctx, req, async (tx, t) => ({
      days: await listUsage(tx, { days: 30 }),
      budget: await loadBudgetStatus(tx, t),
    }));
    const sum = (k: keyof UsageDay) => days.reduce((a, d) => a + Number(d[k]), 0);
    return sendPage(req, reply, {
      title: 'Usage',
      active: '/usage',
      body: html`<h1>Usage (last 30 days)</h1>
${budgetNotice(budget)}
${budget.budget !== null ? html`<p>AI tokens this month: ${budget.used.toLocaleString('en')} of ${budget.budget.toLocaleString('en')} (${budget.percent} %).</p>` : ''}
<p>${sum('messages_in')} messages in, ${sum('messages_out')} out; estimated AI cost $${sum('cost_estimate_usd').toFixed(2)}.</p>
${chart(days)}
${days.length === 0 ? html`<p>No messages yet.</p>` : ''}
<div class="table-wrap"><table><caption class="sr-only">Usage per day</caption>
<thead><tr><th scope="col">Day</th><th scope="col">In</th><th scope="col">Out</th><th scope="col">Canned</th><th scope="col">FAQ</th><th scope="col">Catalog</th><th scope="col">AI</th><th scope="col">Fallback</th><th scope="col">Tokens</th><th scope="col">Cost (USD)</th></tr></thead>
<tbody>${days.map(
        (d) => html`<tr><td>${d.day}</td><td>${d.messages_in}</td><td>${d.messages_out}</td><td>${d.answers_canned}</td><td>${d.answers_faq}</td><td>${d.answers_catalog}</td><td>${d.answers_llm}</td><td>${d.answers_fallback}</td><td>${d.prompt_tokens + d.completion_tokens}</td><td>${Number(d.cost_estimate_usd).toFixed(4)}</td></tr>`,
      )}</tbody></table></div>`,
    });
  });
}
