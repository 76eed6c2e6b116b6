-- The few cross-tenant reads, as SECURITY DEFINER functions that return only what they must.
-- Each pins search_path so a caller cannot shadow the tables it reads.

-- Routing: phone_number_id → tenant id and status. Used by ingress for every webhook item.
create or replace function alphadome.route_phone_number(p_phone_number_id text)
returns table (tenant_id uuid, status text)
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select t.id, case when t.is_active then 'active' else 'disabled' end
    from alphadome.bot_tenants t
   where t.whatsapp_phone_number_id = p_phone_number_id
$$;

-- Routing for a tenant that brings its own Meta app: slug → tenant id, status, and whether
-- that route is enabled for it (its secret is then read under withTenant).
create or replace function alphadome.route_tenant_slug(p_slug text)
returns table (tenant_id uuid, status text, own_meta_app boolean)
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select t.id, case when t.is_active then 'active' else 'disabled' end, t.own_meta_app
    from alphadome.bot_tenants t
   where t.slug = p_slug
$$;

-- Token-expiry scan for the maintenance job: ids and dates, no secrets.
create or replace function alphadome.token_expiry_scan(p_before timestamptz)
returns table (tenant_id uuid, expires_at timestamptz, credential_status text)
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select t.id, t.whatsapp_token_expires_at, t.credential_status
    from alphadome.bot_tenants t
   where t.is_active
     and ((t.whatsapp_token_expires_at is not null and t.whatsapp_token_expires_at < p_before)
          or t.credential_status in ('invalid', 'expired'))
$$;

-- Every tenant id (for maintenance jobs that then work per tenant under withTenant).
create or replace function alphadome.list_tenant_ids()
returns table (tenant_id uuid, is_active boolean)
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select t.id, t.is_active from alphadome.bot_tenants t order by t.created_at, t.id
$$;

revoke execute on function alphadome.route_phone_number(text) from public;
revoke execute on function alphadome.route_tenant_slug(text) from public;
revoke execute on function alphadome.token_expiry_scan(timestamptz) from public;
revoke execute on function alphadome.list_tenant_ids() from public;
grant execute on function alphadome.route_phone_number(text) to alphadome_app, alphadome_operator;
grant execute on function alphadome.route_tenant_slug(text) to alphadome_app, alphadome_operator;
grant execute on function alphadome.token_expiry_scan(timestamptz) to alphadome_app, alphadome_operator;
grant execute on function alphadome.list_tenant_ids() to alphadome_app, alphadome_operator;

-- Operator views of all tenants: metadata and activity, never secrets. Operator role only.
create or replace function alphadome.admin_list_tenants()
returns table (
  id uuid, slug text, client_name text, whatsapp_phone_number_id text,
  whatsapp_business_account_id text, display_phone text, is_active boolean, is_platform boolean,
  own_meta_app boolean, credential_status text, whatsapp_token_expires_at timestamptz,
  created_at timestamptz, last_message_at timestamptz, messages_7d bigint, failed_7d bigint
)
language sql stable security definer set search_path = pg_catalog, alphadome as $$
  select t.id, t.slug, t.client_name, t.whatsapp_phone_number_id, t.whatsapp_business_account_id,
         t.display_phone, t.is_active, t.is_platform, t.own_meta_app, t.credential_status,
         t.whatsapp_token_expires_at, t.created_at,
         (select max(c.last_message_at) from alphadome.bot_conversations c where c.tenant_id = t.id),
         (select count(*) from alphadome.bot_message_logs m
           where m.tenant_id = t.id and m.created_at > now() - interval '7 days'),
         (select count(*) from alphadome.bot_message_logs m
           where m.tenant_id = t.id and m.status = 'failed' and m.created_at > now() - interval '7 days')
    from alphadome.bot_tenants t
   order by t.created_at, t.id
$$;

-- Changes to routing columns (slug, phone number id) are operator actions.
create or replace function alphadome.admin_update_tenant_routing(
  p_id uuid, p_slug text, p_phone_number_id text, p_own_meta_app boolean)
returns void
language plpgsql security definer set search_path = pg_catalog, alphadome as $$
begin
  update alphadome.bot_tenants
     set slug = coalesce(p_slug, slug),
         whatsapp_phone_number_id = coalesce(p_phone_number_id, whatsapp_phone_number_id),
         own_meta_app = coalesce(p_own_meta_app, own_meta_app)
   where id = p_id;
  if not found then
    raise exception 'tenant % not found', p_id using errcode = 'no_data_found';
  end if;
end $$;

revoke execute on function alphadome.admin_list_tenants() from public;
revoke execute on function alphadome.admin_update_tenant_routing(uuid, text, text, boolean) from public;
grant execute on function alphadome.admin_list_tenants() to alphadome_operator;
grant execute on function alphadome.admin_update_tenant_routing(uuid, text, text, boolean) to alphadome_operator;

-- Functions are executable by PUBLIC by default; the helpers need no caller but the owner.
revoke execute on function alphadome.refuse_plaintext_credentials() from public;
revoke execute on function alphadome.touch_updated_at() from public;

-- FORCE row level security binds the tables' owner too. Where the owner is neither superuser
-- nor BYPASSRLS (a plain managed-Postgres role), the definer functions above and the migration
-- runner run as that owner and need to read across tenants: give the owner — and only the
-- owner, never alphadome_app — a policy of its own on the tables they read.
do $$
declare t text;
begin
  if (select rolsuper or rolbypassrls from pg_roles where rolname = current_user) then
    return;
  end if;
  foreach t in array array['bot_tenants', 'bot_tenant_secrets', 'bot_conversations', 'bot_message_logs'] loop
    execute format('drop policy if exists owner_maintenance on alphadome.%I', t);
    execute format('create policy owner_maintenance on alphadome.%I to %I using (true) with check (true)', t, current_user);
  end loop;
end $$;
