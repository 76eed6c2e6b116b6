import type { FastifyInstance, FastifyRequest } from 'fastify';
import { formatPrice, formatStock, importCatalog, parseCatalogText, searchCatalog } from '@alphadome/tenant-core';
import {
  addImage,
  addVariant,
  createProduct,
  deleteImage,
  deleteProduct,
  deleteVariant,
  getProduct,
  listProducts,
  PRODUCT_PAGE_SIZE,
  productsByIds,
  updateProduct,
  updateVariant,
  type Product,
  type ProductDetail,
  type Variant,
} from '../data/catalog.ts';
import { html, type SafeHtml } from '../html.ts';
import { csrfField, sendPage } from '../layout.ts';
import type { DashboardContext } from '../types.ts';
import { change, formAction, formOf, inTenant, notFound, NotFound, paramOf, queryOf } from './helpers.ts';

const owner = { config: { access: 'owner' as const } };

const stockBadge = (stock: number | null): SafeHtml =>
  stock === 0 ? html`<span class="badge off">out of stock</span>` : html`<span class="badge">${formatStock(stock)}</span>`;

/** The product fields of the add and edit forms (a blank price or stock is stored as "not set"). */
function productFields(p: Partial<Product> = {}): SafeHtml {
  const v = (x: string | number | null | undefined) => (x === null || x === undefined ? '' : String(x));
  return html`<label for="name">Name</label><input id="name" name="name" type="text" required maxlength="200" value="${v(p.name)}">
<label for="sku">SKU (your product code, unique in your shop)</label><input id="sku" name="sku" type="text" required maxlength="64" value="${v(p.sku)}">
<div class="row"><div style="flex:1;min-width:8rem"><label for="price">Price</label><input id="price" name="price" type="text" inputmode="decimal" value="${v(p.price)}" placeholder="e.g. 18500"></div>
<div style="width:6rem"><label for="currency">Currency</label><input id="currency" name="currency" type="text" maxlength="3" value="${p.currency ?? 'KES'}"></div>
<div style="width:8rem"><label for="stock">Stock</label><input id="stock" name="stock" type="text" inputmode="numeric" value="${v(p.stock)}" placeholder="blank = not counted"></div></div>
<label for="category">Category</label><input id="category" name="category" type="text" maxlength="100" value="${v(p.category)}">
<label for="brand">Brand</label><input id="brand" name="brand" type="text" maxlength="100" value="${v(p.brand)}">
<label for="description">Description</label><textarea id="description" name="description" maxlength="4000">${v(p.description)}</textarea>
<label for="image_url">Main picture (URL)</label><input id="image_url" name="image_url" type="url" maxlength="2000" value="${v(p.imageUrl)}" placeholder="https://…">
<label><input type="checkbox" name="active" value="1"${p.isActive === false ? '' : html` checked`}> Active (the bot offers it)</label>`;
}

function productForm(req: FastifyRequest) {
  const f = formOf(req);
  return {
    sku: f('sku'),
    name: f('name'),
    description: f('description'),
    category: f('category'),
    brand: f('brand'),
    price: f('price'),
    currency: f('currency'),
    stock: f('stock'),
    imageUrl: f('image_url'),
    isActive: f('active') === '1',
  };
}

function variantForm(req: FastifyRequest) {
  const f = formOf(req);
  return { name: f('name'), sku: f('sku'), price: f('price'), stock: f('stock'), isActive: f('active') !== '0' };
}

function variantRow(req: FastifyRequest, p: ProductDetail, v: Variant): SafeHtml {
  const val = (x: string | number | null) => (x === null ? '' : String(x));
  const fid = `v-${v.id}`;
  return html`<li><form method="post" action="/catalog/${p.id}/variants/${v.id}">${csrfField(req)}
<div class="row"><div style="flex:2;min-width:9rem"><label for="${fid}-name">Option</label><input id="${fid}-name" name="name" type="text" required maxlength="200" value="${v.name}"></div>
<div style="flex:1;min-width:6rem"><label for="${fid}-sku">SKU</label><input id="${fid}-sku" name="sku" type="text" maxlength="64" value="${val(v.sku)}"></div>
<div style="flex:1;min-width:6rem"><label for="${fid}-price">Price</label><input id="${fid}-price" name="price" type="text" inputmode="decimal" value="${val(v.price)}" placeholder="as product"></div>
<div style="flex:1;min-width:5rem"><label for="${fid}-stock">Stock</label><input id="${fid}-stock" name="stock" type="text" inputmode="numeric" value="${val(v.stock)}"></div></div>
<p class="row"><button type="submit" class="secondary">Save option</button> ${v.stock === 0 ? html`<span class="badge off">out of stock</span>` : ''}</p></form>
<form method="post" action="/catalog/${p.id}/variants/${v.id}/delete">${csrfField(req)}<button type="submit" class="danger">Delete option</button></form></li>`;
}

/** Catalog: list and search, add, edit (variants, pictures), delete, import CSV/JSON. */
export function catalogRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  app.get('/catalog', owner, async (req, reply) => {
    const q = queryOf(req, 'q').trim().slice(0, 200);
    const page = Math.min(Math.max(Number.parseInt(queryOf(req, 'page'), 10) || 1, 1), 10_000);
    const { products, total } = await inTenant(ctx, req, async (tx, t) => {
      if (!q) return listProducts(tx, t, { page });
      // the bot's own search: what the owner sees here is what a customer asking this gets
      const hits = await searchCatalog(tx, q, { limit: 50 });
      const products = await productsByIds(tx, t, hits.products.map((h) => h.id));
      return { products, total: products.length };
    });
    const pages = Math.max(1, Math.ceil(total / PRODUCT_PAGE_SIZE));
    return sendPage(req, reply, {
      title: 'Catalog',
      active: '/catalog',
      body: html`<h1>Catalog</h1>
<p class="muted">The bot answers product questions from these. ${q ? '' : `${total} products.`}</p>
<p class="row"><a class="button" href="/catalog/new">Add a product</a> <a href="#import">Import CSV or JSON</a></p>
<form method="get" action="/catalog" role="search" class="row"><label class="sr-only" for="q">Search the catalog</label>
<input id="q" type="search" name="q" value="${q}" placeholder="Search as a customer would: cheapest keyboard" style="flex:1">
<button type="submit" class="secondary">Search</button></form>
<h2>${q ? html`Results for “${q}”` : 'All products'}</h2>
${q ? html`<p class="muted">What a customer asking this would be offered (active products only). <a href="/catalog">All products</a></p>` : ''}
${products.length === 0 ? html`<p>No products${q ? ' match' : ' yet'}.</p>` : ''}
<ul class="list">${products.map(
        (p) => html`<li><a href="/catalog/${p.id}"><strong>${p.name}</strong></a> ${stockBadge(p.stock)}${
          p.isActive ? '' : html` <span class="badge off">inactive</span>`
        }<br><span>${formatPrice(p.price, p.currency)}</span> <small class="muted">${p.sku ?? ''}${p.category ? ` · ${p.category}` : ''}</small></li>`,
      )}</ul>
${!q && pages > 1
  ? html`<nav aria-label="Pages" class="row">${page > 1 ? html`<a href="/catalog?page=${page - 1}">← Previous</a>` : ''}
<span class="muted">Page ${page} of ${pages}</span>${page < pages ? html`<a href="/catalog?page=${page + 1}">Next →</a>` : ''}</nav>`
  : ''}
<h2 id="import">Import from CSV or JSON</h2>
<form class="card" method="post" action="/catalog/import" enctype="multipart/form-data">${csrfField(req)}
<p class="muted">CSV header: <code>sku,name,description,category,brand,price,currency,stock,image_url</code> (only sku, name and price are required; add <code>variant_name,variant_sku,variant_price,variant_stock</code> for options, one line per option). A product whose SKU exists is updated. If any line has a problem, nothing is imported.</p>
<label for="csv">Paste CSV</label><textarea id="csv" name="csv"></textarea>
<label for="file">…or choose a file (.csv or .json)</label><input id="file" name="file" type="file" accept=".csv,.json,text/csv,application/json">
<p><button type="submit">Import</button></p></form>`,
    });
  });

  app.get('/catalog/new', owner, async (req, reply) =>
    sendPage(req, reply, {
      title: 'Add a product',
      active: '/catalog',
      body: html`<p><a href="/catalog">← Catalog</a></p><h1>Add a product</h1>
<form class="card" method="post" action="/catalog">${csrfField(req)}${productFields()}
<p><button type="submit">Add</button></p></form>`,
    }),
  );

  app.post('/catalog', owner, async (req, reply) => {
    const input = productForm(req);
    return formAction(req, reply, '/catalog/new', async () => {
      const p = await change(ctx, req, 'catalog.product_added', async (tx) => {
        const p = await createProduct(tx, input);
        return { result: p, detail: { id: p.id, sku: p.sku, name: p.name } };
      });
      return reply.redirect(`/catalog/${p.id}?ok=${encodeURIComponent('Product added. Add options and pictures below.')}`, 303);
    });
  });

  app.post('/catalog/import', owner, async (req, reply) => {
    const f = formOf(req);
    return formAction(req, reply, '/catalog', async () => {
      const uploaded = f('file');
      const text = uploaded.trim() ? uploaded : f('csv');
      const name = uploaded.trim() ? f('file__filename') || 'upload.csv' : 'pasted.csv';
      if (!text.trim()) return reply.redirect('/catalog?err=' + encodeURIComponent('Paste CSV or choose a file to import.'), 303);
      const format = /\.json$/i.test(name) || (!/\.csv$/i.test(name) && text.trimStart().startsWith('[')) ? 'json' : 'csv';
      // parsing reports the first bad row as FILE:LINE: problem; the import is one transaction
      const rows = parseCatalogText(text, format, name.replace(/[\r\n]/g, '').slice(0, 100));
      const r = await change(ctx, req, 'catalog.imported', async (tx) => {
        const result = await importCatalog(tx, rows);
        return { result, detail: { ...result, source: name } };
      });
      return `Imported: ${r.inserted} added, ${r.updated} updated, ${r.variants} options, ${r.images} pictures.`;
    });
  });

  app.get('/catalog/:id', owner, async (req, reply) => {
    const p = await inTenant(ctx, req, (tx, t) => getProduct(tx, t, paramOf(req, 'id')));
    if (!p) return notFound(req, reply);
    return sendPage(req, reply, {
      title: `Edit ${p.name}`,
      active: '/catalog',
      body: html`<p><a href="/catalog">← Catalog</a></p><h1>${p.name}</h1>
<p>${formatPrice(p.price, p.currency)} · ${stockBadge(p.stock)}${p.isActive ? '' : html` <span class="badge off">inactive</span>`}</p>
${p.stock === 0 ? html`<p class="muted">Out of stock: the bot still shows it, says it is out of stock and offers to tell the customer when it is back.</p>` : ''}
<form class="card" method="post" action="/catalog/${p.id}">${csrfField(req)}${productFields(p)}
<p><button type="submit">Save</button></p></form>
<h2>Options (sizes, colours, models)</h2>
${p.variants.length === 0 ? html`<p class="muted">No options.</p>` : ''}
<ul class="list">${p.variants.map((v) => variantRow(req, p, v))}</ul>
<form class="card" method="post" action="/catalog/${p.id}/variants">${csrfField(req)}
<div class="row"><div style="flex:2;min-width:9rem"><label for="nv-name">New option</label><input id="nv-name" name="name" type="text" required maxlength="200" placeholder="e.g. Black"></div>
<div style="flex:1;min-width:6rem"><label for="nv-sku">SKU</label><input id="nv-sku" name="sku" type="text" maxlength="64"></div>
<div style="flex:1;min-width:6rem"><label for="nv-price">Price</label><input id="nv-price" name="price" type="text" inputmode="decimal" placeholder="as product"></div>
<div style="flex:1;min-width:5rem"><label for="nv-stock">Stock</label><input id="nv-stock" name="stock" type="text" inputmode="numeric"></div></div>
<p><button type="submit">Add option</button></p></form>
<h2>Pictures</h2>
<ul class="list">${p.images.map(
        (i) => html`<li><a href="${i.url}" rel="noopener noreferrer">${i.url}</a>${i.url === p.imageUrl ? html` <span class="badge on">main</span>` : ''}
<form method="post" action="/catalog/${p.id}/images/${i.id}/delete">${csrfField(req)}<button type="submit" class="danger">Delete picture</button></form></li>`,
      )}</ul>
<form class="card" method="post" action="/catalog/${p.id}/images">${csrfField(req)}
<label for="img-url">Add a picture (URL)</label><input id="img-url" name="url" type="url" required maxlength="2000" placeholder="https://…">
<p><button type="submit">Add picture</button></p></form>
<h2>Delete</h2>
<form method="post" action="/catalog/${p.id}/delete">${csrfField(req)}<button class="danger" type="submit">Delete this product</button></form>`,
    });
  });

  app.post('/catalog/:id', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    const input = productForm(req);
    return formAction(req, reply, `/catalog/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'catalog.product_updated', async (tx, t) => {
        const p = await updateProduct(tx, t, id, input);
        if (!p) throw new NotFound();
        return { result: p, detail: { id: p.id, sku: p.sku, name: p.name } };
      });
      return 'Product saved.';
    });
  });

  app.post('/catalog/:id/delete', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    return formAction(req, reply, '/catalog', async () => {
      await change(ctx, req, 'catalog.product_deleted', async (tx, t) => {
        const p = await deleteProduct(tx, t, id);
        if (!p) throw new NotFound();
        return { result: p, detail: { id: p.id, sku: p.sku, name: p.name } };
      });
      return 'Product deleted.';
    });
  });

  app.post('/catalog/:id/variants', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    const input = variantForm(req);
    return formAction(req, reply, `/catalog/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'catalog.variant_added', async (tx, t) => {
        const v = await addVariant(tx, t, id, input);
        if (!v) throw new NotFound();
        return { result: v, detail: { productId: id, id: v.id, name: v.name } };
      });
      return 'Option added.';
    });
  });

  app.post('/catalog/:id/variants/:variantId', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    const input = variantForm(req);
    return formAction(req, reply, `/catalog/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'catalog.variant_updated', async (tx, t) => {
        const v = await updateVariant(tx, t, id, paramOf(req, 'variantId'), input);
        if (!v) throw new NotFound();
        return { result: v, detail: { productId: id, id: v.id, name: v.name } };
      });
      return 'Option saved.';
    });
  });

  app.post('/catalog/:id/variants/:variantId/delete', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    return formAction(req, reply, `/catalog/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'catalog.variant_deleted', async (tx, t) => {
        const v = await deleteVariant(tx, t, id, paramOf(req, 'variantId'));
        if (!v) throw new NotFound();
        return { result: v, detail: { productId: id, id: v.id, name: v.name } };
      });
      return 'Option deleted.';
    });
  });

  app.post('/catalog/:id/images', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    const url = formOf(req)('url');
    return formAction(req, reply, `/catalog/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'catalog.image_added', async (tx, t) => {
        const i = await addImage(tx, t, id, url);
        if (!i) throw new NotFound();
        return { result: i, detail: { productId: id, id: i.id, url: i.url } };
      });
      return 'Picture added.';
    });
  });

  app.post('/catalog/:id/images/:imageId/delete', owner, async (req, reply) => {
    const id = paramOf(req, 'id');
    return formAction(req, reply, `/catalog/${encodeURIComponent(id)}`, async () => {
      await change(ctx, req, 'catalog.image_deleted', async (tx, t) => {
        const i = await deleteImage(tx, t, id, paramOf(req, 'imageId'));
        if (!i) throw new NotFound();
        return { result: i, detail: { productId: id, id: i.id, url: i.url } };
      });
      return 'Picture deleted.';
    });
  });
}
