import type { Command } from 'commander';
import { appendAudit, requireTenantIdBySlug, setConversationHandover, withTenant } from '@alphadome/tenant-core';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

/**
 * `alphadome conversation handback <slug> <wa_id>` / `takeover`: give a conversation back to
 * the bot after a person handled it (or take it over), as the dashboard's buttons do.
 */
export async function conversationSetMode(ctx: CliContext, slug: string, waId: string, mode: 'bot' | 'human'): Promise<void> {
  const who = waId.replace(/^\+/, '').trim();
  if (!/^(\d{6,20}|US\.[A-Za-z0-9._-]+)$/.test(who)) throw new UsageError('<wa_id>: a phone number in digits (or a business-scoped id)');
  const sql = ctx.sql();
  const id = await requireTenantIdBySlug(sql, slug);
  const result = await withTenant(sql, id, async (tx) => {
    const [conv] = await tx<{ id: string; mode: string }[]>`select id, mode from alphadome.bot_conversations where wa_id = ${who}`;
    if (!conv) return null;
    const changed = await setConversationHandover(tx, conv.id, mode, mode === 'human' ? 'operator_takeover' : null);
    if (changed) {
      await appendAudit(tx, {
        tenantId: id,
        actor: ctx.actor,
        action: mode === 'bot' ? 'conversation.handback' : 'conversation.takeover',
        detail: { conversationId: conv.id, mode },
      });
    }
    return { conversationId: conv.id, mode, changed };
  });
  if (!result) throw new UsageError(`no conversation with ${who} at ${slug}`);
  ctx.result(result, () =>
    ctx.out(
      result.changed
        ? mode === 'bot'
          ? `handed back to the bot: ${who} at ${slug}`
          : `taken over: the bot stays quiet with ${who} at ${slug}`
        : `already ${mode === 'bot' ? 'with the bot' : 'with a person'}: ${who} at ${slug}`,
    ),
  );
}

type Leaf = (parent: Command, name: string, description: string) => Command;
type Act = <A extends unknown[]>(fn: (ctx: CliContext, ...args: A) => Promise<void>) => (...args: unknown[]) => Promise<void>;

export function registerConversationCommands(program: Command, leaf: Leaf, act: Act): void {
  const conversation = program.command('conversation').description('who answers a customer: the bot or a person');
  leaf(conversation, 'handback', 'give a conversation back to the bot')
    .argument('<slug>')
    .argument('<wa_id>', "the customer's WhatsApp number")
    .action(act((ctx, slug: string, waId: string) => conversationSetMode(ctx, slug, waId, 'bot')));
  leaf(conversation, 'takeover', 'a person takes the conversation over (the bot stays quiet)')
    .argument('<slug>')
    .argument('<wa_id>', "the customer's WhatsApp number")
    .action(act((ctx, slug: string, waId: string) => conversationSetMode(ctx, slug, waId, 'human')));
}
