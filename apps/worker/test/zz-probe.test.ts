import { it } from 'vitest';
import { catalogReply, createTenant, importCatalog, searchCatalog, withTenant } from '@alphadome/tenant-core';
import { createTestDatabase } from '@alphadome/testkit/database';
import { musicShopCatalog } from '@alphadome/testkit/music-catalog';

const QS = `do you have guitars?|gitar|cheapest keyboard|guitars under 20000|is the Yamaha P-45 available|bei ya gitaa|how much is the Shure SM58?|sm 58 mic|microphones|mikrofon|drums|electric guitar|acoustic gitars|bass guitar|ukelele|violins|do you have capo|guitar strings|super slinky|most expensive electric guitar|amplifier between 5000 and 10000|sustain pedal for keyboard|una piano?|nataka kinanda|naomba bei ya ngoma|kinanda ya bei nafuu|gitaa chini ya elfu 20|Yamaha P-45 iko?|mnauza fidla?|Do you sell pianos|keybord|yamaha p45|cheapest microphone|djembe|cajon price|drum sticks|Roland FP-10 in stock?|digital piano below 20k|Can I pay for a piano in monthly instalments through my sacco?|do you repair guitars|what time do you open?|headphones|saxophone|Les Paul|spika|Katana amp|casio keyboard under 25k|trumpet|clip on tuner|Do you deliver to Mombasa?|hi|Gibson Les Paul available?|cymbals|recorder for school|gig bag`.split('|');
it('probe', async () => {
  const db = await createTestDatabase();
  const t = await createTenant(db.sql, { slug: 'k', clientName: 'K', phoneNumberId: '1' });
  await withTenant(db.sql, t.id, (tx) => importCatalog(tx, musicShopCatalog(200, 1)));
  for (const q of QS) {
    const r = await withTenant(db.sql, t.id, (tx) => searchCatalog(tx, q));
    const p = catalogReply('2547', r);
    const d = !p ? 'NONE' : p.type === 'image' || p.type === 'text' ? `ONE ${r.products[0]!.name}` : p.type === 'interactive' && p.interactive.type === 'list' ? `LIST(${p.interactive.action.sections[0]!.rows.length}) ${p.interactive.action.sections[0]!.rows.slice(0,4).map((x) => x.title + ' [' + x.description + ']').join('; ')}` : p.type;
    console.log(`${q} → ${r.partial ? 'PARTIAL ' : ''}${d}`);
  }
  await db.drop();
}, 60000);
