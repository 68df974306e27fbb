/**
 * Rows of a PostgreSQL table or query. The server streams them with COPY … TO STDOUT (text
 * format), so nothing is held in memory beyond a chunk; the worker types each field from the
 * result's column types. Incremental reads go after the last committed (cursor, key).
 */
import { postgresSourceSpec, SourceError } from '@outpost/shared'
import type { Column } from '@outpost/shared/batch'
import type pg from 'pg'
import type * as z from 'zod'
import { pgCopyStreams } from '../db/lazy.js'
import { connectorPool, quoteIdent } from '../db/postgres.js'
import { isRetryablePgError, pgErrorMessage } from '../db/postgres-errors.js'
import { CURSOR_KEY, incrementalQuery, lineChunks, startPosition, textChunk, typedState } from './database.js'
import { decodeTypedText, type TypedTextState } from './typed-text.js'
import { defineSource } from './types.js'

type PostgresSourceOptions = z.output<typeof postgresSourceSpec.schema>

/** Our column type for a PostgreSQL type OID; unknown types travel as text. */
export function pgOidType(oid: number): Column['type'] {
  switch (oid) {
    case 16:
      return 'bool'
    case 17:
      return 'bytes'
    case 20:
    case 21:
    case 23:
    case 26:
      return 'int'
    case 700:
    case 701:
      return 'float'
    case 1700:
      return 'decimal'
    case 114:
    case 3802:
      return 'json'
    case 1082:
      return 'date'
    case 1114:
    case 1184:
      return 'timestamp'
    default:
      return 'string'
  }
}

export function sourceError(what: string, error: unknown): SourceError {
  return new SourceError(`${what}: ${pgErrorMessage(error)}`, isRetryablePgError(error), { cause: error })
}

export const postgresSource = defineSource<PostgresSourceOptions>({
  spec: postgresSourceSpec,

  open(options, context) {
    const label = options.table ?? 'query'
    return {
      async *chunks(signal) {
        const pool = connectorPool(options, { max: 1 }, context.log)
        let client: pg.PoolClient | undefined
        try {
          client = await pool.connect().catch((error: unknown) => {
            throw sourceError(`postgres source ${label}: cannot connect`, error)
          })
          const c = client
          // Unambiguous text output, the same on every server.
          await c.query(
            "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = 'hex'; SET IntervalStyle = 'iso_8601'",
          )
          const start = startPosition(options, context.cursors.get(CURSOR_KEY))
          const sql = incrementalQuery(options, start, {
            ident: quoteIdent,
            literal: (v) => c.escapeLiteral(v),
          })
          const meta = await c
            .query({ text: `SELECT * FROM (${sql}) AS outpost_probe LIMIT 0` })
            .catch((error: unknown) => {
              throw sourceError(`postgres source ${label}`, error)
            })
          const columns: Column[] = meta.fields.map((f) => ({ name: f.name, type: pgOidType(f.dataTypeID) }))
          const state: TypedTextState = typedState(columns, options)
          const stream = c.query(pgCopyStreams().to(`COPY (${sql}) TO STDOUT`))
          const aborted = () => stream.destroy()
          signal.addEventListener('abort', aborted, { once: true })
          try {
            for await (const bytes of lineChunks(
              stream as AsyncIterable<Buffer>,
              context.chunkBytes,
              options.batch_rows,
            )) {
              yield textChunk(bytes, label, state, options.cursor !== undefined)
              if (signal.aborted) return
            }
          } catch (error) {
            if (signal.aborted) return
            throw sourceError(`postgres source ${label}`, error)
          } finally {
            signal.removeEventListener('abort', aborted)
          }
        } finally {
          client?.release(true)
          await pool.end().catch(() => {})
        }
      },
      async close() {},
    }
  },

  async check(options, context) {
    const pool = connectorPool(options, { max: 1, connectionTimeoutMs: 10_000 }, context.log)
    try {
      const client = await pool.connect().catch((error: unknown) => {
        throw sourceError('cannot connect', error)
      })
      try {
        const version = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
          .rows[0]?.v
        const sql = incrementalQuery(options, undefined, {
          ident: quoteIdent,
          literal: (v) => client.escapeLiteral(v),
        }).replace(/\s+ORDER BY[\s\S]*$/i, '')
        const meta = await client
          .query({
            text: `SELECT * FROM (${sql.includes(':cursor') ? sql.replaceAll(':cursor', 'NULL') : sql}) AS outpost_probe LIMIT 0`,
          })
          .catch((error: unknown) => {
            throw sourceError('the query fails', error)
          })
        return `connected to PostgreSQL ${version}; ${meta.fields.length} columns: ${meta.fields.map((f) => `${f.name} (${pgOidType(f.dataTypeID)})`).join(', ')}`
      } finally {
        client.release()
      }
    } finally {
      await pool.end().catch(() => {})
    }
  },

  decode(_options, bytes, decodeState) {
    return decodeTypedText(bytes, decodeState as TypedTextState)
  },
})
