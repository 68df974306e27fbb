/**
 * A MySQL or MariaDB table at the site. Rows arrive as tab-separated text made in the worker and
 * go in with LOAD DATA LOCAL INFILE when the server allows it, else as multi-row INSERTs; each
 * batch is one transaction with a ledger row (outpost_ledger), so a redelivered batch changes
 * nothing. Upsert loads into a temporary table and merges with ON DUPLICATE KEY UPDATE.
 */
import { Readable } from 'node:stream'
import { type ColumnTypeName, mysqlSinkSpec, SinkError } from '@outpost/shared'
import {
  type Column,
  formatDateDays,
  formatTimestampMicros,
  type RowBatch,
  type Value,
} from '@outpost/shared/batch'
import type mysql from 'mysql2'
import type * as z from 'zod'
import { isRetryableMysqlError, mysqlConnection, mysqlErrorMessage, mysqlIdent } from '../db/mysql.js'
import { SchemaConflictError } from '../db/postgres.js'
import { defineSink } from './types.js'

type MysqlSinkOptions = z.output<typeof mysqlSinkSpec.schema>

const MYSQL_TYPE: Record<ColumnTypeName, string> = {
  string: 'LONGTEXT',
  int: 'BIGINT',
  float: 'DOUBLE',
  decimal: 'DECIMAL(65,30)',
  bool: 'BOOLEAN',
  timestamp: 'DATETIME(6)',
  date: 'DATE',
  json: 'JSON',
  bytes: 'LONGBLOB',
}

/** The information_schema DATA_TYPE of a column we create (BOOLEAN is an alias of TINYINT(1)). */
function dataType(type: ColumnTypeName): string {
  return type === 'bool' ? 'tinyint' : MYSQL_TYPE[type].toLowerCase().replace(/\(.*$/, '')
}

/** information_schema DATA_TYPE values that accept each of our types. */
const COMPATIBLE: Record<ColumnTypeName, string[]> = {
  string: ['longtext', 'mediumtext', 'text', 'tinytext', 'varchar', 'char', 'enum', 'set'],
  int: ['bigint', 'int', 'mediumint', 'smallint', 'tinyint', 'decimal', 'double', 'float'],
  float: ['double', 'float', 'decimal'],
  decimal: ['decimal', 'double', 'float'],
  bool: ['tinyint', 'bit', 'smallint', 'int', 'bigint'],
  timestamp: ['datetime', 'timestamp'],
  date: ['date', 'datetime', 'timestamp'],
  json: ['json', 'longtext', 'text'],
  bytes: ['longblob', 'blob', 'mediumblob', 'tinyblob', 'varbinary', 'binary'],
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function escapeField(text: string): string {
  return /[\\\t\n\r\0]/.test(text)
    ? text.replace(/[\\\t\n\r\0]/g, (c) =>
        c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\0',
      )
    : text
}

/** A cell in LOAD DATA's default text format (\N for null; bytes as hex, turned back by UNHEX). */
function mysqlCell(value: Value, type: ColumnTypeName): string {
  if (value === null || value === undefined) return '\\N'
  switch (type) {
    case 'bool':
      return value ? '1' : '0'
    case 'timestamp':
      return formatTimestampMicros(value as number | bigint)
        .replace('T', ' ')
        .replace('Z', '')
    case 'date':
      return formatDateDays(value as number)
    case 'float':
      return Number.isFinite(value as number) ? String(value) : '\\N'
    case 'bytes': {
      let hex = ''
      for (const b of value as Uint8Array) hex += b.toString(16).padStart(2, '0')
      return hex
    }
    default:
      return escapeField(String(value))
  }
}

/** [u32 length][{"columns":[…]}][rows as LOAD DATA text] */
export function encodeMysqlPayload(batch: RowBatch): Uint8Array {
  const types = batch.columns.map((c) => c.type)
  let text = ''
  for (const row of batch.rows) {
    let line = ''
    for (let i = 0; i < row.length; i++)
      line += (i ? '\t' : '') + mysqlCell(row[i] as Value, types[i] as ColumnTypeName)
    text += `${line}\n`
  }
  const head = encoder.encode(JSON.stringify({ columns: batch.columns }))
  const body = encoder.encode(text)
  const out = new Uint8Array(4 + head.length + body.length)
  new DataView(out.buffer).setUint32(0, head.length, true)
  out.set(head, 4)
  out.set(body, 4 + head.length)
  return out
}

function decodePayload(payload: Uint8Array): { columns: Column[]; body: Uint8Array } {
  const length = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0, true)
  const { columns } = JSON.parse(decoder.decode(payload.subarray(4, 4 + length))) as { columns: Column[] }
  return { columns, body: payload.subarray(4 + length) }
}

/** The rows of a payload as arrays of SQL values, for INSERT when LOAD DATA is not allowed. */
function payloadRows(columns: Column[], body: Uint8Array): unknown[][] {
  const text = decoder.decode(body)
  const unescapeField = (f: string) =>
    f.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '0': '\0', '\\': '\\' })[c] ?? c)
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) =>
      line.split('\t').map((f, i) => {
        if (f === '\\N') return null
        return columns[i]?.type === 'bytes' ? Buffer.from(f, 'hex') : unescapeField(f)
      }),
    )
}

export const mysqlSink = defineSink<MysqlSinkOptions>({
  spec: mysqlSinkSpec,
  delivery: 'local',
  open(options, context) {
    let conn: mysql.Connection | undefined
    let localInfile: boolean | undefined
    let known: Map<string, string> | undefined
    let current: Uint8Array = new Uint8Array(0)
    const connect = async (): Promise<mysql.Connection> => {
      if (conn) return conn
      const c = mysqlConnection({
        url: options.url,
        tls: options.tls,
        infile: () => Readable.from([Buffer.from(current.buffer, current.byteOffset, current.byteLength)]),
      })
      c.on('error', (error) => {
        context.log.warn('mysql connection error', { error: error.message })
        conn = undefined
      })
      await c.promise().connect()
      await c.promise().query("SET time_zone = '+00:00'")
      await c
        .promise()
        .query(
          'CREATE TABLE IF NOT EXISTS outpost_ledger (batch_id VARCHAR(255) PRIMARY KEY, agent_id VARCHAR(64) NOT NULL, pipeline VARCHAR(64) NOT NULL, tables TEXT NOT NULL, row_count INT NOT NULL, applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB',
        )
      const [rows] = await c.promise().query<mysql.RowDataPacket[]>('SELECT @@local_infile AS v')
      localInfile = Number(rows[0]?.v) === 1
      conn = c
      return c
    }
    const fail = (error: unknown): never => {
      if (error instanceof SchemaConflictError) throw new SinkError(error.message, false, { cause: error })
      throw new SinkError(
        `mysql sink ${options.table}: ${mysqlErrorMessage(error)}`,
        isRetryableMysqlError(error),
        { cause: error },
      )
    }

    const ensureTable = async (c: mysql.Connection, columns: Column[], batchId: string) => {
      if (!known) {
        const [rows] = await c
          .promise()
          .query<mysql.RowDataPacket[]>(
            'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.columns WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
            [options.table],
          )
        known = new Map(rows.map((r) => [String(r.name), String(r.type).toLowerCase()]))
        if (known.size === 0) {
          const keys = options.keys ?? []
          const defs = columns.map(
            (col) =>
              `${mysqlIdent(col.name)} ${keys.includes(col.name) && col.type === 'string' ? 'VARCHAR(255)' : MYSQL_TYPE[col.type]}`,
          )
          if (options.mode === 'upsert') {
            const missing = keys.filter((k) => !columns.some((col) => col.name === k))
            if (missing.length > 0)
              throw new SchemaConflictError(
                `keys ${missing.join(', ')} are not columns of the batch`,
                batchId,
              )
            defs.push(`PRIMARY KEY (${keys.map(mysqlIdent).join(', ')})`)
          }
          await c
            .promise()
            .query(
              `CREATE TABLE IF NOT EXISTS ${mysqlIdent(options.table)} (${defs.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
            )
          known = new Map(columns.map((col) => [col.name, dataType(col.type)]))
          context.log.info('table created', { table: options.table, columns: columns.length })
        }
      }
      for (const col of columns) {
        const existing = known.get(col.name)
        if (existing === undefined) {
          await c
            .promise()
            .query(
              `ALTER TABLE ${mysqlIdent(options.table)} ADD COLUMN ${mysqlIdent(col.name)} ${MYSQL_TYPE[col.type]}`,
            )
          known.set(col.name, dataType(col.type))
          context.log.info('column added', { table: options.table, column: col.name })
        } else if (!COMPATIBLE[col.type].includes(existing)) {
          throw new SchemaConflictError(
            `column "${col.name}" of table ${options.table} is ${existing} in the database, but the batch has ${col.type} values`,
            batchId,
          )
        }
      }
    }

    const load = async (c: mysql.Connection, table: string, columns: Column[], body: Uint8Array) => {
      const targets = columns.map((col) =>
        col.type === 'bytes' ? `@${col.name.replace(/\W/g, '_')}` : mysqlIdent(col.name),
      )
      const sets = columns
        .filter((col) => col.type === 'bytes')
        .map((col) => `${mysqlIdent(col.name)} = UNHEX(@${col.name.replace(/\W/g, '_')})`)
      if (localInfile) {
        current = body
        await c
          .promise()
          .query(
            `LOAD DATA LOCAL INFILE 'outpost-batch' INTO TABLE ${table} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(', ')})${sets.length ? ` SET ${sets.join(', ')}` : ''}`,
          )
        current = new Uint8Array(0)
        return
      }
      const rows = payloadRows(columns, body)
      for (let i = 0; i < rows.length; i += 1000) {
        await c
          .promise()
          .query(`INSERT INTO ${table} (${columns.map((col) => mysqlIdent(col.name)).join(', ')}) VALUES ?`, [
            rows.slice(i, i + 1000),
          ])
      }
    }

    return {
      async write(batch) {
        const { columns, body } = decodePayload(batch.payload)
        const c = await connect().catch(fail)
        try {
          await c.promise().query('START TRANSACTION')
          const [seen] = await c
            .promise()
            .query<mysql.RowDataPacket[]>('SELECT 1 FROM outpost_ledger WHERE batch_id = ?', [batch.id])
          if (seen.length === 0) {
            await ensureTable(c, columns, batch.id)
            if (options.mode === 'upsert') {
              await c.promise().query('DROP TEMPORARY TABLE IF EXISTS outpost_stage')
              await c
                .promise()
                .query(`CREATE TEMPORARY TABLE outpost_stage LIKE ${mysqlIdent(options.table)}`)
              await c
                .promise()
                .query('ALTER TABLE outpost_stage DROP PRIMARY KEY')
                .catch(() => {})
              await load(c, 'outpost_stage', columns, body)
              const list = columns.map((col) => mysqlIdent(col.name)).join(', ')
              const updates = columns
                .filter((col) => !(options.keys ?? []).includes(col.name))
                .map((col) => `${mysqlIdent(col.name)} = VALUES(${mysqlIdent(col.name)})`)
              await c
                .promise()
                .query(
                  `INSERT INTO ${mysqlIdent(options.table)} (${list}) SELECT ${list} FROM outpost_stage ON DUPLICATE KEY UPDATE ${updates.length ? updates.join(', ') : `${mysqlIdent(columns[0]!.name)} = ${mysqlIdent(columns[0]!.name)}`}`,
                )
              await c.promise().query('DROP TEMPORARY TABLE outpost_stage')
            } else {
              await load(c, mysqlIdent(options.table), columns, body)
            }
            await c
              .promise()
              .query(
                'INSERT INTO outpost_ledger (batch_id, agent_id, pipeline, tables, row_count) VALUES (?, ?, ?, ?, ?)',
                [batch.id, batch.agentId, batch.pipeline, options.table, batch.rows],
              )
          }
          await c.promise().query('COMMIT')
        } catch (error) {
          await c
            .promise()
            .query('ROLLBACK')
            .catch(() => {})
          known = undefined
          fail(error)
        }
      },
      async close() {
        conn?.destroy()
        conn = undefined
      },
    }
  },
  async check(options) {
    const c = mysqlConnection({ url: options.url, tls: options.tls })
    try {
      await c.promise().connect()
      const [version] = await c
        .promise()
        .query<mysql.RowDataPacket[]>('SELECT VERSION() AS v, @@local_infile AS infile')
      const [cols] = await c
        .promise()
        .query<mysql.RowDataPacket[]>(
          'SELECT count(*) AS n FROM information_schema.columns WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
          [options.table],
        )
      const n = Number(cols[0]?.n ?? 0)
      return `connected to ${String(version[0]?.v)} (${Number(version[0]?.infile) === 1 ? 'LOAD DATA LOCAL allowed' : 'LOAD DATA LOCAL off: multi-row INSERT'}); table ${options.table} ${n > 0 ? `exists with ${n} columns` : 'will be created on the first batch'}`
    } catch (error) {
      throw new SinkError(
        `mysql sink ${options.table}: ${mysqlErrorMessage(error)}`,
        isRetryableMysqlError(error),
        { cause: error },
      )
    } finally {
      c.destroy()
    }
  },
  encode(_options, batch) {
    return encodeMysqlPayload(batch)
  },
})
