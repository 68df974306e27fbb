/**
 * A PostgreSQL table at the site. Rows arrive columnar-encoded by the worker and go in as binary
 * COPY (COPY text for a table with other column types than Outpost creates); each batch is one
 * transaction with a ledger row (outpost_ledger in the target database), so a redelivered batch
 * changes nothing. `replace` stages a run's rows and swaps them in, truncating the table, in one
 * transaction at the end of the run; a run that read no rows leaves the table as it is.
 */

import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { postgresSinkSpec, SinkError } from '@outpost/shared'
import { type Column, checkColumns, encodeColumns, type RowBatch } from '@outpost/shared/batch'
import { DataBatchSchema } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import type * as z from 'zod'
import { copyText } from '../db/copy-text.js'
import {
  columnarCopies,
  connectorPool,
  type PgLoad,
  PgTableWriter,
  qualified,
  quoteIdent,
  SchemaConflictError,
} from '../db/postgres.js'
import { isRetryablePgError, pgErrorMessage } from '../db/postgres-errors.js'
import { defineSink } from './types.js'

type PostgresSinkOptions = z.output<typeof postgresSinkSpec.schema>

const encoder = new TextEncoder()
const decoder = new TextDecoder()
/** Marks a columnar payload; a text payload starts with the length of its JSON head. */
const COLUMNAR = 0xffffffff

/**
 * Rows with typed columns: [u32 0xffffffff][the batch's columns in the wire's columnar encoding (a
 * DataBatch message with columns and row count)], cheaper to make in the worker than COPY text
 * (no timestamps or numbers formatted) and loaded as binary COPY straight from its bytes (see
 * copyBinary) when the table's types are exactly ours, which also spares PostgreSQL parsing them.
 * Rows of text only: [u32 length][{"columns":[…]}][COPY text], which costs the worker little more
 * than the bytes it read and is sent as it is (measured: binary gains nothing there).
 */
export function encodePgPayload(batch: RowBatch): Uint8Array {
  if (batch.columns.every((c) => c.type === 'string')) return textPayload(batch)
  const body = toBinary(
    DataBatchSchema,
    create(DataBatchSchema, { rowCount: batch.rows.length, columns: encodeColumns(batch) }),
  )
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, COLUMNAR, true)
  out.set(body, 4)
  return out
}

function textPayload(batch: RowBatch): Uint8Array {
  const body = encoder.encode(
    copyText(
      batch.columns,
      batch.rows,
      batch.columns.map((c) => c.name),
    ),
  )
  return copyTextPayload(batch.columns, body)
}

/** A text payload of rows already written as COPY text. */
export function copyTextPayload(columns: Column[], body: Uint8Array): Uint8Array {
  const head = encoder.encode(JSON.stringify({ columns }))
  const out = new Uint8Array(4 + head.length + body.length)
  new DataView(out.buffer).setUint32(0, head.length, true)
  out.set(head, 4)
  out.set(body, 4 + head.length)
  return out
}

/** A payload as a load: binary from the columnar bytes, COPY text made only if it is needed. */
export function decodePgPayload(payload: Uint8Array): Pick<PgLoad, 'columns' | 'copy' | 'binary'> {
  const length = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0, true)
  if (length !== COLUMNAR) {
    // [u32 length][{"columns":[…]}][COPY text]: text-only rows, and every payload agents before
    // 2026-11-26 left in their outbox.
    const { columns } = JSON.parse(decoder.decode(payload.subarray(4, 4 + length))) as { columns: Column[] }
    return { columns, copy: payload.subarray(4 + length) }
  }
  const message = fromBinary(DataBatchSchema, payload.subarray(4))
  const columns = checkColumns(message.columns, message.rowCount)
  return { columns, ...columnarCopies(columns, message.columns, message.rowCount) }
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
        let load: ReturnType<typeof decodePgPayload>
        try {
          load = decodePgPayload(batch.payload)
        } catch (error) {
          throw new SinkError(
            `postgres sink ${options.table}: batch ${batch.id} does not decode: ${(error as Error).message}`,
            false,
            { cause: error },
          )
        }
        await writer
          .write([
            {
              ...load,
              id: batch.id,
              agentId: batch.agentId,
              pipeline: batch.pipeline,
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
  encodeCopyText(_options, columns, copy) {
    return copyTextPayload(columns, copy)
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
