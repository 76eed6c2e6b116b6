/**
 * Catalog search latency for a 10,000-product catalog: a fresh migrated database, the seeded
 * music-shop catalog for one tenant (and a small one for a second tenant, so RLS and the tenant
 * filter have something to filter), then ~500 customer questions of mixed kinds (categories,
 * plurals, misspellings, model numbers, price limits and orders, Swahili). Each search is timed
 * around its one statement on a warm connection inside the tenant's transaction, i.e. the time
 * in the database plus a loopback round trip.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { createSql, createTenant, importCatalog, migrate, searchCatalog, withTenant } from '@alphadome/tenant-core';
import { musicShopCatalog } from '@alphadome/testkit/music-catalog';

const log = (line: string) => process.stderr.write(`[catalog] ${line}\n`);

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

function mixedQuestions(names: string[], n: number): string[] {
  const fixed = [
    'do you have guitars?', 'gitar', 'cheapest keyboard', 'guitars under 20000', 'is the Yamaha P-45 available',
    'bei ya gitaa', 'una piano?', 'keybord', 'acoustic gitars below 20k', 'most expensive electric guitar',
    'microphones', 'drums', 'nataka kinanda', 'naomba bei ya ngoma', 'ukelele', 'violins', 'guitar strings',
    'amplifier between 5000 and 10000', 'sm58', 'kinanda ya bei nafuu', 'gitaa chini ya elfu 20', 'bass guitar',
    'digital piano less than 100,000', 'cymbals', 'mnauza fidla?', 'what time do you open?', 'yamaha', 'casio keyboards',
    'fender amp', 'condenser mic', 'drum kit under 50k', 'electronic drums', 'capo', 'super slinky', 'saxaphone',
  ];
  const out: string[] = [];
  let i = 0;
  while (out.length < n) {
    const k = i++;
    if (k % 3 === 0) out.push(fixed[(k / 3) % fixed.length]!);
    else if (k % 3 === 1) out.push(`is the ${names[(k * 7919) % names.length]} available`);
    else out.push(`${names[(k * 104729) % names.length]!.split(' ').slice(0, 2).join(' ')} price`);
  }
  return out;
}

export async function runCatalogBench(): Promise<{ p50_ms: number; p99_ms: number }> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `alphadome_bench_catalog_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const sql = createSql({ url: url.toString(), max: 1, name: 'alphadome-bench-catalog' });
  try {
    await migrate(sql);
    const shop = await createTenant(sql, { slug: 'kassangas', clientName: 'Kassangas Music Shop', phoneNumberId: '106540352242922' });
    const other = await createTenant(sql, { slug: 'other', clientName: 'Other', phoneNumberId: '200000000000001' });
    const catalog = musicShopCatalog(10_000, 1);
    let t = performance.now();
    await withTenant(sql, shop.id, (tx) => importCatalog(tx, catalog));
    await withTenant(sql, other.id, (tx) => importCatalog(tx, musicShopCatalog(200, 2)));
    await sql`analyze alphadome.bot_products`;
    await sql`analyze alphadome.bot_product_variants`;
    log(`imported 10,000 products in ${Math.round(performance.now() - t)} ms`);

    const questions = mixedQuestions(catalog.map((r) => r.name), 500);
    const times: number[] = [];
    let found = 0;
    await withTenant(sql, shop.id, async (tx) => {
      for (const q of questions.slice(0, 50)) await searchCatalog(tx, q); // warm up caches and the plan
      for (const q of questions) {
        t = performance.now();
        const r = await searchCatalog(tx, q);
        times.push(performance.now() - t);
        if (r.products.length > 0) found++;
      }
    });
    times.sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 100) / 100;
    log(`${times.length} questions, ${found} with products; max ${round(times[times.length - 1] ?? 0)} ms`);
    return { p50_ms: round(percentile(times, 50)), p99_ms: round(percentile(times, 99)) };
  } finally {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end();
  }
}
