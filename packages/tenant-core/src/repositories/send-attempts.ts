import type { Tx } from '../db.ts';

/**
 * What recording a wamid Meta gave one of our outbound rows came to:
 * - 'recorded': this call recorded it (and counted the send in usage, touched the conversation);
 * - 'same': the row already had this wamid (recorded by someone else first: the send path, or
 *   the status processor from a status webhook's callback data);
 * - 'other': the row has a different wamid: Meta accepted the message twice (a duplicate send);
 * - 'missing': no such outbound row for this tenant.
 */
export type RecordAcceptedResult = 'recorded' | 'same' | 'other' | 'missing';

/**
 * Record that Meta accepted outbound row `id` as `wamid`, exactly once whoever gets there first
 * (the send job after its Graph call, a retried send job that finds the wamid of an interrupted
 * attempt, or the status processor matching a status's biz_opaque_callback_data): the usage
 * count and the conversation's last-message time move only for the one that records it.
 *
 * ONE statement (so it can be pipelined with BEGIN and COMMIT: withTenantPipelined): mark the
 * row accepted with this wamid if it has none, and only then touch its conversation and count
 * the send; else say whether the row has this wamid ('same'), another ('other') or is missing.
 * A concurrent recorder: the update waits for its row lock and, once it commits, matches nothing
 * (READ COMMITTED rechecks `wamid is null` on the new version); the row is then read FOR SHARE,
 * which returns that committed version, so the answer is 'same'/'other', never a stale 'missing'
 * or a second count. If it rolls back, this call records.
 */
export async function recordOutboundAccepted(tx: Tx, tenantId: string, id: string, wamid: string, at = new Date()): Promise<RecordAcceptedResult> {
  const day = at.toISOString().slice(0, 10);
  const [row] = await tx<{ result: RecordAcceptedResult }[]>`
    with upd as (
      update alphadome.bot_message_logs
         set wamid = ${wamid},
             status = case when alphadome.message_status_rank(status) < alphadome.message_status_rank('accepted')
                           then 'accepted' else status end,
             status_at = now(), error_code = null, error_title = null
       where id = ${id} and direction = 'outbound' and wamid is null
      returning id, conversation_id
    ), touch as (
      update alphadome.bot_conversations c
         set last_message_at = greatest(c.last_message_at, ${at}), updated_at = now()
        from upd where c.id = upd.conversation_id
      returning c.id
    ), usage as (
      insert into alphadome.bot_usage_daily (tenant_id, day, shard, messages_out)
      select ${tenantId}, ${day}, alphadome.usage_shard(), 1 where exists (select 1 from upd)
      on conflict (tenant_id, day, shard) do update set messages_out = alphadome.bot_usage_daily.messages_out + 1
      returning 1
    ), cur as (
      select m.wamid from alphadome.bot_message_logs m where m.id = ${id} and m.direction = 'outbound' for share
    )
    select case when exists (select 1 from upd) then 'recorded'
                when not exists (select 1 from cur) then 'missing'
                when (select c.wamid from cur c) = ${wamid} then 'same'
                else 'other' end as result`;
  return row!.result;
}
