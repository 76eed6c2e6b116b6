import type { FastifyInstance } from 'fastify';
import { addFaq, countFaqs, deleteFaq, getFaq, importFaqs, parseFaqFile, updateFaq } from '@alphadome/tenant-core';
import { searchFaqs } from '../data/owner.ts';
import { html } from '../html.ts';
import { csrfField, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { change, formAction, formOf, inTenant, notFound, NotFound, paramOf, queryOf } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };

/** FAQ: list and search, add, edit, delete, import a CSV (pasted or uploaded). */
export function faqRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/faq', owner, async (req, reply) => {
    const q = queryOf(req, 'q').trim().slice(0, 200);
    const { faqs, total } = await inTenant(ctx, req, async (tx, t) => ({ faqs: await searchFaqs(tx, t, q), total: await countFaqs(tx, t) }));
    return sendPage(req, reply, {
      title: 'FAQ',
      active: '/faq',
      body: html`<h1>FAQ</h1>
<p class="muted">The bot answers customers from these questions and answers. ${total} in total.</p>
<form method="get" action="/faq" role="search" class="row"><label class="sr-only" for="q">Search the FAQ</label>
<input id="q" type="search" name="q" value="${q}" placeholder="Search questions and answers" style="flex:1">
<button type="submit" class="secondary">Search</button></form>
<h2>Add a question</h2>
<form class="card" method="post" action="/faq">${csrfField(req)}
<label for="question">Question</label><input id="question" name="question" type="text" required maxlength="1000">
<label for="answer">Answer</label><textarea id="answer" name="answer" required maxlength="4096"></textarea>
<label for="language">Language</label><input id="language" name="language" type="text" value="en" maxlength="10">
<p><button type="submit">Add</button></p></form>
<h2>${q ? html`Results for “${q}”` : 'All questions'}</h2>
${faqs.length === 0 ? html`<p>No entries${q ? ' match' : ' yet'}.</p>` : ''}
<ul class="list">${faqs.map(
        (f) => html`<li><strong>${f.question}</strong> ${f.language !== 'en' ? html`<span class="badge">${f.language}</span>` : ''}${
          f.isActive ? '' : html` <span class="badge off">inactive</span>`
        }<br><span>${f.answer}</span><br><a href="/faq/${f.id}">Edit</a></li>`,
      )}</ul>
<h2>Import from CSV</h2>
<form class="card" method="post" action="/faq/import" enctype="multipart/form-data">${csrfField(req)}
<p class="muted">A header line <code>question,answer</code> (optionally <code>,language</code>), then one entry a line. A question that exists already gets the new answer.</p>
<label for="csv">Paste CSV</label><textarea id="csv" name="csv"></textarea>
<label for="file">…or choose a file</label><input id="file" name="file" type="file" accept=".csv,.json,text/csv,application/json">
<p><button type="submit">Import</button></p></form>`,
    });
  });

  app.post('/faq', owner, async (req, reply) => {
    const f = formOf(req);
    return formAction(req, reply, '/faq', async () => {
      await change(ctx, req, 'faq.added', async (tx, t) => {
        const faq = await addFaq(tx, t, { question: f('question'), answer: f('answer'), language: f('language').trim() || 'en' });
        return { result: faq, detail: { id: faq.id, question: faq.question } };
      });
      return 'FAQ entry added.';
    });
  });

  app.post('/faq/import', owner, async (req, reply) => {
    const f = formOf(req);
    return formAction(req, reply, '/faq', async () => {
      const uploaded = f('file');
      const pasted = f('csv');
      const text = uploaded.trim() ? uploaded : pasted;
      const name = uploaded.trim() ? f('file__filename') || 'upload.csv' : 'pasted.csv';
      if (!text.trim()) return reply.redirect('/faq?err=' + encodeURIComponent('Paste CSV or choose a file to import.'), 303);
      const rows = parseFaqFile(text, name);
      const r = await change(ctx, req, 'faq.imported', async (tx, t) => {
        const result = await importFaqs(tx, t, rows);
        return { result, detail: { ...result, source: name } };
      });
      return `Imported: ${r.inserted} added, ${r.updated} updated.`;
    });
  });

  app.get('/faq/:id', owner, async (req, reply) => {
    const faq = await inTenant(ctx, req, (tx, t) => getFaq(tx, t, paramOf(req, 'id')));
    if (!faq) return notFound(req, reply);
    return sendPage(req, reply, {
      title: 'Edit FAQ entry',
      active: '/faq',
      body: html`<p><a href="/faq">← FAQ</a></p><h1>Edit FAQ entry</h1>
<form class="card" method="post" action="/faq/${faq.id}">${csrfField(req)}
<label for="question">Question</label><input id="question" name="question" type="text" required maxlength="1000" value="${faq.question}">
<label for="answer">Answer</label><textarea id="answer" name="answer" required maxlength="4096">${faq.answer}</textarea>
<label for="language">Language</label><input id="language" name="language" type="text" value="${faq.language}" maxlength="10">
<label><input type="checkbox" name="active" value="1"${faq.isActive ? html` checked` : ''}> Active (the bot uses it)</label>
<p><button type="submit">Save</button></p></form>
<form method="post" action="/faq/${faq.id}/delete">${csrfField(req)}<button class="danger" type="submit">Delete this entry</button></form>`,
    });
  });

  app.post('/faq/:id', owner, async (req, reply) => {
    const f = formOf(req);
    const id = paramOf(req, 'id');
    return formAction(req, reply, `/faq/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'faq.updated', async (tx, t) => {
        const faq = await updateFaq(tx, t, id, {
          question: f('question'),
          answer: f('answer'),
          language: f('language').trim() || 'en',
          isActive: f('active') === '1',
        });
        return { result: faq, detail: { id: faq.id, question: faq.question } };
      });
      return reply.redirect('/faq?ok=' + encodeURIComponent('FAQ entry saved.'), 303);
    });
  });

  app.post('/faq/:id/delete', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    return formAction(req, reply, '/faq', async () => {
      await change(ctx, req, 'faq.deleted', async (tx, t) => {
        const faq = await getFaq(tx, t, id);
        if (!faq || !(await deleteFaq(tx, t, id))) throw new NotFound();
        return { result: true, detail: { id, question: faq.question } };
      });
      return 'FAQ entry deleted.';
    });
  });
}
