import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { insertOutboundMessage, listConversationMessages, setConversationMode, touchConversationOutbound } from '@alphadome/tenant-core';
import { textMessage } from '@alphadome/whatsapp';
import { getConversationDetail, listConversations, markConversationRead } from '../data/owner.ts';
import { formatDate, html } from '../html.ts';
import { csrfField, sendPage } from '../layout.ts';
import { enqueueSend } from '../send-queue.ts';
import type { DashboardContext } from '../types.ts';
import { change, formAction, formOf, inTenant, notFound, NotFound, paramOf, queryOf } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };
const DAY_MS = 24 * 3600_000;

/** Conversations: list (unread / handed-over markers), search, read one, reply as a person, hand back. */
export function conversationRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/conversations', owner, async (req, reply) => {
    const q = queryOf(req, 'q').trim().slice(0, 100);
    const list = await inTenant(ctx, req, (tx, t) => listConversations(tx, t, { q, limit: 50 }));
    return sendPage(req, reply, {
      title: 'Conversations',
      active: '/conversations',
      body: html`<h1>Conversations</h1>
<form method="get" action="/conversations" role="search" class="row"><label class="sr-only" for="q">Search conversations</label>
<input id="q" type="search" name="q" value="${q}" placeholder="Number, name or text" style="flex:1">
<button type="submit" class="secondary">Search</button></form>
${list.length === 0 ? html`<p>No conversations${q ? ' match' : ' yet'}.</p>` : ''}
<ul class="list">${list.map(
        (c) => html`<li><a href="/conversations/${c.id}"><strong>${c.name ?? c.wa_id}</strong></a>
${c.unread_count > 0 ? html` <span class="badge unread">${c.unread_count} unread</span>` : ''}${
          c.mode === 'human' ? html` <span class="badge human">person replying</span>` : ''
        }<br><small class="muted">${c.name ? `+${c.wa_id} · ` : ''}${formatDate(c.last_message_at)}</small>
${c.last_body ? html`<br><span>${c.last_body.length > 120 ? `${c.last_body.slice(0, 120)}…` : c.last_body}</span>` : ''}</li>`,
      )}</ul>`,
    });
  });

  app.get('/conversations/:id', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    const data = await inTenant(ctx, req, async (tx, t) => {
      const c = await getConversationDetail(tx, t, id);
      if (!c) return null;
      const messages = await listConversationMessages(tx, c.id, { limit: 100 });
      await markConversationRead(tx, t, c.id);
      return { c, messages };
    });
    if (!data) return notFound(req, reply);
    const { c, messages } = data;
    const outsideWindow = !c.last_inbound_at || Date.now() - c.last_inbound_at.getTime() > DAY_MS;
    return sendPage(req, reply, {
      title: `Conversation with ${c.name ?? c.wa_id}`,
      active: '/conversations',
      body: html`<p><a href="/conversations">← Conversations</a></p>
<h1>${c.name ?? c.wa_id} ${c.mode === 'human' ? html`<span class="badge human">person replying</span>` : html`<span class="badge on">bot</span>`}</h1>
<p class="muted">+${c.wa_id}</p>
<div class="thread">${messages.map(
        (m) => html`<div class="msg ${m.direction}">${m.body ?? `[${m.message_type ?? 'message'}]`}<small>${formatDate(m.created_at)}${
          m.direction === 'outbound' ? ` · ${m.answer_path === 'human' ? 'you' : `bot (${m.answer_path ?? '?'})`} · ${m.status ?? ''}` : ''
        }</small></div>`,
      )}</div>
<form class="card" method="post" action="/conversations/${c.id}/reply">${csrfField(req)}
<input type="hidden" name="nonce" value="${randomBytes(12).toString('base64url')}">
<label for="body">Reply as a person${c.mode === 'bot' ? ' (the bot stops answering this customer)' : ''}</label>
<textarea id="body" name="body" required maxlength="4096"></textarea>
${outsideWindow ? html`<p class="muted">The customer last wrote more than 24 hours ago: WhatsApp may refuse a free-form reply.</p>` : ''}
<p><button type="submit">Send</button></p></form>
${
  c.mode === 'human'
    ? html`<form method="post" action="/conversations/${c.id}/handback">${csrfField(req)}<button type="submit" class="secondary">Hand back to the bot</button></form>`
    : html`<form method="post" action="/conversations/${c.id}/takeover">${csrfField(req)}<button type="submit" class="secondary">Take over (stop the bot here)</button></form>`
}`,
    });
  });

  app.post('/conversations/:id/reply', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    const f = formOf(req);
    const back = `/conversations/${encodeURIComponent(id)}`;
    return formAction(req, reply, back, async () => {
      const body = f('body').trim();
      const nonce = /^[A-Za-z0-9_-]{8,40}$/.test(f('nonce')) ? f('nonce') : randomBytes(12).toString('base64url');
      const sent = await change(ctx, req, 'conversation.human_reply', async (tx, t) => {
        const c = await getConversationDetail(tx, t, id);
        if (!c) throw new NotFound();
        if (!body) return { result: null };
        const payload = textMessage(c.wa_id, body);
        // the form's nonce makes a double-submitted form one message
        const idempotencyKey = `human:${c.id}:${nonce}`;
        const res = await insertOutboundMessage(tx, {
          tenantId: t,
          conversationId: c.id,
          idempotencyKey,
          waId: c.wa_id,
          messageType: 'text',
          body,
          payload: payload as unknown as Record<string, unknown>,
          answerPath: 'human',
          sentBy: 'human',
        });
        await setConversationMode(tx, c.id, 'human');
        await touchConversationOutbound(tx, c.id, new Date());
        await markConversationRead(tx, t, c.id);
        return { result: { tenantId: t, idempotencyKey, created: res.created }, detail: { conversationId: c.id, messageId: res.row.id } };
      });
      if (!sent) return reply.redirect(`${back}?err=${encodeURIComponent('Write a message first.')}`, 303);
      await enqueueSend(ctx.sendQueue(), { tenantId: sent.tenantId, idempotencyKey: sent.idempotencyKey });
      return reply.redirect(`${back}?ok=${encodeURIComponent('Sent. The bot stays quiet in this conversation until you hand it back.')}`, 303);
    });
  });

  for (const [action, mode] of [
    ['takeover', 'human'],
    ['handback', 'bot'],
  ] as const) {
    app.post(`/conversations/:id/${action}`, owner, async (req, reply) => {
      const id = paramOf(req, 'id');
      return formAction(req, reply, `/conversations/${encodeURIComponent(id)}`, async () => {
        await change(ctx, req, `conversation.${action}`, async (tx, t) => {
          const c = await getConversationDetail(tx, t, id);
          if (!c) throw new NotFound();
          await setConversationMode(tx, c.id, mode);
          return { result: true, detail: { conversationId: c.id, mode } };
        });
        return mode === 'human' ? 'You have taken over; the bot stays quiet here.' : 'Handed back: the bot answers again.';
      });
    });
  }
}
