-- Delivery under pressure (issue 5): alerts sent once, and the platform's own number.

-- One row per alert that went out about a tenant (credentials rejected, token expiring in
-- 14/3/1 days…). The unique key makes "once" hold however many workers see the condition at
-- the same moment: the one whose insert wins sends it.
create table if not exists alphadome.bot_alerts (
  id bigint generated always as identity primary key,
  tenant_id uuid,
  kind text not null,
  dedupe_key text not null,
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
select alphadome.tenantize('bot_alerts');
create unique index if not exists bot_alerts_tenant_dedupe_key on alphadome.bot_alerts (tenant_id, dedupe_key);
-- a record of what was sent: never rewritten by the application
revoke update on alphadome.bot_alerts from alphadome_app;

-- Alerts to a tenant's escalation phone go out from the platform's own number (the tenant
-- with is_platform): its id only, the sender then works under withTenant for that tenant.
create or replace function alphadome.platform_tenant_id()
returns uuid
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select t.id from alphadome.bot_tenants t
   where t.is_platform and t.is_active and t.whatsapp_phone_number_id is not null
   order by t.created_at, t.id limit 1
$$;
revoke execute on function alphadome.platform_tenant_id() from public;
grant execute on function alphadome.platform_tenant_id() to alphadome_app, alphadome_operator;
