-- Tenant isolation policies compare tenant_id with the tenant setting through a scalar subquery,
-- `tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)`, instead of
-- the bare expression. Same rows, same index use (the subquery becomes an InitPlan evaluated once
-- per statement, and `tenant_id = $0` is still an index condition), but the planner no longer
-- folds the CURRENT tenant's id into its row estimates: it used to look that id up in the
-- column's statistics, and a tenant the last ANALYZE did not see (a new tenant, or one whose
-- rows arrived since) was estimated at one row. Every "by key" lookup then became a walk of that
-- tenant's tenant_id index, filtering for the key: measured on the rate-cap benchmark, the
-- statements that store an inbound message, record a wamid and claim messages scanned the
-- tenant's whole message log, and Postgres CPU per message grew with it. With the subquery the
-- estimate is the column's average share per tenant, and the key's own index wins.

-- Every existing tenant_isolation policy in the schema.
do $$
declare
  pol record;
begin
  for pol in
    select c.relname from pg_policy p join pg_class c on c.oid = p.polrelid
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'alphadome' and p.polname = 'tenant_isolation'
     order by 1
  loop
    execute format($f$alter policy tenant_isolation on alphadome.%I
                     using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
                     with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$f$,
                   pol.relname);
  end loop;
end $$;

-- Tables tenantized by later migrations get the same policy: tenantize() keeps doing what 0004
-- made it do, then rewrites the policy it created.
do $$
begin
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                  where n.nspname = 'alphadome' and p.proname = 'tenantize_0004') then
    alter function alphadome.tenantize(text) rename to tenantize_0004;
  end if;
end $$;
revoke execute on function alphadome.tenantize_0004(text) from public;

create or replace function alphadome.tenantize(p_table text) returns void
language plpgsql as $$
begin
  perform alphadome.tenantize_0004(p_table);
  execute format($f$alter policy tenant_isolation on alphadome.%I
                   using (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))
                   with check (tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid))$f$,
                 p_table);
end $$;
revoke execute on function alphadome.tenantize(text) from public;
