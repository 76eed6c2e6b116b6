-- The worker's reply path (issue 9): claim a conversation's unhandled inbound messages in one
-- statement that FAILS when it cannot claim them all, so the writes pipelined behind it in the
-- same transaction (the reply, usage) abort with it and nothing is half-written. SECURITY
-- INVOKER: it runs as the caller (alphadome_app under withTenant), row level security applies.
create or replace function alphadome.claim_unhandled(p_conversation uuid, p_ids uuid[])
returns integer
language plpgsql volatile security invoker set search_path = pg_catalog, alphadome as $$
declare
  n integer;
begin
  -- one writer per conversation: its row is locked first, then the messages
  perform 1 from alphadome.bot_conversations where id = p_conversation for update;
  select count(*) into n from (
    select id from alphadome.bot_message_logs
     where id = any(p_ids) and handled_at is null
     for update
  ) free;
  if n <> coalesce(cardinality(p_ids), 0) then
    raise exception 'messages already handled by another job' using errcode = 'AD409';
  end if;
  update alphadome.bot_message_logs set handled_at = now() where id = any(p_ids);
  return n;
end
$$;
revoke execute on function alphadome.claim_unhandled(uuid, uuid[]) from public;
grant execute on function alphadome.claim_unhandled(uuid, uuid[]) to alphadome_app;

-- The inbound fast path (issue 9): a new customer message in a bot conversation of an active
-- tenant is stored and committed in one round trip; this check, pipelined behind the storing
-- statements, fails (SQLSTATE AD412: the whole transaction rolls back) when any other case
-- applies — a duplicate, the bot or tenant off, a person in charge, an opted-out customer —
-- and the worker redoes the message on the full path. SECURITY INVOKER: row level security
-- applies; the message id comes from the transaction-local setting storeInbound leaves.
create or replace function alphadome.require_inbound_fastpath()
returns void
language plpgsql volatile security invoker set search_path = pg_catalog, alphadome as $$
begin
  if not exists (
    select 1
      from alphadome.bot_message_logs m
      join alphadome.bot_conversations c on c.id = m.conversation_id
      join alphadome.bot_contacts k on k.id = c.contact_id
      join alphadome.bot_tenants t on t.id = m.tenant_id
      left join alphadome.bot_control_settings s on s.tenant_id = t.id
     where m.id = nullif(current_setting('alphadome.inbound_created', true), '')::uuid
       and m.handled_at is null
       and t.is_active
       and s.bot_enabled is distinct from false
       and c.mode = 'bot'
       and k.opted_out_at is null
  ) then
    raise exception 'inbound message needs the full path' using errcode = 'AD412';
  end if;
end
$$;
revoke execute on function alphadome.require_inbound_fastpath() from public;
grant execute on function alphadome.require_inbound_fastpath() to alphadome_app;
