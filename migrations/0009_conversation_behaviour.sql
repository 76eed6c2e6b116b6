-- Conversation behaviour (issue 6): one answer per burst, handover, opt-out, business hours,
-- budgets. Additive and idempotent.

-- An inbound customer message is "handled" once the bot has answered it (alone or in a burst)
-- or decided not to (bot off, a person has taken over, opted out). A reply job answers every
-- unhandled message of its conversation, so a burst gets one answer and none gets two.
alter table alphadome.bot_message_logs add column if not exists handled_at timestamptz;
-- messages stored before this migration count as handled: no late answers to old messages
update alphadome.bot_message_logs set handled_at = coalesce(received_at, created_at)
 where direction = 'inbound' and handled_at is null
   and not exists (select 1 from alphadome.schema_migrations where name = '0009_conversation_behaviour.sql');
create index if not exists bot_message_logs_unhandled_idx
  on alphadome.bot_message_logs (tenant_id, conversation_id, created_at)
  where direction = 'inbound' and handled_at is null;

-- Business hours: the closed period in which the away message was last sent (at most once each),
-- and why the conversation was last handed to a person.
alter table alphadome.bot_conversations
  add column if not exists away_period text,
  add column if not exists handover_reason text;

-- Budget: LLM calls skipped because the monthly token budget was used up (a day with > 0 is a
-- day the bot answered from canned replies and FAQ only).
alter table alphadome.bot_usage_daily
  add column if not exists llm_skipped_budget integer not null default 0;

-- Budget events, at most one of each kind per tenant and month: 'alert_80', 'exhausted'.
create table if not exists alphadome.bot_budget_events (
  tenant_id uuid,
  month date not null,
  kind text not null check (kind in ('alert_80', 'exhausted')),
  tokens_used bigint not null default 0,
  token_budget bigint not null default 0,
  created_at timestamptz not null default now(),
  primary key (tenant_id, month, kind)
);
select alphadome.tenantize('bot_budget_events');

-- Output guard: names and numbers of the OTHER tenants, so an LLM answer that mentions another
-- business is refused. Only display data (no ids, no secrets), of active tenants.
create or replace function alphadome.foreign_tenant_markers(p_tenant uuid)
returns table (marker text)
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select m from (
    select t.client_name as m from alphadome.bot_tenants t where t.id <> p_tenant and t.is_active
    union
    select t.display_phone from alphadome.bot_tenants t where t.id <> p_tenant and t.is_active
  ) x where m is not null and length(m) >= 4
$$;
revoke execute on function alphadome.foreign_tenant_markers(uuid) from public;
grant execute on function alphadome.foreign_tenant_markers(uuid) to alphadome_app, alphadome_operator;
