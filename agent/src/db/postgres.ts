import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { Writable } from 'node:stream'
/**
 * Writing batches into PostgreSQL tables, shared by the agent's postgres sink and the control
 * plane's warehouse. Each write is one transaction: rows go in with COPY (append), or COPY into a
 * staging table and INSERT … ON CONFLICT (insert skips existing keys, upsert replaces them), with
 * a ledger row per batch id, so a batch delivered twice changes nothing. Tables are created from
 * the batch's columns and new columns are added; a column whose type clashes is refused.
 */
import type { ColumnTypeName } from '@outpost/shared'
import { type Column, decodeColumns, type Value } from '@outpost/shared/batch'
import type { Column as WireColumn } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import type pg from 'pg'
import type { Logger } from '../log.js'
import { BINARY_HEADER, BINARY_TRAILER, binaryRows, copyBinary } from './copy-binary.js'
import { copyText } from './copy-text.js'
import { pgCopyStreams, pgDriver } from './lazy.js'

export const PG_TYPE: Record<ColumnTypeName, string> = {
  string: 'text',
  int: 'bigint',
  float: 'double precision',
  decimal: 'numeric',
  bool: 'boolean',
  timestamp: 'timestamptz',
  date: 'date',
  json: 'jsonb',
  bytes: 'bytea',
}

/** information_schema data_type of what PG_TYPE creates. */
const CREATED_AS: Record<ColumnTypeName, string> = { ...PG_TYPE, timestamp: 'timestamp with time zone' }

/** Existing column types (information_schema data_type) that accept each of our types. */
export const COMPATIBLE: Record<ColumnTypeName, string[]> = {
  string: ['text', 'character varying', 'character'],
  int: ['bigint', 'integer', 'smallint', 'numeric', 'double precision', 'real'],
  float: ['double precision', 'real', 'numeric'],
  decimal: ['numeric', 'double precision', 'real'],
  bool: ['boolean'],
  timestamp: ['timestamp with time zone', 'timestamp without time zone'],
  date: ['date', 'timestamp with time zone', 'timestamp without time zone'],
  json: ['jsonb', 'json'],
  bytes: ['bytea'],
}

/** A batch that can never be written as it is (its columns clash with the table). Not retried. */
export class SchemaConflictError extends Error {
  override name = 'SchemaConflictError'
  readonly code = 'schema_conflict'
  readonly retryable = false
  constructor(
    message: string,
    readonly batchId: string,
  ) {
    super(message)
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

export function qualified(table: string): { schema: string; name: string; sql: string } {
  const [schema, name] = table.includes('.') ? (table.split('.') as [string, string]) : ['public', table]
  return { schema, name, sql: `${quoteIdent(schema)}.${quoteIdent(name)}` }
}

export interface PgConnectOptions {
  url: string
  /** Sent as statement_timeout on every connection. */
  statementTimeoutMs?: number
  tls?: { ca?: string; rejectUnauthorized?: boolean }
  max?: number
  connectionTimeoutMs?: number
}

export function pgPool(options: PgConnectOptions, log: Logger): pg.Pool {
  const pool = new (pgDriver().Pool)({
    connectionString: options.url,
    max: options.max ?? 4,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 15_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.tls
      ? {
          ssl: {
            ...(options.tls.ca ? { ca: options.tls.ca } : {}),
            rejectUnauthorized: options.tls.rejectUnauthorized ?? true,
          },
        }
      : {}),
  })
  // An idle client that loses its connection must not crash the process.
  pool.on('error', (error) => log.warn('postgres connection error', { error: error.message }))
  return pool
}

/** A pool for a connector's options (url, tls, statement_timeout as in the pipeline spec). */
export function connectorPool(
  options: {
    url: string
    statement_timeout?: number | undefined
    tls?: { ca_file?: string | undefined; reject_unauthorized: boolean } | undefined
  },
  pool: { max: number; connectionTimeoutMs?: number },
  log: Logger,
): pg.Pool {
  return pgPool(
    {
      url: options.url,
      ...pool,
      ...(options.statement_timeout ? { statementTimeoutMs: options.statement_timeout } : {}),
      ...(options.tls
        ? {
            tls: {
              ...(options.tls.ca_file ? { ca: readFileSync(options.tls.ca_file, 'utf8') } : {}),
              rejectUnauthorized: options.tls.reject_unauthorized,
            },
          }
        : {}),
    },
    log,
  )
}

export type PgWriteMode = 'append' | 'insert' | 'upsert'

export interface PgTarget {
  table: string
  mode: PgWriteMode
  keys: string[]
}

export interface PgLoad {
  /** The ledger key: a redelivered batch with the same id is skipped. */
  id: string
  agentId: string
  pipeline: string
  columns: Column[]
  /** The rows as COPY text, in `columns` order (or a function that makes it, called at most once). */
  copy: string | Uint8Array | (() => string | Uint8Array)
  /**
   * The rows as binary COPY, in `columns` order, or undefined when they must go as text. Used
   * only for a table whose column types are exactly the ones this writer creates.
   */
  binary?: () => Uint8Array | undefined
  rows: number
  targets: PgTarget[]
}

/**
 * A load's two encodings of checked columnar rows: binary COPY from the wire bytes, COPY text
 * from the rows (decoded from the bytes unless given); each made once, when first asked for.
 */
export function columnarCopies(
  columns: Column[],
  wire: readonly WireColumn[],
  rowCount: number,
  rows: () => Value[][] = () => decodeColumns(wire, rowCount).rows,
): Pick<PgLoad, 'copy' | 'binary'> {
  let text: string | undefined
  let binary: Uint8Array | undefined | null = null
  return {
    copy: () => {
      text ??= copyText(
        columns,
        rows(),
        columns.map((c) => c.name),
      )
      return text
    },
    binary: () => {
      if (binary === null) binary = copyBinary(wire, rowCount)
      return binary
    },
  }
}

export class PgTableWriter {
  private ready: Promise<void> | undefined
  /** table → column → information_schema data_type */
  private readonly tables = new Map<string, Map<string, string>>()

  constructor(
    readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly ledger = 'outpost_ledger',
  ) {}

  private init(): Promise<void> {
    this.ready ??= this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS ${quoteIdent(this.ledger)} (
          batch_id text PRIMARY KEY,
          agent_id text NOT NULL,
          pipeline text NOT NULL,
          tables text[] NOT NULL,
          row_count integer NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now())`,
      )
      .then(() => undefined)
      .catch((error) => {
        this.ready = undefined
        throw error
      })
    return this.ready
  }

  /** Writes the loads not written before, in one transaction; returns how many were new. */
  async write(loads: PgLoad[]): Promise<number> {
    if (loads.length === 0) return 0
    await this.init()
    const client = await this.pool.connect()
    const touched = new Set<string>()
    try {
      await client.query('BEGIN')
      const applied = new Set(
        (
          await client.query<{ batch_id: string }>(
            `SELECT batch_id FROM ${quoteIdent(this.ledger)} WHERE batch_id = ANY($1::text[])`,
            [loads.map((b) => b.id)],
          )
        ).rows.map((r) => r.batch_id),
      )
      const fresh = loads.filter((b) => !applied.has(b.id))
      // Consecutive appends of the same columns into the same table share one COPY.
      const steps: { target: PgTarget; loads: PgLoad[] }[] = []
      for (const load of fresh) {
        for (const target of load.targets) {
          touched.add(target.table)
          await this.ensureTable(client, target, load)
          const last = steps.at(-1)
          if (
            target.mode === 'append' &&
            last?.target.mode === 'append' &&
            last.target.table === target.table &&
            sameColumns(last.loads[0]!.columns, load.columns)
          )
            last.loads.push(load)
          else steps.push({ target, loads: [load] })
        }
      }
      for (const { target, loads } of steps) {
        const exact = this.exactTypes(target.table, loads[0]!.columns)
        try {
          if (target.mode === 'append') await copyLoads(client, qualified(target.table).sql, loads, exact)
          else await this.merge(client, target, loads[0]!, exact)
        } catch (error) {
          // Rows PostgreSQL refuses (a NUL in text, a value out of range, a NOT NULL or unique
          // constraint of the user's table) fail the same way every time: not worth a retry.
          // Not so for binary data the table's column types do not read (22P03): its types changed
          // since this writer learnt them; the retry learns them again and sends text.
          const code = (error as { code?: unknown }).code
          if (
            typeof code === 'string' &&
            (code.startsWith('22') || code.startsWith('23')) &&
            code !== '22P03'
          )
            throw new SchemaConflictError(
              `rows do not fit table ${target.table}: ${(error as Error).message}`,
              loads[0]!.id,
            )
          throw error
        }
      }
      if (fresh.length > 0) {
        await client.query(
          `INSERT INTO ${quoteIdent(this.ledger)} (batch_id, agent_id, pipeline, tables, row_count)
           SELECT a, b, c, string_to_array(d, ','), e
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS t(a, b, c, d, e)`,
          [
            fresh.map((b) => b.id),
            fresh.map((b) => b.agentId),
            fresh.map((b) => b.pipeline),
            fresh.map((b) => b.targets.map((t) => t.table).join(',')),
            fresh.map((b) => b.rows),
          ],
        )
      }
      await client.query('COMMIT')
      return fresh.length
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      // DDL may have been rolled back with the rest: learn the tables again next time.
      for (const t of touched) this.tables.delete(t)
      throw error
    } finally {
      client.release()
    }
  }

  /** Creates the table or adds missing columns; refuses clashing types. */
  private async ensureTable(client: pg.PoolClient, target: PgTarget, load: PgLoad): Promise<void> {
    const table = qualified(target.table)
    for (const c of load.columns) {
      if (Buffer.byteLength(c.name) > 63)
        throw new SchemaConflictError(
          `column name "${c.name.slice(0, 40)}…" is longer than PostgreSQL's 63 bytes`,
          load.id,
        )
    }
    let known = this.tables.get(target.table)
    if (!known) {
      const result = await client.query<{ column_name: string; data_type: string }>(
        'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
        [table.schema, table.name],
      )
      known = new Map(result.rows.map((r) => [r.column_name, r.data_type]))
      if (known.size === 0) {
        const columns = load.columns.map((c) => `${quoteIdent(c.name)} ${PG_TYPE[c.type]}`)
        if (target.mode !== 'append') {
          const missing = target.keys.filter((k) => !load.columns.some((c) => c.name === k))
          if (missing.length > 0)
            throw new SchemaConflictError(`keys ${missing.join(', ')} are not columns of the batch`, load.id)
          columns.push(`PRIMARY KEY (${target.keys.map(quoteIdent).join(', ')})`)
        }
        if (table.schema !== 'public')
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`)
        await client.query(`CREATE TABLE IF NOT EXISTS ${table.sql} (${columns.join(', ')})`)
        known = new Map(load.columns.map((c) => [c.name, CREATED_AS[c.type]]))
        this.log.info('table created', { table: target.table, columns: load.columns.length })
      }
      this.tables.set(target.table, known)
    }
    for (const c of load.columns) {
      const existing = known.get(c.name)
      if (existing === undefined) {
        await client.query(
          `ALTER TABLE ${table.sql} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${PG_TYPE[c.type]}`,
        )
        known.set(c.name, CREATED_AS[c.type])
        this.log.info('column added', { table: target.table, column: c.name, type: PG_TYPE[c.type] })
      } else if (!COMPATIBLE[c.type].includes(existing)) {
        throw new SchemaConflictError(
          `column "${c.name}" of table ${target.table} is ${existing} in the database, but the batch has ${c.type} values`,
          load.id,
        )
      }
    }
  }

  /** Whether every column of the batch has exactly the type PG_TYPE creates for it in the table. */
  private exactTypes(table: string, columns: Column[]): boolean {
    const known = this.tables.get(table)
    return known !== undefined && columns.every((c) => known.get(c.name) === CREATED_AS[c.type])
  }

  /** insert and upsert: COPY into a staging table, then INSERT … ON CONFLICT (the last row of a key wins). */
  private async merge(
    client: pg.PoolClient,
    target: PgTarget,
    load: PgLoad,
    binaryAllowed: boolean,
  ): Promise<void> {
    const table = qualified(target.table)
    const names = load.columns.map((c) => c.name)
    const missing = target.keys.filter((k) => !names.includes(k))
    if (missing.length > 0)
      throw new SchemaConflictError(`keys ${missing.join(', ')} are not columns of the batch`, load.id)
    await client.query(`CREATE TEMP TABLE outpost_stage (LIKE ${table.sql}) ON COMMIT DROP`)
    await client.query('ALTER TABLE outpost_stage ADD COLUMN outpost_ord bigserial')
    await copyLoads(client, 'outpost_stage', [load], binaryAllowed)
    const cols = names.map(quoteIdent).join(', ')
    const keys = target.keys.map(quoteIdent).join(', ')
    const updates = names
      .filter((c) => !target.keys.includes(c))
      .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`)
    const action =
      target.mode === 'upsert' && updates.length > 0 ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'
    try {
      await client.query(
        `INSERT INTO ${table.sql} (${cols})
         SELECT DISTINCT ON (${keys}) ${cols} FROM outpost_stage ORDER BY ${keys}, outpost_ord DESC
         ON CONFLICT (${keys}) DO ${action}`,
      )
    } catch (error) {
      if ((error as { code?: string }).code === '42P10') {
        throw new SchemaConflictError(
          `table ${target.table} has no unique constraint on (${target.keys.join(', ')}), which ${target.mode} needs`,
          load.id,
        )
      }
      throw error
    } finally {
      await client.query('DROP TABLE IF EXISTS outpost_stage').catch(() => {})
    }
  }

  /** Forgets what it knew of a table (after dropping or altering it outside this writer). */
  forget(table: string): void {
    this.tables.delete(table)
  }

  /** Creates the table or adds columns for `columns`, inside the caller's transaction. */
  async prepare(client: pg.PoolClient, target: PgTarget, columns: Column[], id: string): Promise<void> {
    await this.ensureTable(client, target, {
      id,
      agentId: '',
      pipeline: '',
      columns,
      copy: '',
      rows: 0,
      targets: [target],
    })
  }

  async count(table: string): Promise<number> {
    const result = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(table).sql}`)
    return Number(result.rows[0]?.n ?? 0)
  }
}

function sameColumns(a: Column[], b: Column[]): boolean {
  return a.length === b.length && a.every((c, i) => c.name === b[i]!.name && c.type === b[i]!.type)
}

function bufferOf(data: string | Uint8Array): string | Buffer {
  return typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

/**
 * The rows of loads with the same columns in as few COPY statements as they allow: binary where
 * `binaryAllowed` and the load can be (see PgLoad.binary), else text; a change of format starts
 * a new COPY. Each load is encoded just before it is sent, so PostgreSQL reads one while the
 * next is made. Rows that cannot be encoded (a value the text format cannot write) fail with a
 * SchemaConflictError naming the load, after the open COPY is cancelled.
 */
export async function copyLoads(
  client: pg.PoolClient,
  tableSql: string,
  loads: (Pick<PgLoad, 'columns' | 'copy' | 'binary'> & { id?: string })[],
  binaryAllowed: boolean,
): Promise<void> {
  if (loads.length === 0) return
  const columns = loads[0]!.columns.map((c) => quoteIdent(c.name)).join(', ')
  let open: { stream: Writable; binary: boolean; done: Promise<void> } | undefined
  const finish = async () => {
    if (!open) return
    if (open.binary) open.stream.write(bufferOf(BINARY_TRAILER))
    open.stream.end()
    await open.done
    open = undefined
  }
  try {
    for (const load of loads) {
      let data: string | Uint8Array
      let binary: boolean
      try {
        const encoded = binaryAllowed ? load.binary?.() : undefined
        binary = encoded !== undefined
        data = encoded ? binaryRows(encoded) : typeof load.copy === 'function' ? load.copy() : load.copy
      } catch (error) {
        throw new SchemaConflictError(
          `rows${load.id ? ` of batch ${load.id}` : ''} cannot be written as COPY: ${(error as Error).message}`,
          load.id ?? '',
        )
      }
      if (open && open.binary !== binary) await finish()
      if (!open) {
        const stream = client.query(
          pgCopyStreams().from(`COPY ${tableSql} (${columns}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`),
        )
        const done = new Promise<void>((resolve, reject) => {
          stream.on('error', reject)
          stream.on('finish', resolve)
        })
        done.catch(() => {}) // awaited below; an early failure must not go unhandled meanwhile
        open = { stream, binary, done }
        if (binary) stream.write(bufferOf(BINARY_HEADER))
      }
      const { stream, done } = open
      if (!stream.write(bufferOf(data))) await Promise.race([once(stream, 'drain'), done])
    }
    await finish()
  } catch (error) {
    // A COPY left open would hold the connection (and the ROLLBACK behind it) for good: cancel
    // it (CopyFail) and wait for the server to say so.
    if (open) {
      open.stream.destroy(error as Error)
      await open.done.catch(() => {})
    }
    throw error
  }
}
