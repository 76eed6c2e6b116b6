-- Usage counters off one hot row. Every message of a tenant raised the same row of
-- bot_usage_daily (one per tenant and day) two or three times: concurrent transactions of a busy
-- tenant queued on that row's lock, each holding it until its COMMIT was flushed, and held their
-- pool connections while they waited (measured: the upserts of that row took 5.9 ms per call on
-- average, the most of any statement on the message path; a quiet tenant's jobs waited for a
-- connection behind them). Now a tenant's day is up to 16 rows, one per `shard`; a writer adds
-- to the shard of its database session (alphadome.usage_shard(): backend pid mod 16), so two
-- sessions contend only when their pids share a shard, and a transaction always touches one row
-- (no lock-order deadlocks between shards). Readers sum over shards (listUsage groups by day).

alter table alphadome.bot_usage_daily add column if not exists shard smallint not null default 0;

do $$
declare
  pk text;
begin
  select c.conname into pk from pg_constraint c
   where c.conrelid = 'alphadome.bot_usage_daily'::regclass and c.contype = 'p';
  if pk is not null and not exists (
    select 1 from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
     where c.conname = pk and c.conrelid = 'alphadome.bot_usage_daily'::regclass and a.attname = 'shard'
  ) then
    execute format('alter table alphadome.bot_usage_daily drop constraint %I', pk);
    pk := null;
  end if;
  if pk is null then
    alter table alphadome.bot_usage_daily add constraint bot_usage_daily_pkey primary key (tenant_id, day, shard);
  end if;
end $$;

create or replace function alphadome.usage_shard() returns smallint
language sql stable parallel safe as $$ select (pg_backend_pid() % 16)::smallint $$;
revoke execute on function alphadome.usage_shard() from public;
grant execute on function alphadome.usage_shard() to alphadome_app, alphadome_operator;
