import type { FastifyInstance } from 'fastify';
import { AppError, getControlSettings, monthlyTokens, upsertControlSettings } from '@alphadome/tenant-core';
import { budgetNotice, loadBudgetStatus } from '../budget.ts';
import { DAYS, dayText, scheduleFromForm } from '../business-hours.ts';
import { html } from '../html.ts';
import { csrfField, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { change, formAction, formOf, inTenant } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };

/** The budget field: empty or 0 is no limit (null); otherwise a whole number of tokens. */
function budgetFromForm(value: string): number | null {
  const v = value.replace(/[\s,_]/g, '');
  if (v === '') return null;
  if (!/^\d{1,15}$/.test(v)) throw new AppError('bad_request', 'Monthly AI budget: write a whole number of tokens, or leave it empty for no limit');
  const n = Number(v);
  return n > 0 ? n : null;
}

/** Home (bot on/off at a glance) and the bot's settings. */
export function settingsRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/home', owner, async (req, reply) => {
    const { s, counts, budget } = await inTenant(ctx, req, async (tx, t) => {
      const s = await getControlSettings(tx, t);
      const budget = await loadBudgetStatus(tx, t, s.monthlyTokenBudget);
      const [counts] = await tx<{ unread: string; human: string }[]>`
        select coalesce(sum(case when unread_count > 0 then 1 else 0 end), 0) as unread,
               coalesce(sum(case when mode = 'human' then 1 else 0 end), 0) as human
          from alphadome.bot_conversations where tenant_id = ${t}`;
      return { s, counts, budget };
    });
    return sendPage(req, reply, {
      title: 'Home',
      active: '/home',
      body: html`<h1>Home</h1>
${budgetNotice(budget)}
<section class="card" aria-labelledby="bot-h"><h2 id="bot-h">The bot is ${s.botEnabled ? html`<span class="badge on">ON</span>` : html`<span class="badge off">OFF</span>`}</h2>
<p class="muted">${s.botEnabled ? 'It answers customers automatically.' : 'Customers get no automatic answers; reply from Conversations.'}</p>
<form method="post" action="/bot">${csrfField(req)}<input type="hidden" name="enabled" value="${s.botEnabled ? '0' : '1'}">
<button type="submit"${s.botEnabled ? html` class="danger"` : ''}>${s.botEnabled ? 'Switch the bot off' : 'Switch the bot on'}</button></form></section>
<section class="card"><h2>Conversations</h2>
<p><a href="/conversations">${Number(counts?.unread ?? 0)} with unread messages, ${Number(counts?.human ?? 0)} handed over to a person</a></p></section>`,
    });
  });

  app.post('/bot', owner, async (req, reply) => {
    const enabled = formOf(req)('enabled') === '1';
    const back = formOf(req)('back') === 'settings' ? '/settings' : '/home';
    return formAction(req, reply, back, async () => {
      await change(ctx, req, enabled ? 'bot.enabled' : 'bot.disabled', async (tx, t) => ({
        result: await upsertControlSettings(tx, t, { botEnabled: enabled }),
        detail: { botEnabled: enabled },
      }));
      return enabled ? 'The bot is on.' : 'The bot is off.';
    });
  });

  app.get('/settings', owner, async (req, reply) => {
    const { s, used } = await inTenant(ctx, req, async (tx, t) => ({ s: await getControlSettings(tx, t), used: await monthlyTokens(tx) }));
    return sendPage(req, reply, {
      title: 'Settings',
      active: '/settings',
      body: html`<h1>Settings</h1>
<form class="card" method="post" action="/bot">${csrfField(req)}<input type="hidden" name="back" value="settings">
<input type="hidden" name="enabled" value="${s.botEnabled ? '0' : '1'}">
<p>The bot is ${s.botEnabled ? html`<span class="badge on">ON</span>` : html`<span class="badge off">OFF</span>`}
<button type="submit" class="secondary">${s.botEnabled ? 'Switch off' : 'Switch on'}</button></p></form>
<form class="card" method="post" action="/settings">${csrfField(req)}
<label for="systemPrompt">Instructions for the bot (system prompt)</label>
<textarea id="systemPrompt" name="systemPrompt" maxlength="20000">${s.systemPrompt}</textarea>
<label for="tone">Tone <small class="muted">(e.g. friendly, short, Swahili greetings)</small></label>
<input id="tone" name="tone" type="text" maxlength="500" value="${s.tone}">
<label for="fallbackMessage">When the bot has no answer</label>
<textarea id="fallbackMessage" name="fallbackMessage" required maxlength="4096">${s.fallbackMessage}</textarea>
<label for="handoverMessage">When a person takes over</label>
<textarea id="handoverMessage" name="handoverMessage" required maxlength="4096">${s.handoverMessage}</textarea>
<fieldset><legend>Business hours</legend>
<label><input type="checkbox" name="hoursEnabled" value="1"${s.businessHours ? html` checked` : ''}> Use business hours (otherwise: always open)</label>
<p class="muted">For each day, e.g. <code>09:00-18:00</code> or <code>09:00-13:00, 14:00-18:00</code>; empty = closed.</p>
${DAYS.map(([key, label]) => html`<label for="hours_${key}">${label}</label><input id="hours_${key}" name="hours_${key}" type="text" inputmode="numeric" value="${dayText(s.businessHours, key)}">`)}
<label for="awayMessage">Away message <small class="muted">(sent once when someone writes outside business hours; empty for none)</small></label>
<textarea id="awayMessage" name="awayMessage" maxlength="4096">${s.awayMessage}</textarea></fieldset>
<label for="escalationPhone">Escalation phone <small class="muted">(+254…)</small></label>
<input id="escalationPhone" name="escalationPhone" type="tel" value="${s.escalationPhone ?? ''}">
<label for="escalationEmail">Escalation email</label>
<input id="escalationEmail" name="escalationEmail" type="email" value="${s.escalationEmail ?? ''}">
<label for="monthlyTokenBudget">Monthly AI budget in tokens <small class="muted">(empty for no limit; ${used.toLocaleString('en')} used this month)</small></label>
<input id="monthlyTokenBudget" name="monthlyTokenBudget" type="number" min="0" step="1" inputmode="numeric" value="${s.monthlyTokenBudget ?? ''}">
<p class="muted">When it is used up, the bot answers from canned replies, catalog and FAQ only until the first of the next month.</p>
<p><button type="submit">Save settings</button></p></form>`,
    });
  });

  app.post('/settings', owner, async (req, reply) => {
    const f = formOf(req);
    return formAction(req, reply, '/settings', async () => {
      const patch = {
        systemPrompt: f('systemPrompt'),
        tone: f('tone').trim(),
        fallbackMessage: f('fallbackMessage').trim(),
        handoverMessage: f('handoverMessage').trim(),
        awayMessage: f('awayMessage').trim(),
        escalationPhone: f('escalationPhone').replace(/[\s-]/g, '') || null,
        escalationEmail: f('escalationEmail').trim() || null,
        businessHours: scheduleFromForm(f),
        monthlyTokenBudget: budgetFromForm(f('monthlyTokenBudget')),
      };
      await change(ctx, req, 'settings.updated', async (tx, t) => ({
        result: await upsertControlSettings(tx, t, patch),
        detail: { fields: Object.keys(patch) },
      }));
      return 'Settings saved.';
    });
  });
}
