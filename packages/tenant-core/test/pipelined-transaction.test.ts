import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@alphadome/testkit/database';
import { withTenant, withTenantPipelined } from '../src/db.ts';
import { addUsage } from '../src/repositories/usage.ts';
import { CLAIM_CONFLICT, claimUnhandledOrFail, getConversationState, monthlyTokens } from '../src/repositories/conversation-state.ts';
import { upsertContactAndConversation } from '../src/repositories/conversations.ts';
import { getOutboundForSend, insertInboundMessage, insertOutboundMessageOnce } from '../src/repositories/messages.ts';
import { listUsage } from '../src/repositories/usage.ts';
import { recordOutboundAccepted } from '../src/repositories/send-attempts.ts';

/**
 * withTenantPipelined (the message path's transaction: BEGIN, the tenant and the statements in
 * one round trip): the same isolation as withTenant, statements in the order written, nothing
 * ever sent outside the transaction, a failure rolls everything back.
 */
let db: TestDatabase;
let A: string;
let B: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const mk = async (slug: string, phone: string) =>
    (await db.sql<{ id: string }[]>`insert into alphadome.bot_tenants (client_name, slug, whatsapp_phone_number_id) values (${slug}, ${slug}, ${phone}) returning id`)[0]!.id;
  A = await mk('pipe-a', '700000000001');
  B = await mk('pipe-b', '700000000002');
  const day = new Date().toISOString().slice(0, 10);
  await withTenant(db.sql, A, (tx) => addUsage(tx, A, { prompt_tokens: 100 }, day));
  await withTenant(db.sql, B, (tx) => addUsage(tx, B, { prompt_tokens: 5000 }, day));
});

afterAll(async () => {
  await db?.drop();
});

describe('withTenantPipelined', () => {
  it('runs every statement as the app role with the tenant set, with and without an early commit', async () => {
    const early = await withTenantPipelined(db.sql, A, async (tx, commit) => {
      const reads = Promise.all([
        tx<{ u: string; t: string }[]>`select current_user as u, current_setting('app.tenant_id', true) as t`.execute(),
        monthlyTokens(tx),
      ]);
      commit();
      return reads;
    });
    expect(early[0][0]).toEqual({ u: 'alphadome_app', t: A });
    expect(early[1]).toBe(100); // B's 5,000 tokens are invisible
    const late = await withTenantPipelined(db.sql, B, async (tx) => {
      const first = await monthlyTokens(tx);
      const [who] = await tx<{ u: string; t: string }[]>`select current_user as u, current_setting('app.tenant_id', true) as t`;
      return { first, who };
    });
    expect(late).toEqual({ first: 5000, who: { u: 'alphadome_app', t: B } });
  });

  it('refuses a statement sent after commit instead of running it outside the transaction', async () => {
    // written before commit() and sent in the same turn (as `await query` does): inside the transaction
    const [inside] = await withTenantPipelined(db.sql, A, async (tx, commit) => {
      const q = tx<{ n: number }[]>`select count(*)::int as n, current_user as u from alphadome.bot_usage_daily`;
      commit();
      return q;
    });
    expect(inside).toEqual({ n: 1, u: 'alphadome_app' });
    // written before commit(), sent after COMMIT went out: refused
    await expect(
      withTenantPipelined(db.sql, A, async (tx, commit) => {
        const late = tx`select count(*) from alphadome.bot_usage_daily`;
        commit();
        await new Promise((r) => setTimeout(r, 20));
        return late;
      }),
    ).rejects.toThrow(/after commit/);
    await expect(
      withTenantPipelined(db.sql, A, async (tx, commit) => {
        commit();
        return tx`select 1`;
      }),
    ).rejects.toThrow(/after commit/);
    // the connection went back to the pool clean: the next transaction works and is isolated
    expect(await withTenantPipelined(db.sql, A, (tx) => monthlyTokens(tx))).toBe(100);
  });

  it('rolls back everything when a statement fails, pipelined or not', async () => {
    const before = await withTenant(db.sql, A, (tx) => monthlyTokens(tx));
    await expect(
      withTenantPipelined(db.sql, A, async (tx, commit) => {
        const p = Promise.all([addUsage(tx, A, { prompt_tokens: 7 }), tx`select 1/0`.execute()]);
        commit();
        return p;
      }),
    ).rejects.toMatchObject({ code: '22012' });
    await expect(
      withTenantPipelined(db.sql, A, async (tx) => {
        await addUsage(tx, A, { prompt_tokens: 7 });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await withTenant(db.sql, A, (tx) => monthlyTokens(tx))).toBe(before);
  });

  it("cannot write another tenant's rows", async () => {
    await expect(withTenantPipelined(db.sql, A, (tx) => addUsage(tx, B, { prompt_tokens: 1 }))).rejects.toMatchObject({ code: '42501' });
  });

  it('claim_unhandled fails (and aborts what follows) unless every message is still unhandled', async () => {
    const { conv, ids } = await withTenant(db.sql, A, async (tx) => {
      const conv = await upsertContactAndConversation(tx, { tenantId: A, waId: '254700111222', at: new Date() });
      const ids: string[] = [];
      for (const w of ['wamid.claim1', 'wamid.claim2']) {
        const { row } = await insertInboundMessage(tx, {
          tenantId: A, conversationId: conv.id, wamid: w, waId: '254700111222', messageType: 'text', body: 'hi', payload: {}, receivedAt: new Date(),
        });
        ids.push(row.id);
      }
      return { conv, ids };
    });
    await withTenantPipelined(db.sql, A, (tx) => claimUnhandledOrFail(tx, conv.id, [ids[0]!]));
    const tokens = await withTenant(db.sql, A, (tx) => monthlyTokens(tx));
    await expect(
      withTenantPipelined(db.sql, A, async (tx, commit) => {
        const p = Promise.all([claimUnhandledOrFail(tx, conv.id, ids), addUsage(tx, A, { prompt_tokens: 9 })]);
        commit();
        return p;
      }),
    ).rejects.toMatchObject({ code: CLAIM_CONFLICT });
    expect(await withTenant(db.sql, A, (tx) => monthlyTokens(tx))).toBe(tokens);
    // the second message is still unhandled; B cannot claim A's messages (row level security)
    await expect(withTenantPipelined(db.sql, B, (tx) => claimUnhandledOrFail(tx, conv.id, [ids[1]!]))).rejects.toMatchObject({ code: CLAIM_CONFLICT });
    await withTenantPipelined(db.sql, A, (tx) => claimUnhandledOrFail(tx, conv.id, [ids[1]!]));
    expect(await withTenant(db.sql, A, (tx) => getConversationState(tx, { id: conv.id }))).toMatchObject({ id: conv.id });
  });

  it('the one-statement outbound helpers: stored once, read with the window, accepted and counted once', async () => {
    const waId = '254700333444';
    const conv = await withTenant(db.sql, A, (tx) => upsertContactAndConversation(tx, { tenantId: A, waId, at: new Date() }));
    const out = { tenantId: A, conversationId: conv.id, idempotencyKey: 'reply:wamid.pipe1', waId, messageType: 'text', body: 'hello', payload: { type: 'text' }, answerPath: 'canned' as const };
    const first = await withTenantPipelined(db.sql, A, (tx) => insertOutboundMessageOnce(tx, out));
    const again = await withTenantPipelined(db.sql, A, (tx) => insertOutboundMessageOnce(tx, { ...out, body: 'other' }));
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, row: { id: first.row!.id, body: 'hello' } });
    const read = await withTenantPipelined(db.sql, A, (tx) => getOutboundForSend(tx, out.idempotencyKey));
    expect(read!.row.id).toBe(first.row!.id);
    expect(read!.lastInboundAt).toBeInstanceOf(Date);
    expect(await withTenantPipelined(db.sql, B, (tx) => getOutboundForSend(tx, out.idempotencyKey))).toBeNull();
    const sentBefore = (await withTenant(db.sql, A, (tx) => listUsage(tx)))[0]?.messages_out ?? 0;
    expect(await withTenantPipelined(db.sql, A, (tx) => recordOutboundAccepted(tx, A, first.row!.id, 'wamid.out1'))).toBe('recorded');
    expect(await withTenantPipelined(db.sql, A, (tx) => recordOutboundAccepted(tx, A, first.row!.id, 'wamid.out1'))).toBe('same');
    expect(await withTenantPipelined(db.sql, A, (tx) => recordOutboundAccepted(tx, A, first.row!.id, 'wamid.out2'))).toBe('other');
    expect(await withTenantPipelined(db.sql, B, (tx) => recordOutboundAccepted(tx, B, first.row!.id, 'wamid.out3'))).toBe('missing');
    const [usage] = await withTenant(db.sql, A, (tx) => listUsage(tx));
    expect(usage!.messages_out).toBe(sentBefore + 1);
    const after = await withTenant(db.sql, A, (tx) => getOutboundForSend(tx, out.idempotencyKey));
    expect(after!.row).toMatchObject({ wamid: 'wamid.out1', status: 'accepted' });
  });

  it('recordOutboundAccepted against a concurrent recorder: one records and counts, the other sees its wamid', async () => {
    const waId = '254700555666';
    const conv = await withTenant(db.sql, A, (tx) => upsertContactAndConversation(tx, { tenantId: A, waId, at: new Date(Date.now() - 60_000) }));
    const mk = async (key: string) =>
      (await withTenantPipelined(db.sql, A, (tx) =>
        insertOutboundMessageOnce(tx, { tenantId: A, conversationId: conv.id, idempotencyKey: key, waId, messageType: 'text', body: 'x', payload: {}, answerPath: 'canned' }),
      )).row!.id;
    const sent = async () => (await withTenant(db.sql, A, (tx) => listUsage(tx)))[0]?.messages_out ?? 0;
    const lastMessageAt = async () =>
      (await withTenant(db.sql, A, (tx) => tx<{ t: Date }[]>`select last_message_at as t from alphadome.bot_conversations where id = ${conv.id}`))[0]!.t;

    // the first recorder holds its row lock until after the second has started: the second waits,
    // then reads the committed wamid ('same', not a second count; 'other' for a different wamid)
    for (const expected of ['same', 'other'] as const) {
      const id = await mk(`reply:race:${expected}`);
      const firstWamid = `wamid.race.${expected}`;
      const secondWamid = expected === 'same' ? firstWamid : `${firstWamid}.again`;
      const before = await sent();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = withTenant(db.sql, A, async (tx) => {
        const r = await recordOutboundAccepted(tx, A, id, firstWamid);
        await held;
        return r;
      });
      await new Promise((r) => setTimeout(r, 50));
      const second = withTenantPipelined(db.sql, A, (tx) => recordOutboundAccepted(tx, A, id, secondWamid));
      await new Promise((r) => setTimeout(r, 100));
      release();
      expect(await first).toBe('recorded');
      expect(await second).toBe(expected);
      expect(await sent()).toBe(before + 1);
    }

    // the first recorder rolls back: the waiting one records (and counts)
    const id = await mk('reply:race:rollback');
    const before = await sent();
    const at = new Date();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = withTenant(db.sql, A, async (tx) => {
      await recordOutboundAccepted(tx, A, id, 'wamid.race3');
      await held;
      throw new Error('rolled back');
    });
    await new Promise((r) => setTimeout(r, 50));
    const secondP = withTenantPipelined(db.sql, A, (tx) => recordOutboundAccepted(tx, A, id, 'wamid.race4', at));
    await new Promise((r) => setTimeout(r, 100));
    release();
    await expect(first).rejects.toThrow('rolled back');
    expect(await secondP).toBe('recorded');
    expect(await sent()).toBe(before + 1);
    expect((await lastMessageAt()).getTime()).toBeGreaterThanOrEqual(at.getTime());
    expect((await withTenant(db.sql, A, (tx) => getOutboundForSend(tx, 'reply:race:rollback')))!.row.wamid).toBe('wamid.race4');

    // only outbound rows: an inbound row's id is 'missing', nothing changed or counted
    const inbound = await withTenant(db.sql, A, (tx) =>
      insertInboundMessage(tx, { tenantId: A, conversationId: conv.id, wamid: 'wamid.in.race', waId, messageType: 'text', body: 'hi', payload: {}, receivedAt: new Date() }),
    );
    const before2 = await sent();
    expect(await withTenantPipelined(db.sql, A, (tx) => recordOutboundAccepted(tx, A, inbound.row.id, 'wamid.race5'))).toBe('missing');
    expect(await sent()).toBe(before2);
  });
});
