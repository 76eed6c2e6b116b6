-- Tenant-owned tables. Legacy tables (bot_templates, bot_training_data, bot_control_settings,
-- bot_message_logs keyed by bot_tenant_id) may already exist: create if missing, then add
-- what is missing, then tenantize.

revoke execute on function alphadome.tenantize(text) from public;

-- Secrets: AES-256-GCM ciphertext, nonce and tag, with the id of the key that sealed it.
-- AAD = tenant id + kind, so a ciphertext copied to another row does not open.
create table if not exists alphadome.bot_tenant_secrets (
  tenant_id uuid not null,
  kind text not null check (kind in ('whatsapp_token', 'meta_app_secret', 'openai_key')),
  key_id text not null,
  nonce bytea not null,
  ciphertext bytea not null,
  auth_tag bytea not null,
  created_at timestamptz not null default now(),
  rotated_at timestamptz,
  primary key (tenant_id, kind)
);
select alphadome.tenantize('bot_tenant_secrets');

create table if not exists alphadome.bot_control_settings (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_control_settings
  add column if not exists tenant_id uuid,
  add column if not exists bot_enabled boolean not null default true,
  add column if not exists system_prompt text not null default '',
  add column if not exists tone text not null default '',
  add column if not exists fallback_message text not null
    default 'Thank you for your message. A person from our team will get back to you shortly.',
  add column if not exists handover_message text not null
    default 'I''m passing you to a person from our team; they will reply here shortly.',
  add column if not exists away_message text not null default '',
  add column if not exists escalation_phone text,
  add column if not exists escalation_email text,
  add column if not exists send_rate_per_second integer not null default 80,
  add column if not exists debounce_ms integer not null default 2000,
  add column if not exists llm_timeout_ms integer not null default 15000,
  add column if not exists monthly_token_budget bigint,
  add column if not exists business_hours jsonb,
  add column if not exists settings jsonb not null default '{}'::jsonb,
  add column if not exists updated_at timestamptz not null default now();
select alphadome.tenantize('bot_control_settings');
create unique index if not exists bot_control_settings_tenant_key on alphadome.bot_control_settings (tenant_id);
drop trigger if exists bot_control_settings_touch on alphadome.bot_control_settings;
create trigger bot_control_settings_touch before update on alphadome.bot_control_settings
  for each row execute function alphadome.touch_updated_at();

-- Canned replies and named templates (fallback, away, approved WhatsApp templates…).
create table if not exists alphadome.bot_templates (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_templates
  add column if not exists tenant_id uuid,
  add column if not exists name text,
  add column if not exists kind text not null default 'canned',
  add column if not exists triggers text[] not null default '{}',
  add column if not exists body text not null default '',
  add column if not exists language text not null default 'en',
  add column if not exists wa_template_name text,
  add column if not exists wa_template_language text,
  add column if not exists is_active boolean not null default true,
  add column if not exists updated_at timestamptz not null default now();
select alphadome.tenantize('bot_templates');
update alphadome.bot_templates set name = 'template-' || left(id::text, 8) where name is null;
create unique index if not exists bot_templates_tenant_name_lang_key
  on alphadome.bot_templates (tenant_id, name, language);
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'bot_templates_kind_check') then
    alter table alphadome.bot_templates add constraint bot_templates_kind_check
      check (kind in ('canned', 'fallback', 'away', 'handover', 'optout', 'wa_template')) not valid;
  end if;
end $$;
drop trigger if exists bot_templates_touch on alphadome.bot_templates;
create trigger bot_templates_touch before update on alphadome.bot_templates
  for each row execute function alphadome.touch_updated_at();

-- FAQ / training data, searchable by full text and trigram similarity.
create table if not exists alphadome.bot_training_data (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_training_data
  add column if not exists tenant_id uuid,
  add column if not exists question text not null default '',
  add column if not exists answer text not null default '',
  add column if not exists language text not null default 'en',
  add column if not exists tags text[] not null default '{}',
  add column if not exists is_active boolean not null default true,
  add column if not exists updated_at timestamptz not null default now();
select alphadome.tenantize('bot_training_data');

-- unaccent() is only STABLE; an immutable wrapper lets it sit in a generated column / index.
create or replace function alphadome.fold(t text) returns text
language sql immutable parallel safe as $$ select lower(public.unaccent('public.unaccent'::regdictionary, coalesce(t, ''))) $$;

do $$
begin
  if not exists (select 1 from information_schema.columns
                  where table_schema = 'alphadome' and table_name = 'bot_training_data' and column_name = 'search') then
    alter table alphadome.bot_training_data add column search tsvector generated always as (
      setweight(to_tsvector('simple', alphadome.fold(question)), 'A') ||
      setweight(to_tsvector('simple', alphadome.fold(answer)), 'B')) stored;
  end if;
end $$;
create index if not exists bot_training_data_search_idx on alphadome.bot_training_data using gin (search);
create index if not exists bot_training_data_question_trgm_idx
  on alphadome.bot_training_data using gin (alphadome.fold(question) gin_trgm_ops);
drop trigger if exists bot_training_data_touch on alphadome.bot_training_data;
create trigger bot_training_data_touch before update on alphadome.bot_training_data
  for each row execute function alphadome.touch_updated_at();

-- Customers of a tenant.
create table if not exists alphadome.bot_contacts (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid,
  wa_id text not null,
  name text,
  language text,
  opted_out_at timestamptz,
  last_inbound_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
select alphadome.tenantize('bot_contacts');
create unique index if not exists bot_contacts_tenant_wa_key on alphadome.bot_contacts (tenant_id, wa_id);

create table if not exists alphadome.bot_conversations (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid,
  contact_id uuid not null references alphadome.bot_contacts (id) on delete cascade,
  wa_id text not null,
  mode text not null default 'bot' check (mode in ('bot', 'human')),
  mode_changed_at timestamptz,
  unread_count integer not null default 0,
  last_message_at timestamptz,
  last_inbound_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
select alphadome.tenantize('bot_conversations');
create unique index if not exists bot_conversations_tenant_wa_key on alphadome.bot_conversations (tenant_id, wa_id);
create index if not exists bot_conversations_tenant_last_idx
  on alphadome.bot_conversations (tenant_id, last_message_at desc);

-- Every message in and out, with the answer path for outbound ones.
create table if not exists alphadome.bot_message_logs (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_message_logs
  add column if not exists tenant_id uuid,
  add column if not exists conversation_id uuid,
  add column if not exists direction text,
  add column if not exists wamid text,
  add column if not exists idempotency_key text,
  add column if not exists wa_id text,
  add column if not exists message_type text,
  add column if not exists body text,
  add column if not exists payload jsonb,
  add column if not exists status text,
  add column if not exists status_at timestamptz,
  add column if not exists error_code integer,
  add column if not exists error_title text,
  add column if not exists answer_path text,
  add column if not exists template_id uuid,
  add column if not exists faq_id uuid,
  add column if not exists reply_to_wamid text,
  add column if not exists sent_by text,
  add column if not exists received_at timestamptz;
select alphadome.tenantize('bot_message_logs');
create unique index if not exists bot_message_logs_tenant_wamid_key
  on alphadome.bot_message_logs (tenant_id, wamid);
create unique index if not exists bot_message_logs_tenant_idem_key
  on alphadome.bot_message_logs (tenant_id, idempotency_key);
create index if not exists bot_message_logs_conversation_idx
  on alphadome.bot_message_logs (tenant_id, conversation_id, created_at desc);
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'bot_message_logs_direction_check') then
    alter table alphadome.bot_message_logs add constraint bot_message_logs_direction_check
      check (direction in ('inbound', 'outbound')) not valid;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'bot_message_logs_answer_path_check') then
    alter table alphadome.bot_message_logs add constraint bot_message_logs_answer_path_check
      check (answer_path is null or answer_path in
             ('canned', 'faq', 'catalog', 'llm', 'fallback', 'human', 'system')) not valid;
  end if;
end $$;

create table if not exists alphadome.bot_usage_daily (
  tenant_id uuid,
  day date not null,
  messages_in integer not null default 0,
  messages_out integer not null default 0,
  answers_canned integer not null default 0,
  answers_faq integer not null default 0,
  answers_catalog integer not null default 0,
  answers_llm integer not null default 0,
  answers_fallback integer not null default 0,
  prompt_tokens bigint not null default 0,
  completion_tokens bigint not null default 0,
  cost_estimate_usd numeric(12, 6) not null default 0,
  primary key (tenant_id, day)
);
select alphadome.tenantize('bot_usage_daily');

create table if not exists alphadome.bot_audit_log (
  id bigint generated always as identity primary key,
  tenant_id uuid,
  actor text not null,
  action text not null,
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
select alphadome.tenantize('bot_audit_log');
create index if not exists bot_audit_log_tenant_time_idx on alphadome.bot_audit_log (tenant_id, created_at desc);
-- the audit log is append-only for the application
revoke update, delete on alphadome.bot_audit_log from alphadome_app;

-- Events not about one tenant (key rotation, operator logins): operators only.
create table if not exists alphadome.platform_audit_log (
  id bigint generated always as identity primary key,
  actor text not null,
  action text not null,
  detail jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
alter table alphadome.platform_audit_log enable row level security;
alter table alphadome.platform_audit_log force row level security;
drop policy if exists operator_only on alphadome.platform_audit_log;
create policy operator_only on alphadome.platform_audit_log to alphadome_operator using (true) with check (true);
grant select, insert on alphadome.platform_audit_log to alphadome_operator;

-- Dashboard accounts and sessions. Not tenant rows: an owner belongs to one tenant, an
-- operator to none. Reachable by the operator role only; the dashboard's login path uses it.
create table if not exists alphadome.dashboard_users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  password_hash text not null,
  role text not null check (role in ('owner', 'operator')),
  tenant_id uuid references alphadome.bot_tenants (id) on delete cascade,
  failed_logins integer not null default 0,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint dashboard_users_owner_has_tenant check ((role = 'owner') = (tenant_id is not null))
);
create unique index if not exists dashboard_users_email_key on alphadome.dashboard_users (lower(email));

create table if not exists alphadome.dashboard_sessions (
  id_hash text primary key,
  user_id uuid not null references alphadome.dashboard_users (id) on delete cascade,
  csrf_token text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index if not exists dashboard_sessions_expiry_idx on alphadome.dashboard_sessions (expires_at);

do $$
declare t text;
begin
  foreach t in array array['dashboard_users', 'dashboard_sessions'] loop
    execute format('alter table alphadome.%I enable row level security', t);
    execute format('alter table alphadome.%I force row level security', t);
    execute format('drop policy if exists operator_only on alphadome.%I', t);
    execute format('create policy operator_only on alphadome.%I to alphadome_operator using (true) with check (true)', t);
    execute format('grant select, insert, update, delete on alphadome.%I to alphadome_operator', t);
  end loop;
end $$;
