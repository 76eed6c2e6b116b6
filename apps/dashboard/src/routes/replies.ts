import type { FastifyInstance } from 'fastify';
import { AppError, addTemplate, deleteTemplate, getTemplate, listTemplates, type Template } from '@alphadome/tenant-core';
import { getTemplateById, updateTemplateById } from '../data/owner.ts';
import { html } from '../html.ts';
import { csrfField, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { change, formAction, formOf, inTenant, notFound, NotFound, paramOf } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };

function replyFields(t?: Template) {
  return html`<label for="name">Name <small class="muted">(lowercase, e.g. opening-hours)</small></label>
<input id="name" name="name" type="text" required pattern="[a-z0-9][a-z0-9_.\\-]{0,63}" value="${t?.name ?? ''}">
<label for="triggers">Trigger words <small class="muted">(comma separated, e.g. hours, open, saa ngapi)</small></label>
<input id="triggers" name="triggers" type="text" required value="${t?.triggers.join(', ') ?? ''}">
<label for="body">Reply</label><textarea id="body" name="body" required maxlength="4096">${t?.body ?? ''}</textarea>
<label for="language">Language</label><input id="language" name="language" type="text" value="${t?.language ?? 'en'}" maxlength="10">
<label><input type="checkbox" name="active" value="1"${!t || t.isActive ? html` checked` : ''}> Active</label>`;
}

/** Canned replies: a fixed answer sent when a message contains one of its trigger words. */
export function replyRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/replies', owner, async (req, reply) => {
    const list = await inTenant(ctx, req, (tx, t) => listTemplates(tx, t, { kind: 'canned' }));
    return sendPage(req, reply, {
      title: 'Canned replies',
      active: '/replies',
      body: html`<h1>Canned replies</h1>
<p class="muted">When a customer's message contains a trigger word, the bot sends this reply as it is.</p>
<ul class="list">${list.map(
        (t) => html`<li><strong>${t.name}</strong>${t.isActive ? '' : html` <span class="badge off">inactive</span>`}<br>
<small class="muted">Triggers: ${t.triggers.join(', ')}</small><br><span>${t.body}</span><br><a href="/replies/${t.id}">Edit</a></li>`,
      )}</ul>
${list.length === 0 ? html`<p>No canned replies yet.</p>` : ''}
<h2>Add a canned reply</h2>
<form class="card" method="post" action="/replies">${csrfField(req)}${replyFields()}<p><button type="submit">Add</button></p></form>`,
    });
  });

  app.post('/replies', owner, async (req, reply) => {
    const f = formOf(req);
    return formAction(req, reply, '/replies', async () => {
      await change(ctx, req, 'template.added', async (tx, t) => {
        const name = f('name').trim();
        const language = f('language').trim() || 'en';
        if (await getTemplate(tx, t, name, language)) throw new AppError('conflict', `a reply named "${name}" exists already`);
        const tpl = await addTemplate(tx, t, { name, kind: 'canned', triggers: f('triggers'), body: f('body'), language, isActive: f('active') === '1' });
        return { result: tpl, detail: { id: tpl.id, name: tpl.name } };
      });
      return 'Canned reply added.';
    });
  });

  app.get('/replies/:id', owner, async (req, reply) => {
    const tpl = await inTenant(ctx, req, (tx, t) => getTemplateById(tx, t, paramOf(req, 'id')));
    if (!tpl) return notFound(req, reply);
    return sendPage(req, reply, {
      title: 'Edit canned reply',
      active: '/replies',
      body: html`<p><a href="/replies">← Canned replies</a></p><h1>Edit canned reply</h1>
<form class="card" method="post" action="/replies/${tpl.id}">${csrfField(req)}${replyFields(tpl)}<p><button type="submit">Save</button></p></form>
<form method="post" action="/replies/${tpl.id}/delete">${csrfField(req)}<button class="danger" type="submit">Delete this reply</button></form>`,
    });
  });

  app.post('/replies/:id', owner, async (req, reply) => {
    const f = formOf(req);
    const id = paramOf(req, 'id');
    return formAction(req, reply, `/replies/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'template.updated', async (tx, t) => {
        const existing = await getTemplateById(tx, t, id);
        if (!existing || existing.kind !== 'canned') throw new NotFound();
        const tpl = await updateTemplateById(tx, t, id, {
          name: f('name').trim(),
          kind: 'canned',
          triggers: f('triggers'),
          body: f('body'),
          language: f('language').trim() || 'en',
          isActive: f('active') === '1',
        });
        if (!tpl) throw new NotFound();
        return { result: tpl, detail: { id: tpl.id, name: tpl.name } };
      });
      return reply.redirect('/replies?ok=' + encodeURIComponent('Canned reply saved.'), 303);
    });
  });

  app.post('/replies/:id/delete', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    return formAction(req, reply, '/replies', async () => {
      await change(ctx, req, 'template.deleted', async (tx, t) => {
        const existing = await getTemplateById(tx, t, id);
        if (!existing || !(await deleteTemplate(tx, t, { id }))) throw new NotFound();
        return { result: true, detail: { id, name: existing.name } };
      });
      return 'Canned reply deleted.';
    });
  });
}
