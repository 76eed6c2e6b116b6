-- Close what the installation this replaces left open, on tables that are now tenant-owned.
--
-- 1. Its RLS policies `USING (true)`: policies of the same command are OR-ed, so one left
--    beside tenant_isolation lets alphadome_app read and write every tenant's rows. On a
--    tenant table the only permissive policies are tenant_isolation (everyone) and
--    owner_maintenance (the owner, see 0003); any other permissive policy is dropped.
--    Restrictive policies only narrow access and stay.
-- 2. Its grants to PUBLIC (and Supabase's anon / authenticated): a PUBLIC UPDATE on
--    bot_tenants would void the column list granted to alphadome_app (a tenant could rewrite
--    its slug or phone number id, i.e. its routing). Tenant tables are reachable by the roles
--    tenantize grants to, and the owner, only.
-- 3. Its SECURITY DEFINER function returning whole tenant rows (tokens included) to anyone:
--    no definer function in the schema is executable by PUBLIC / anon / authenticated; the
--    ones the platform needs were granted to alphadome_app / alphadome_operator by name.
-- 4. Its other tables keyed by bot_tenant_id (the catalog: bot_products, …) hold tenant data
--    too: they are tenantized like the rest.
--
-- tenantize() is redefined to do 1 and 2 itself, so a table tenantized by a later migration
-- gets the same treatment.

create or replace function alphadome.tenantize(p_table text) returns void
language plpgsql as $$
declare
  has_legacy boolean;
  has_tenant boolean;
  pol record;
  r text;
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
  for pol in
    select p.polname from pg_policy p
     where p.polrelid = format('alphadome.%I', p_table)::regclass
       and p.polpermissive
       and p.polname not in ('tenant_isolation', 'owner_maintenance')
  loop
    execute format('drop policy %I on alphadome.%I', pol.polname, p_table);
  end loop;

  execute format('revoke all on alphadome.%I from public', p_table);
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = r) then
      execute format('revoke all on alphadome.%I from %I', p_table, r);
    end if;
  end loop;
  execute format('grant select, insert, update, delete on alphadome.%I to alphadome_app', p_table);
end $$;

revoke execute on function alphadome.tenantize(text) from public;

-- Legacy tables keyed by bot_tenant_id that no migration has tenantized yet.
do $$
declare t text;
begin
  for t in
    select c.table_name from information_schema.columns c
      join information_schema.tables tb on tb.table_schema = c.table_schema and tb.table_name = c.table_name
     where c.table_schema = 'alphadome' and c.column_name = 'bot_tenant_id' and tb.table_type = 'BASE TABLE'
       and not exists (select 1 from pg_policy p
                        where p.polrelid = format('alphadome.%I', c.table_name)::regclass
                          and p.polname = 'tenant_isolation')
     order by 1
  loop
    perform alphadome.tenantize(t);
  end loop;
end $$;

-- 1 and 2 for the tables tenantized before this migration (not by re-running tenantize, which
-- would undo the narrower grants some of them were given afterwards: bot_tenants, bot_audit_log).
do $$
declare
  t text;
  pol record;
  r text;
begin
  for t in
    select c.relname from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'alphadome' and c.relkind in ('r', 'p')
       and exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_isolation')
     order by 1
  loop
    for pol in
      select p.polname from pg_policy p
       where p.polrelid = format('alphadome.%I', t)::regclass
         and p.polpermissive
         and p.polname not in ('tenant_isolation', 'owner_maintenance')
    loop
      execute format('drop policy %I on alphadome.%I', pol.polname, t);
    end loop;
    execute format('revoke all on alphadome.%I from public', t);
    foreach r in array array['anon', 'authenticated'] loop
      if exists (select 1 from pg_roles where rolname = r) then
        execute format('revoke all on alphadome.%I from %I', t, r);
      end if;
    end loop;
  end loop;
end $$;

-- No SECURITY DEFINER function of the schema runs for PUBLIC / anon / authenticated.
do $$
declare
  f regprocedure;
  r text;
begin
  for f in
    select p.oid::regprocedure from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'alphadome' and p.prosecdef
  loop
    execute format('revoke execute on function %s from public', f);
    foreach r in array array['anon', 'authenticated'] loop
      if exists (select 1 from pg_roles where rolname = r) then
        execute format('revoke execute on function %s from %I', f, r);
      end if;
    end loop;
  end loop;
end $$;
