/**
 * lookup: adds columns from a table at the site (a CSV file, a PostgreSQL or MySQL table or
 * query), matched on keys. Each worker reads the table once per run, before its first batch, and
 * holds it as a map from key to the added values, converted to their declared types; key values
 * are converted to the types of the row's key columns, so `42` in the file matches an int 42.
 */
import { readFileSync } from 'node:fs'
import { type ColumnTypeName, type LookupOptions, lookupTransformSpec } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { parse } from 'csv-parse/sync'
import type pg from 'pg'
import { mysqlConnection, mysqlErrorMessage } from '../db/mysql.js'
import { connectorPool, quoteIdent } from '../db/postgres.js'
import { FileRoots } from '../file-roots.js'
import { createLogger } from '../log.js'
import { type Converter, converterTo, FAIL } from './convert.js'
import { rowKey } from './keys.js'
import { columnIndex, defineTransform, TransformConfigError, type TransformContext } from './types.js'

/** The lookup table could not be read; a later attempt may succeed (a database down). */
export class LookupError extends Error {
  override name = 'LookupError'
  readonly code = 'lookup_failed'
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message)
  }
}

const TEXT_TYPES = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig
/** Connection errors go into the LookupError; the pool's idle-client warnings have nowhere to go. */
const quiet = createLogger({ level: 'error', write: () => {} })

interface TextTable {
  what: string
  columns: string[]
  rows: (string | null)[][]
}

function loadCsv(from: Extract<LookupOptions['from'], { type: 'csv' }>): TextTable {
  const what = from.path
  let bytes: Buffer
  try {
    bytes = readFileSync(from.path)
  } catch (error) {
    throw new LookupError(`lookup: cannot read ${from.path}: ${(error as Error).message}`, true)
  }
  let records: string[][]
  try {
    records = parse(bytes.toString(from.encoding === 'latin1' ? 'latin1' : 'utf8'), {
      bom: true,
      delimiter: from.delimiter,
      skip_empty_lines: true,
    }) as string[][]
  } catch (error) {
    throw new LookupError(`lookup: ${from.path} is not valid CSV: ${(error as Error).message}`, false)
  }
  const [header, ...rows] = records
  if (!header) throw new LookupError(`lookup: ${from.path} is empty; it needs a header row`, false)
  return { what, columns: header, rows: rows.map((r) => r.map((v) => (v === '' ? null : v))) }
}

async function loadPostgres(from: Extract<LookupOptions['from'], { type: 'postgres' }>): Promise<TextTable> {
  const what = from.table ? `table ${from.table}` : 'the lookup query'
  const pool = connectorPool(from, { max: 1 }, quiet)
  try {
    const sql = from.table
      ? `SELECT * FROM ${from.table.split('.').map(quoteIdent).join('.')}`
      : (from.query as string)
    // Every value as PostgreSQL's text, converted below like CSV cells.
    const result = await pool.query({ text: sql, rowMode: 'array', types: TEXT_TYPES })
    return { what, columns: result.fields.map((f) => f.name), rows: result.rows as (string | null)[][] }
  } catch (error) {
    const e = error as Error & { code?: string }
    // SQL errors (a missing table, a bad query) do not heal by themselves; connections may.
    const sqlError = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !e.code.startsWith('08')
    throw new LookupError(`lookup: cannot read ${what} from PostgreSQL: ${e.message}`, !sqlError)
  } finally {
    await pool.end().catch(() => {})
  }
}

async function loadMysql(from: Extract<LookupOptions['from'], { type: 'mysql' }>): Promise<TextTable> {
  const what = from.table ? `table ${from.table}` : 'the lookup query'
  const connection = mysqlConnection({
    url: from.url,
    ...(from.statement_timeout ? { statementTimeoutMs: from.statement_timeout } : {}),
    tls: from.tls,
  })
  connection.on('error', () => {})
  try {
    const sql = from.table
      ? `SELECT * FROM ${from.table
          .split('.')
          .map((p) => `\`${p.replaceAll('`', '``')}\``)
          .join('.')}`
      : (from.query as string)
    const [rows, fields] = (await connection.promise().query({ sql, rowsAsArray: true })) as unknown as [
      unknown[][],
      { name: string }[],
    ]
    return {
      what,
      columns: fields.map((f) => f.name),
      rows: rows.map((r) =>
        r.map((v) => (v === null ? null : Buffer.isBuffer(v) ? v.toString('hex') : String(v))),
      ),
    }
  } catch (error) {
    const e = error as Error & { sqlState?: string }
    throw new LookupError(
      `lookup: cannot read ${what} from MySQL: ${mysqlErrorMessage(error)}`,
      e.sqlState === undefined || e.sqlState.startsWith('08'),
    )
  } finally {
    connection.destroy()
  }
}

function load(from: LookupOptions['from']): TextTable | Promise<TextTable> {
  if (from.type === 'csv') return loadCsv(from)
  if (from.type === 'postgres') return loadPostgres(from)
  return loadMysql(from)
}

function converter(type: ColumnTypeName, what: string): Converter {
  const c = converterTo(type)
  if (typeof c === 'string') throw new TransformConfigError(`lookup: ${what}: ${c}`)
  return c
}

export const lookupTransform = defineTransform<LookupOptions>({
  spec: lookupTransformSpec,
  bind(options, input) {
    const on: [string, string][] =
      typeof options.on === 'string'
        ? [[options.on, options.on]]
        : Array.isArray(options.on)
          ? options.on.map((n) => [n, n])
          : Object.entries(options.on)
    const keyIndices = on.map(([rowColumn]) => columnIndex(input, rowColumn, 'lookup'))
    const added: Column[] = Array.isArray(options.columns)
      ? options.columns.map((name) => ({ name, type: 'string' as const }))
      : Object.entries(options.columns).map(([name, type]) => ({ name, type }))
    for (const c of added) {
      if (input.some((i) => i.name === c.name))
        throw new TransformConfigError(
          `lookup: there is already a column "${c.name}"; rename or drop it first`,
        )
    }
    const keyConverters = keyIndices.map((i) => converter(input[i]!.type, `key column ${input[i]!.name}`))
    const valueConverters = added.map((c) => converter(c.type, `column ${c.name}`))
    const columns = [...input, ...added]
    const nulls: Value[] = added.map(() => null)
    let table: Map<string, Value[]> | undefined
    let loadedFor = ''

    async function prepare(context: TransformContext): Promise<void> {
      const runKey = `${context.runId}@${context.now.getTime()}`
      if (loadedFor === runKey) return
      if (options.from.type === 'csv' && context.fileRoots) {
        const outside = await new FileRoots(context.fileRoots).realRefusal('lookup file', options.from.path)
        if (outside) throw new LookupError(`lookup: ${outside}`, false)
      }
      const text = await load(options.from)
      if (text.rows.length > options.max_rows)
        throw new LookupError(
          `lookup: ${text.what} has ${text.rows.length} rows, more than max_rows ${options.max_rows}`,
          false,
        )
      const position = (name: string) => {
        const i = text.columns.indexOf(name)
        if (i < 0)
          throw new LookupError(
            `lookup: ${text.what} has no column "${name}"; its columns are ${text.columns.join(', ')}`,
            false,
          )
        return i
      }
      const keyAt = on.map(([, lookupColumn]) => position(lookupColumn))
      const valueAt = added.map((c) => position(c.name))
      const map = new Map<string, Value[]>()
      const key: Value[] = new Array(on.length)
      const all = on.map((_, i) => i)
      text.rows.forEach((row, r) => {
        for (let k = 0; k < keyAt.length; k++) {
          const raw = row[keyAt[k]!] ?? null
          // Null never matches (as in SQL), and a key that cannot be the row's type never can.
          if (raw === null) return
          const v = keyConverters[k]!(raw, 'string')
          if (v === FAIL) return
          key[k] = v
        }
        const id = rowKey(key, all)
        if (map.has(id)) return
        map.set(
          id,
          valueAt.map((at, c) => {
            const raw = row[at] ?? null
            const v = raw === null ? null : valueConverters[c]!(raw, 'string')
            if (v === FAIL)
              throw new LookupError(
                `lookup: ${text.what}, row ${r + 1}: "${row[at]}" in column ${added[c]!.name} is not ${added[c]!.type}`,
                false,
              )
            return v
          }),
        )
      })
      table = map
      loadedFor = runKey
    }

    return {
      columns,
      prepare,
      run(frame, report) {
        const lookup = table as Map<string, Value[]>
        const rows: Value[][] = []
        const records: number[] = []
        frame.rows.forEach((row, i) => {
          const found = lookup.get(rowKey(row, keyIndices))
          if (!found && options.missing !== 'null') {
            if (options.missing === 'quarantine') {
              const shown = keyIndices.map((k) => `${input[k]!.name}=${String(row[k])}`).join(', ')
              report.reject({
                record: frame.records[i]!,
                rule: 'lookup',
                reason: `lookup: no match for ${shown} in ${options.from.type === 'csv' ? options.from.path : (options.from.table ?? 'the lookup query')}`,
                column: input[keyIndices[0]!]!.name,
                value: String(row[keyIndices[0]!]),
              })
            }
            return
          }
          rows.push([...row, ...(found ?? nulls)])
          records.push(frame.records[i]!)
        })
        if (options.missing === 'drop') report.filtered(frame.rows.length - rows.length)
        return { columns, rows, records }
      },
    }
  },
})
