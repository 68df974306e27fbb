/**
 * A PostgreSQL table at the site. Rows arrive as COPY text made in the worker; each batch is one
 * transaction with a ledger row (outpost_ledger in the target database), so a redelivered batch
 * changes nothing. `replace` stages a run's rows and swaps them in, truncating the table, in one
 * transaction at the end of the run; a run that read no rows leaves the table as it is.
 */
import { postgresSinkSpec, SinkError } from '@outpost/shared'
import type { Column, RowBatch } from '@outpost/shared/batch'
import type * as z from 'zod'
import { copyText } from '../db/copy-text.js'
import { connectorPool, PgTableWriter, qualified, quoteIdent, SchemaConflictError } from '../db/postgres.js'
import { isRetryablePgError, pgErrorMessage } from '../db/postgres-errors.js'
import { defineSink } from './types.js'

type PostgresSinkOptions = z.output<typeof postgresSinkSpec.schema>

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** [u32 length][{"columns":[…]}][COPY text] */
export function encodePgPayload(batch: RowBatch): Uint8Array {
  const head = encoder.encode(JSON.stringify({ columns: batch.columns }))
  const body = encoder.encode(
    copyText(
      batch.columns,
      batch.rows,
      batch.columns.map((c) => c.name),
    ),
  )
  const out = new Uint8Array(4 + head.length + body.length)
  new DataView(out.buffer).setUint32(0, head.length, true)
  out.set(head, 4)
  out.set(body, 4 + head.length)
  return out
}

export function decodePgPayload(payload: Uint8Array): { columns: Column[]; copy: Uint8Array } {
  const length = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0, true)
  const { columns } = JSON.parse(decoder.decode(payload.subarray(4, 4 + length))) as { columns: Column[] }
  return { columns, copy: payload.subarray(4 + length) }
}

function stageTable(table: string): string {
  const { schema, name } = qualified(table)
  return `${schema}.${name.slice(0, 40)}_outpost_replace`
}

export const postgresSink = defineSink<PostgresSinkOptions>({
  spec: postgresSinkSpec,
  delivery: 'local',
  open(options, context) {
    const pool = connectorPool(options, { max: 2 }, context.log)
    const writer = new PgTableWriter(pool, context.log)
    const replace = options.mode === 'replace'
    const target = replace ? stageTable(options.table) : options.table
    const fail = (error: unknown): never => {
      if (error instanceof SchemaConflictError) throw new SinkError(error.message, false, { cause: error })
      throw new SinkError(
        `postgres sink ${options.table}: ${pgErrorMessage(error)}`,
        isRetryablePgError(error),
        { cause: error },
      )
    }
    return {
      async write(batch) {
        const { columns, copy } = decodePgPayload(batch.payload)
        await writer
          .write([
            {
              id: batch.id,
              agentId: batch.agentId,
              pipeline: batch.pipeline,
              columns,
              copy,
              rows: batch.rows,
              targets: [
                {
                  table: target,
                  mode: replace ? 'append' : (options.mode as 'append' | 'insert' | 'upsert'),
                  keys: options.keys ?? [],
                },
              ],
            },
          ])
          .catch(fail)
      },
      async finishRun({ runId, succeeded }) {
        if (!replace) return
        const stage = qualified(target)
        const client = await pool.connect().catch(fail)
        try {
          const exists = await client.query('SELECT to_regclass($1) AS t', [`${stage.schema}.${stage.name}`])
          if (!exists.rows[0]?.t) return
          await client.query('BEGIN')
          if (succeeded) {
            const cols = await client.query<{ column_name: string; data_type: string }>(
              'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
              [stage.schema, stage.name],
            )
            const columns = cols.rows.map((r) => ({ name: r.column_name, type: fromPgType(r.data_type) }))
            await writer.prepare(
              client,
              { table: options.table, mode: 'append', keys: [] },
              columns,
              `${batchPrefix(context.agentId, context.pipeline, runId)}/end`,
            )
            const list = columns.map((c) => quoteIdent(c.name)).join(', ')
            await client.query(`TRUNCATE ${qualified(options.table).sql}`)
            await client.query(
              `INSERT INTO ${qualified(options.table).sql} (${list}) SELECT ${list} FROM ${stage.sql}`,
            )
            context.log.info('table replaced', { table: options.table, run: runId })
          }
          await client.query(`DROP TABLE ${stage.sql}`)
          await client.query('COMMIT')
          writer.forget(target)
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {})
          writer.forget(options.table)
          fail(error)
        } finally {
          client.release()
        }
      },
      async close() {
        await pool.end()
      },
    }
  },
  async check(options, context) {
    const pool = connectorPool(options, { max: 1, connectionTimeoutMs: 10_000 }, context.log)
    try {
      const { schema, name } = qualified(options.table)
      const version = (await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
        .rows[0]?.v
      const cols = await pool.query(
        'SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
        [schema, name],
      )
      const n = Number(cols.rows[0]?.n ?? 0)
      return `connected to PostgreSQL ${version}; table ${options.table} ${n > 0 ? `exists with ${n} columns` : 'will be created on the first batch'}`
    } catch (error) {
      throw new SinkError(
        `postgres sink ${options.table}: ${pgErrorMessage(error)}`,
        isRetryablePgError(error),
        { cause: error },
      )
    } finally {
      await pool.end().catch(() => {})
    }
  },
  encode(_options, batch) {
    return encodePgPayload(batch)
  },
  finishesRuns(options) {
    return options.mode === 'replace'
  },
})

function batchPrefix(agentId: string, pipeline: string, runId: string): string {
  return `${agentId}/${pipeline}/${runId}`
}

/** The type of a staged column, for creating the real table like it. */
function fromPgType(dataType: string): Column['type'] {
  switch (dataType) {
    case 'bigint':
    case 'integer':
    case 'smallint':
      return 'int'
    case 'double precision':
    case 'real':
      return 'float'
    case 'numeric':
      return 'decimal'
    case 'boolean':
      return 'bool'
    case 'timestamp with time zone':
    case 'timestamp without time zone':
      return 'timestamp'
    case 'date':
      return 'date'
    case 'jsonb':
    case 'json':
      return 'json'
    case 'bytea':
      return 'bytes'
    default:
      return 'string'
  }
}
