import { randomUUID } from 'node:crypto';
import type { Sql, Tx } from '../../src/db.ts';

/**
 * The schema as the database reports it, so the isolation tests cover a tenant table added by
 * a future migration without anyone remembering to list it.
 */

/** Tables of schema alphadome with a tenant_id column, by name. */
export async function tablesWithTenantId(sql: Sql): Promise<string[]> {
  const rows = await sql<{ relname: string }[]>`
    select c.relname from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
     where n.nspname = 'alphadome' and c.relkind in ('r', 'p')
     order by c.relname`;
  return rows.map((r) => r.relname);
}

export interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  generated: boolean;
}

export interface ForeignKey {
  column: string;
  refTable: string;
  refColumn: string;
}

export interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  /** foreign keys to other tables of the schema, by column (the tenant_id part of a composite key left out) */
  foreignKeys: ForeignKey[];
}

export async function describeTables(sql: Sql, tables: string[]): Promise<Map<string, TableInfo>> {
  const cols = await sql<{ relname: string; attname: string; type: string; attnotnull: boolean; hasdef: boolean; generated: boolean }[]>`
    select c.relname, a.attname, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull,
           a.atthasdef or a.attidentity <> '' as hasdef, a.attgenerated <> '' or a.attidentity = 'a' as generated
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'alphadome' and c.relname = any(${tables}) and a.attnum > 0 and not a.attisdropped
     order by c.relname, a.attnum`;
  const fks = await sql<{ relname: string; column: string; ref_table: string; ref_column: string }[]>`
    select c.relname, a.attname as column, rc.relname as ref_table, ra.attname as ref_column
      from pg_constraint k
      join pg_class c on c.oid = k.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      join pg_class rc on rc.oid = k.confrelid
      cross join lateral unnest(k.conkey, k.confkey) as u(ck, fk)
      join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.ck
      join pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = u.fk
     where k.contype = 'f' and n.nspname = 'alphadome' and c.relname = any(${tables})
       and a.attname <> 'tenant_id'`;
  const out = new Map<string, TableInfo>();
  for (const t of tables) out.set(t, { name: t, columns: [], foreignKeys: [] });
  for (const c of cols) {
    out.get(c.relname)!.columns.push({
      name: c.attname,
      type: c.type,
      notNull: c.attnotnull,
      hasDefault: c.hasdef,
      generated: c.generated,
    });
  }
  for (const f of fks) out.get(f.relname)!.foreignKeys.push({ column: f.column, refTable: f.ref_table, refColumn: f.ref_column });
  return out;
}

/** Tables ordered so that a table comes after the tables its foreign keys point to. */
export function inDependencyOrder(infos: Map<string, TableInfo>): TableInfo[] {
  const ordered: TableInfo[] = [];
  const seen = new Set<string>();
  const visit = (t: TableInfo, path: string[]) => {
    if (seen.has(t.name) || path.includes(t.name)) return;
    for (const fk of t.foreignKeys) {
      const ref = infos.get(fk.refTable);
      if (ref && ref.name !== t.name) visit(ref, [...path, t.name]);
    }
    seen.add(t.name);
    ordered.push(t);
  };
  for (const t of [...infos.values()].sort((a, b) => a.name.localeCompare(b.name))) visit(t, []);
  return ordered;
}

export type Row = Record<string, unknown>;

/**
 * Values for the columns a row cannot do without (NOT NULL, no default), by type; a foreign
 * key takes the key of the row already made for the same tenant in the referenced table.
 * A type not handled here, or a CHECK a generic value breaks, needs an entry in `overrides`.
 */
export function fixtureValues(
  tx: Tx,
  table: TableInfo,
  tag: string,
  made: Map<string, Row>,
  overrides: Record<string, Row> = {},
): Row {
  const values: Row = {};
  for (const col of table.columns) {
    if (col.name === 'tenant_id' || col.generated) continue;
    const override = overrides[table.name];
    if (override && col.name in override) {
      values[col.name] = override[col.name];
      continue;
    }
    if (!col.notNull || col.hasDefault) continue;
    const fk = table.foreignKeys.find((f) => f.column === col.name);
    if (fk) {
      const ref = made.get(fk.refTable);
      if (!ref) throw new Error(`${table.name}.${col.name} references ${fk.refTable}, which has no fixture row`);
      values[col.name] = ref[fk.refColumn];
      continue;
    }
    values[col.name] = genericValue(tx, table.name, col, tag);
  }
  return values;
}

function genericValue(tx: Tx, table: string, col: ColumnInfo, tag: string): unknown {
  const t = col.type;
  if (t === 'text' || t.startsWith('character varying') || t.startsWith('character(') || t === 'citext') {
    return `${table}-${col.name}-${tag}`;
  }
  if (t === 'uuid') return randomUUID();
  if (['integer', 'bigint', 'smallint', 'real', 'double precision'].includes(t) || t.startsWith('numeric')) return 1;
  if (t === 'boolean') return true;
  if (t === 'date') return '2026-01-15';
  if (t.startsWith('timestamp')) return new Date('2026-01-15T10:00:00Z');
  if (t === 'jsonb' || t === 'json') return tx.json({ tag });
  if (t === 'bytea') return Buffer.from(tag);
  if (t.endsWith('[]')) return [];
  throw new Error(`no generic fixture value for ${table}.${col.name} (${t}): add an override in the test`);
}

/** Insert one row (tenant_id from the transaction's tenant unless given) and return it. */
export async function insertRow(tx: Tx, table: string, values: Row): Promise<Row> {
  const keys = Object.keys(values);
  const rows =
    keys.length === 0
      ? await tx.unsafe(`insert into alphadome.${quoteIdent(table)} default values returning *`)
      : await tx`insert into ${tx(`alphadome.${table}`)} ${tx(values as Record<string, never>, keys)} returning *`;
  return rows[0] as Row;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
