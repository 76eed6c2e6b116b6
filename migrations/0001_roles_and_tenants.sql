-- Roles, schema, and the tenants table.
-- Runs as the owner (the role the migrator logs in as). Applies to an empty database and to
-- the legacy installation, whose alphadome.bot_tenants already exists with plaintext
-- credential columns: every statement here is additive and idempotent.

create extension if not exists pg_trgm;
create extension if not exists unaccent;

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'alphadome_app') then
    create role alphadome_app nologin nobypassrls noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'alphadome_operator') then
    create role alphadome_operator nologin nobypassrls noinherit;
  end if;
end $$;

-- The login role used by the apps must be able to `set role alphadome_app` inside withTenant.
-- (A superuser can anyway; on Supabase the `postgres` role is not one.)
do $$
begin
  if not exists (
    select 1 from pg_auth_members m
      join pg_roles r on r.oid = m.roleid
      join pg_roles u on u.oid = m.member
     where r.rolname = 'alphadome_app' and u.rolname = current_user
  ) and not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant alphadome_app to %I', current_user);
  end if;
  if not exists (
    select 1 from pg_auth_members m
      join pg_roles r on r.oid = m.roleid
      join pg_roles u on u.oid = m.member
     where r.rolname = 'alphadome_operator' and u.rolname = current_user
  ) and not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant alphadome_operator to %I', current_user);
  end if;
end $$;

create schema if not exists alphadome;
grant usage on schema alphadome to alphadome_app, alphadome_operator;

-- The tenants table keeps its legacy name and columns.
create table if not exists alphadome.bot_tenants (
  id uuid primary key default gen_random_uuid(),
  client_name text not null,
  client_phone text,
  brand_id uuid,
  whatsapp_phone_number_id text,
  whatsapp_business_account_id text,
  whatsapp_access_token text,
  whatsapp_token_expires_at timestamptz,
  ai_provider text default 'openai',
  ai_api_key text,
  ai_model text,
  is_active boolean not null default true,
  webhook_verify_token text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table alphadome.bot_tenants
  add column if not exists slug text,
  add column if not exists display_phone text,
  add column if not exists own_meta_app boolean not null default false,
  add column if not exists is_platform boolean not null default false,
  add column if not exists credential_status text not null default 'missing',
  add column if not exists credential_checked_at timestamptz,
  add column if not exists currency text not null default 'KES',
  add column if not exists timezone text not null default 'Africa/Nairobi',
  add column if not exists coexistence boolean not null default false;

alter table alphadome.bot_tenants alter column ai_provider set default 'openai';

-- Legacy rows have no slug: derive one from the client name (at most 50 characters, so it
-- passes bot_tenants_slug_format). Names that differ only in punctuation or case derive the
-- same text ("Duka la Juma" / "Duka la Juma."): the first keeps it, the others get a piece of
-- their id, so the unique index below can always be built.
update alphadome.bot_tenants t
   set slug = case when s.n = 1 then s.base else s.base || '-' || left(s.id::text, 8) end
  from (
    select b.id, b.base, row_number() over (partition by b.base order by b.created_at, b.id) as n
      from (
        select id, created_at,
               coalesce(nullif(trim(both '-' from left(regexp_replace(lower(client_name), '[^a-z0-9]+', '-', 'g'), 50)), ''),
                        'tenant') as base
          from alphadome.bot_tenants where slug is null
      ) b
  ) s
 where t.id = s.id;

-- The tenant id every policy compares against. A generated column keeps bot_tenants under
-- the same policy shape as every other tenant-owned table.
do $$
begin
  if not exists (select 1 from information_schema.columns
                  where table_schema = 'alphadome' and table_name = 'bot_tenants' and column_name = 'tenant_id') then
    alter table alphadome.bot_tenants add column tenant_id uuid generated always as (id) stored;
  end if;
end $$;

create unique index if not exists bot_tenants_slug_key on alphadome.bot_tenants (slug);
create unique index if not exists bot_tenants_phone_number_id_key
  on alphadome.bot_tenants (whatsapp_phone_number_id) where whatsapp_phone_number_id is not null;
alter table alphadome.bot_tenants alter column slug set not null;

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'bot_tenants_slug_format') then
    alter table alphadome.bot_tenants add constraint bot_tenants_slug_format
      check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$') not valid;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'bot_tenants_credential_status_check') then
    alter table alphadome.bot_tenants add constraint bot_tenants_credential_status_check
      check (credential_status in ('missing', 'valid', 'invalid', 'expired'));
  end if;
end $$;

-- Plaintext credentials are legacy: new writes are refused. Rows that still hold them are
-- moved into bot_tenant_secrets by the migration runner (it needs the keyring) right after
-- the SQL migrations, which then clears these columns.
create or replace function alphadome.refuse_plaintext_credentials() returns trigger
language plpgsql as $$
begin
  if (new.whatsapp_access_token is not null
        and (tg_op = 'INSERT' or new.whatsapp_access_token is distinct from old.whatsapp_access_token))
     or (new.ai_api_key is not null
        and (tg_op = 'INSERT' or new.ai_api_key is distinct from old.ai_api_key)) then
    raise exception 'plaintext credentials are not stored in bot_tenants; use the secrets store'
      using errcode = 'check_violation';
  end if;
  return new;
end $$;

drop trigger if exists bot_tenants_refuse_plaintext on alphadome.bot_tenants;
create trigger bot_tenants_refuse_plaintext before insert or update on alphadome.bot_tenants
  for each row execute function alphadome.refuse_plaintext_credentials();

create or replace function alphadome.touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;

drop trigger if exists bot_tenants_touch on alphadome.bot_tenants;
create trigger bot_tenants_touch before update on alphadome.bot_tenants
  for each row execute function alphadome.touch_updated_at();

-- The isolation policy, applied the same way to every tenant-owned table.
-- tenantize(table): tenant_id column (backfilled from the legacy bot_tenant_id), defaulting to
-- the transaction's tenant, RLS enabled and FORCED, the one policy, and DML for the app role.
create or replace function alphadome.tenantize(p_table text) returns void
language plpgsql as $$
declare
  has_legacy boolean;
  has_tenant boolean;
begin
  select exists (select 1 from information_schema.columns
                  where table_schema = 'alphadome' and table_name = p_table and column_name = 'tenant_id')
    into has_tenant;
  select exists (select 1 from information_schema.columns
                  where table_schema = 'alphadome' and table_name = p_table and column_name = 'bot_tenant_id')
    into has_legacy;

  if not has_tenant then
    execute format('alter table alphadome.%I add column tenant_id uuid', p_table);
  end if;
  if has_legacy then
    execute format('update alphadome.%I set tenant_id = bot_tenant_id where tenant_id is null', p_table);
    -- the new code writes tenant_id only; the legacy key stays for the data it holds
    execute format('alter table alphadome.%I alter column bot_tenant_id drop not null', p_table);
  end if;

  if p_table <> 'bot_tenants' then
    execute format($f$alter table alphadome.%I alter column tenant_id
                     set default nullif(current_setting('app.tenant_id', true), '')::uuid$f$, p_table);
    if not exists (select 1 from pg_constraint where conname = p_table || '_tenant_id_not_null') then
      -- NOT VALID: legacy rows without a tenant stay (invisible to every tenant), new ones can't
      execute format('alter table alphadome.%I add constraint %I check (tenant_id is not null) not valid',
                     p_table, p_table || '_tenant_id_not_null');
    end if;
    if not exists (select 1 from pg_constraint where conname = p_table || '_tenant_id_fkey') then
      execute format('alter table alphadome.%I add constraint %I foreign key (tenant_id)
                        references alphadome.bot_tenants (id) on delete cascade not valid',
                     p_table, p_table || '_tenant_id_fkey');
    end if;
    execute format('create index if not exists %I on alphadome.%I (tenant_id)', p_table || '_tenant_id_idx', p_table);
  end if;

  execute format('alter table alphadome.%I enable row level security', p_table);
  execute format('alter table alphadome.%I force row level security', p_table);
  execute format('drop policy if exists tenant_isolation on alphadome.%I', p_table);
  execute format($f$create policy tenant_isolation on alphadome.%I
                     using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
                     with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$f$,
                 p_table);
  execute format('grant select, insert, update, delete on alphadome.%I to alphadome_app', p_table);
end $$;

select alphadome.tenantize('bot_tenants');
-- a tenant may not rename its own id or move rows; only these columns change under RLS
revoke update on alphadome.bot_tenants from alphadome_app;
grant update (client_name, client_phone, display_phone, whatsapp_business_account_id,
              whatsapp_token_expires_at, ai_model, is_active, credential_status,
              credential_checked_at, currency, timezone, coexistence, updated_at)
  on alphadome.bot_tenants to alphadome_app;
