-- Foreign keys between tenant tables carry the tenant.
--
-- Referential integrity checks bypass row level security (as they must), so a plain
-- `contact_id references bot_contacts (id)` lets tenant A point a row at tenant B's contact
-- (B's id is all it needs), learn from the error whether an id exists in B's rows, and have
-- B's delete cascade into A's data. Keyed on (tenant_id, id) instead, a reference can only
-- reach a row of the same tenant.
--
-- scope_tenant_foreign_keys() rewrites every single-column foreign key from one tenant table
-- to another (tables with the tenant_isolation policy) as (tenant_id, col) → (tenant_id, key),
-- keeping its name, its ON DELETE action (SET NULL / SET DEFAULT touch the column only) and
-- whether it was validated. Idempotent. A later migration that adds such a foreign key ends
-- with `select alphadome.scope_tenant_foreign_keys();` (isolation.test.ts checks it did).

create or replace function alphadome.scope_tenant_foreign_keys() returns void
language plpgsql as $$
declare
  fk record;
  on_delete text;
  on_update text;
  deferral text;
begin
  for fk in
    select k.conname, c.relname as child, a.attname as col, rc.relname as parent, ra.attname as refcol,
           k.confdeltype, k.confupdtype, k.condeferrable, k.condeferred, k.convalidated
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_class rc on rc.oid = k.confrelid
      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
      join pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = k.confkey[1]
     where k.contype = 'f' and cardinality(k.conkey) = 1
       and c.relnamespace = 'alphadome'::regnamespace and rc.relnamespace = 'alphadome'::regnamespace
       and a.attname <> 'tenant_id'
       and exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_isolation')
       and exists (select 1 from pg_policy p where p.polrelid = rc.oid and p.polname = 'tenant_isolation')
     order by c.relname, k.conname
  loop
    execute format('create unique index if not exists %I on alphadome.%I (tenant_id, %I)',
                   left(fk.parent || '_tenant_' || fk.refcol || '_key', 63), fk.parent, fk.refcol);
    on_delete := case fk.confdeltype
                   when 'c' then ' on delete cascade'
                   when 'r' then ' on delete restrict'
                   when 'n' then format(' on delete set null (%I)', fk.col)
                   when 'd' then format(' on delete set default (%I)', fk.col)
                   else '' end;
    on_update := case fk.confupdtype when 'c' then ' on update cascade' when 'r' then ' on update restrict' else '' end;
    deferral := case when fk.condeferrable then ' deferrable' || case when fk.condeferred then ' initially deferred' else '' end
                     else '' end;
    execute format('alter table alphadome.%I drop constraint %I', fk.child, fk.conname);
    execute format('alter table alphadome.%I add constraint %I foreign key (tenant_id, %I)
                      references alphadome.%I (tenant_id, %I)%s%s%s not valid',
                   fk.child, fk.conname, fk.col, fk.parent, fk.refcol, on_delete, on_update, deferral);
    if fk.convalidated then
      execute format('alter table alphadome.%I validate constraint %I', fk.child, fk.conname);
    end if;
  end loop;
end $$;

revoke execute on function alphadome.scope_tenant_foreign_keys() from public;

select alphadome.scope_tenant_foreign_keys();
