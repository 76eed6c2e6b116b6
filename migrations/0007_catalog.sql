-- The product catalog: bot_products, bot_product_variants, bot_product_images, bot_collections,
-- bot_collection_items. The installation this replaces may already have them, keyed by
-- bot_tenant_id and with a global unique sku: create what is missing, add the columns the
-- platform needs, tenantize (tenant_id backfilled from bot_tenant_id, forced RLS, the one
-- policy), and make SKUs unique per tenant. Legacy columns and rows stay as they are.

-- Products ---------------------------------------------------------------------------------
create table if not exists alphadome.bot_products (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_products
  add column if not exists tenant_id uuid,
  add column if not exists sku text,
  add column if not exists name text not null default '',
  add column if not exists description text,
  add column if not exists category text,
  add column if not exists brand text,
  add column if not exists price numeric(12, 2),
  add column if not exists currency text default 'KES',
  add column if not exists stock integer,
  add column if not exists is_active boolean not null default true,
  add column if not exists image_url text,
  add column if not exists attributes jsonb not null default '{}'::jsonb,
  -- variant names and SKUs, kept by a trigger on bot_product_variants so one index covers them
  add column if not exists variant_text text not null default '',
  add column if not exists updated_at timestamptz not null default now();
select alphadome.tenantize('bot_products');

-- The legacy catalog said only in_stock true/false: an item marked out of stock has 0 in stock
-- (stock null = not counted, shown as available).
do $$
begin
  if exists (select 1 from information_schema.columns
              where table_schema = 'alphadome' and table_name = 'bot_products' and column_name = 'in_stock') then
    execute 'update alphadome.bot_products set stock = 0 where stock is null and in_stock is false';
  end if;
end $$;

-- A SKU is unique within a tenant, not across tenants: drop a legacy global unique on sku
-- (a constraint or a bare unique index over that one column), then key on (tenant_id, sku).
do $$
declare
  r record;
  sku_att smallint;
begin
  select attnum into sku_att from pg_attribute
   where attrelid = 'alphadome.bot_products'::regclass and attname = 'sku' and not attisdropped;
  for r in
    select c.conname from pg_constraint c
     where c.conrelid = 'alphadome.bot_products'::regclass and c.contype = 'u' and c.conkey = array[sku_att]
  loop
    execute format('alter table alphadome.bot_products drop constraint %I', r.conname);
  end loop;
  for r in
    select ic.relname from pg_index i
      join pg_class ic on ic.oid = i.indexrelid
     where i.indrelid = 'alphadome.bot_products'::regclass and i.indisunique and not i.indisprimary
       and i.indnatts = 1 and i.indkey[0] = sku_att
       and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
  loop
    execute format('drop index alphadome.%I', r.relname);
  end loop;
  if not exists (select 1 from pg_constraint where conname = 'bot_products_tenant_sku_key') then
    alter table alphadome.bot_products add constraint bot_products_tenant_sku_key unique (tenant_id, sku);
  end if;
  if not exists (select 1 from pg_constraint where conname = 'bot_products_price_check') then
    alter table alphadome.bot_products add constraint bot_products_price_check
      check (price is null or price >= 0) not valid;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'bot_products_stock_check') then
    alter table alphadome.bot_products add constraint bot_products_stock_check
      check (stock is null or stock >= 0) not valid;
  end if;
end $$;

-- Search. Folded (lower-case, accent-free), 'simple' config (the catalog mixes English,
-- Swahili and model numbers; the query side does the stemming). Weights: the name, also with
-- hyphens closed up ("P-45" → "p45"), A; category, brand and SKU B; description and variants C.
-- search_text is what trigram similarity compares misspellings against.
do $$
begin
  if not exists (select 1 from information_schema.columns
                  where table_schema = 'alphadome' and table_name = 'bot_products' and column_name = 'search') then
    alter table alphadome.bot_products add column search tsvector generated always as (
      setweight(to_tsvector('simple', alphadome.fold(
        coalesce(name, '') || ' ' || regexp_replace(coalesce(name, ''), '([[:alnum:]])[-/.]([[:alnum:]])', '\1\2', 'g'))), 'A') ||
      setweight(to_tsvector('simple', alphadome.fold(
        coalesce(category, '') || ' ' || coalesce(brand, '') || ' ' || coalesce(sku, ''))), 'B') ||
      setweight(to_tsvector('simple', alphadome.fold(coalesce(description, '') || ' ' || variant_text)), 'C')) stored;
  end if;
  if not exists (select 1 from information_schema.columns
                  where table_schema = 'alphadome' and table_name = 'bot_products' and column_name = 'search_text') then
    alter table alphadome.bot_products add column search_text text generated always as (
      alphadome.fold(coalesce(name, '') || ' ' || coalesce(category, '') || ' ' || coalesce(brand, '') || ' ' ||
                     coalesce(sku, '') || ' ' || variant_text)) stored;
  end if;
end $$;
create index if not exists bot_products_search_idx on alphadome.bot_products using gin (search);
create index if not exists bot_products_name_trgm_idx
  on alphadome.bot_products using gin (alphadome.fold(name) gin_trgm_ops);
create index if not exists bot_products_search_text_trgm_idx
  on alphadome.bot_products using gin (search_text gin_trgm_ops);
create index if not exists bot_products_tenant_price_idx on alphadome.bot_products (tenant_id, price);

drop trigger if exists bot_products_touch on alphadome.bot_products;
create trigger bot_products_touch before update on alphadome.bot_products
  for each row execute function alphadome.touch_updated_at();

-- Variants ---------------------------------------------------------------------------------
create table if not exists alphadome.bot_product_variants (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_product_variants
  add column if not exists tenant_id uuid,
  add column if not exists product_id uuid,
  add column if not exists sku text,
  add column if not exists name text not null default '',
  add column if not exists price numeric(12, 2),
  add column if not exists stock integer,
  add column if not exists is_active boolean not null default true,
  add column if not exists attributes jsonb not null default '{}'::jsonb,
  add column if not exists updated_at timestamptz not null default now();
select alphadome.tenantize('bot_product_variants');
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'bot_product_variants_product_id_fkey') then
    alter table alphadome.bot_product_variants add constraint bot_product_variants_product_id_fkey
      foreign key (product_id) references alphadome.bot_products (id) on delete cascade not valid;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'bot_product_variants_tenant_sku_key') then
    alter table alphadome.bot_product_variants add constraint bot_product_variants_tenant_sku_key unique (tenant_id, sku);
  end if;
end $$;
create index if not exists bot_product_variants_product_idx on alphadome.bot_product_variants (product_id);
drop trigger if exists bot_product_variants_touch on alphadome.bot_product_variants;
create trigger bot_product_variants_touch before update on alphadome.bot_product_variants
  for each row execute function alphadome.touch_updated_at();

-- Keep bot_products.variant_text in step with the product's variants (runs as the caller, so
-- row level security applies to it like to any other statement of the tenant).
create or replace function alphadome.sync_product_variant_text() returns trigger
language plpgsql as $$
declare
  ids uuid[];
begin
  if tg_op = 'INSERT' then ids := array[new.product_id];
  elsif tg_op = 'DELETE' then ids := array[old.product_id];
  else ids := array[old.product_id, new.product_id];
  end if;
  update alphadome.bot_products p
     set variant_text = coalesce((select string_agg(coalesce(v.name, '') || ' ' || coalesce(v.sku, ''), ' ' order by v.name)
                                    from alphadome.bot_product_variants v
                                   where v.product_id = p.id and v.is_active), '')
   where p.id = any(ids);
  return null;
end $$;
revoke execute on function alphadome.sync_product_variant_text() from public;
drop trigger if exists bot_product_variants_sync on alphadome.bot_product_variants;
create trigger bot_product_variants_sync after insert or update or delete on alphadome.bot_product_variants
  for each row execute function alphadome.sync_product_variant_text();

-- Images -----------------------------------------------------------------------------------
create table if not exists alphadome.bot_product_images (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_product_images
  add column if not exists tenant_id uuid,
  add column if not exists product_id uuid,
  add column if not exists url text,
  add column if not exists position integer not null default 0;
select alphadome.tenantize('bot_product_images');
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'bot_product_images_product_id_fkey') then
    alter table alphadome.bot_product_images add constraint bot_product_images_product_id_fkey
      foreign key (product_id) references alphadome.bot_products (id) on delete cascade not valid;
  end if;
end $$;
create index if not exists bot_product_images_product_idx on alphadome.bot_product_images (product_id, position);

-- Collections ------------------------------------------------------------------------------
create table if not exists alphadome.bot_collections (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_collections
  add column if not exists tenant_id uuid,
  add column if not exists name text not null default '',
  add column if not exists description text,
  add column if not exists position integer not null default 0,
  add column if not exists is_active boolean not null default true,
  add column if not exists updated_at timestamptz not null default now();
select alphadome.tenantize('bot_collections');
drop trigger if exists bot_collections_touch on alphadome.bot_collections;
create trigger bot_collections_touch before update on alphadome.bot_collections
  for each row execute function alphadome.touch_updated_at();

create table if not exists alphadome.bot_collection_items (
  id uuid primary key default gen_random_uuid(),
  created_at timestamptz not null default now()
);
alter table alphadome.bot_collection_items
  add column if not exists tenant_id uuid,
  add column if not exists collection_id uuid,
  add column if not exists product_id uuid,
  add column if not exists position integer not null default 0;
select alphadome.tenantize('bot_collection_items');
do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'bot_collection_items_collection_id_fkey') then
    alter table alphadome.bot_collection_items add constraint bot_collection_items_collection_id_fkey
      foreign key (collection_id) references alphadome.bot_collections (id) on delete cascade not valid;
  end if;
  if not exists (select 1 from pg_constraint where conname = 'bot_collection_items_product_id_fkey') then
    alter table alphadome.bot_collection_items add constraint bot_collection_items_product_id_fkey
      foreign key (product_id) references alphadome.bot_products (id) on delete cascade not valid;
  end if;
end $$;
create index if not exists bot_collection_items_collection_idx on alphadome.bot_collection_items (collection_id, position);
create index if not exists bot_collection_items_product_idx on alphadome.bot_collection_items (product_id);

-- Search --------------------------------------------------------------------------------------
-- The crude plural stemming of the query side (packages/tenant-core/src/catalog/search.ts),
-- for words this function picks itself when it corrects a misspelling.
create or replace function alphadome.catalog_stem(w text) returns text
language sql immutable parallel safe as $$
  select case
    when length(w) <= 3 or w ~ '[0-9]' or w ~ '(ss|us|is)$' then w
    when w ~ 'ies$' and length(w) > 4 then left(w, -3)
    when w ~ '(x|ch|sh|ss)es$' then left(w, -2)
    when w ~ 's$' then left(w, -1)
    else w
  end
$$;

-- Product search for the transaction's tenant. It runs as a SECURITY DEFINER function, not as
-- a plain query under row level security, because RLS evaluates the tenant policy before any
-- non-leakproof operator: @@ and %> then cannot use their GIN indexes, and a 10,000-product
-- catalog is scanned row by row (20–110 ms measured). Here the same tenant filter is written
-- out, so the function returns only ids of rows the caller could read anyway (and nothing when
-- app.tenant_id is unset).
--   p_terms: normalised, stop-word-free, stemmed words from the query side. A word no product
--   has (even as a prefix) is corrected to the closest word of the catalog by trigram
--   similarity ("gitar" → guitar, "keybord" → keyboard) or dropped when nothing is close.
--   Strict pass: products with every word; relaxed pass (only if that finds nothing): products
--   with at least half of them, more first. p_order 'price_asc' / 'price_desc' keeps only the
--   hits ranked close to the best (the keyboards, not the keyboard stand) and sorts by price.
create or replace function alphadome.catalog_search(
  p_terms text[], p_price_min numeric, p_price_max numeric, p_order text, p_limit integer)
returns table (product_id uuid, ord integer, score real, matched integer, resolved_terms text[], strict boolean)
language plpgsql stable security definer rows 10
set search_path = pg_catalog, public, extensions, alphadome
set pg_trgm.word_similarity_threshold = 0.45
as $$
#variable_conflict use_column
declare
  v_tenant uuid := nullif(current_setting('app.tenant_id', true), '')::uuid;
  v_terms text[] := '{}';
  v_limit integer := least(greatest(coalesce(p_limit, 10), 1), 50);
  v_order text := coalesce(p_order, 'relevance');
  t text;
  w text;
  n integer;
  tq tsquery;
  tq_any tsquery;
  tq_b tsquery;
  tqs tsquery[];
  v_any_kind boolean;
begin
  if v_tenant is null or p_terms is null then
    return;
  end if;
  foreach t in array p_terms[1:8] loop
    continue when t is null or t !~ '^[[:alnum:]]+$';
    if exists (select 1 from alphadome.bot_products p
                where p.tenant_id = v_tenant and p.is_active
                  and p.search @@ to_tsquery('simple', case when length(t) >= 3 then t || ':*' else t end)) then
      w := t;
    elsif length(t) >= 4 and t !~ '^[0-9]+$' then
      select x.w into w
        from (select regexp_split_to_table(c.search_text, '[^[:alnum:]]+') as w
                from (select p.search_text from alphadome.bot_products p
                       where p.tenant_id = v_tenant and p.is_active and p.search_text %> t
                       limit 20) c) x
       where length(x.w) >= 3 and x.w !~ '^[0-9]+$' and similarity(x.w, t) >= 0.3
       order by similarity(x.w, t) desc, x.w
       limit 1;
      w := alphadome.catalog_stem(w);
    else
      w := null;
    end if;
    if w is not null and not (w = any(v_terms)) then
      v_terms := v_terms || w;
    end if;
  end loop;
  n := cardinality(v_terms);
  if n = 0 then
    return;
  end if;
  tqs := array(select to_tsquery('simple', case when length(x) >= 3 then x || ':*' else x end) from unnest(v_terms) x);
  tq := (select string_agg(x::text, ' & ')::tsquery from unnest(tqs) x);
  tq_any := (select string_agg(x::text, ' | ')::tsquery from unnest(tqs) x);
  -- the same words in the category, brand or SKU (weight B): "keyboard" is a keyboard when its
  -- category says so, and only an accessory when just its name or description does
  tq_b := (select string_agg(x || case when length(x) >= 3 then ':*B' else ':B' end, ' | ')::tsquery from unnest(v_terms) x);

  -- a price question about a kind of product ("cheapest keyboard", "digital piano under 20k")
  -- is about products of that kind, not the accessories that mention it
  if v_order <> 'relevance' or p_price_min is not null or p_price_max is not null then
    v_any_kind := exists (select 1 from alphadome.bot_products p
                           where p.tenant_id = v_tenant and p.is_active and p.search @@ tq and p.search @@ tq_b);
  end if;

  return query
    with hits as (
      select p.id, p.price, coalesce(p.stock, 1) > 0 as in_stock,
             ts_rank('{0.1, 0.2, 0.5, 1.0}', p.search, tq) + case when p.search @@ tq_b then 1 else 0 end as r,
             p.search @@ tq_b as kind
        from alphadome.bot_products p
       where p.tenant_id = v_tenant and p.is_active and p.search @@ tq
         and (p_price_min is null or p.price >= p_price_min)
         and (p_price_max is null or p.price <= p_price_max)
    )
    select k.id, (row_number() over (
             order by case when v_order = 'price_asc' then k.price end asc nulls last,
                      case when v_order = 'price_desc' then k.price end desc nulls last,
                      k.r desc, k.in_stock desc, k.price asc nulls last, k.id))::integer,
           k.r::real, n, v_terms, true
      from hits k
     where v_any_kind is null or k.kind or not v_any_kind
     order by 2
     limit v_limit;
  -- nothing of that kind within the price asked: say so rather than offer near misses
  if found or n = 1 or v_any_kind then
    return;
  end if;

  return query
    with hits as (
      select p.id, p.price, coalesce(p.stock, 1) > 0 as in_stock,
             (select count(*) from unnest(tqs) x where p.search @@ x)::integer as m,
             ts_rank('{0.1, 0.2, 0.5, 1.0}', p.search, tq_any) + case when p.search @@ tq_b then 1 else 0 end as r
        from alphadome.bot_products p
       where p.tenant_id = v_tenant and p.is_active and p.search @@ tq_any
         and (p_price_min is null or p.price >= p_price_min)
         and (p_price_max is null or p.price <= p_price_max)
    )
    select h.id, (row_number() over (
             order by h.m desc,
                      case when v_order = 'price_asc' then h.price end asc nulls last,
                      case when v_order = 'price_desc' then h.price end desc nulls last,
                      h.r desc, h.in_stock desc, h.price asc nulls last, h.id))::integer,
           (h.m::real / n + h.r * 0.5)::real, h.m, v_terms, false
      from hits h
     where h.m * 2 >= n
     order by 2
     limit v_limit;
end $$;

revoke execute on function alphadome.catalog_search(text[], numeric, numeric, text, integer) from public;
grant execute on function alphadome.catalog_search(text[], numeric, numeric, text, integer) to alphadome_app;

-- Where the owner is neither superuser nor BYPASSRLS (0003), the definer function above runs
-- as an owner bound by FORCE row level security: the owner, and only the owner, gets a policy
-- of its own on the table it reads (the function writes the tenant filter itself).
do $$
begin
  if (select rolsuper or rolbypassrls from pg_roles where rolname = current_user) then
    return;
  end if;
  drop policy if exists owner_maintenance on alphadome.bot_products;
  execute format('create policy owner_maintenance on alphadome.bot_products to %I using (true) with check (true)', current_user);
end $$;
