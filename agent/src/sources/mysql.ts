/**
 * Rows of a MySQL or MariaDB table or query, streamed (the driver reads the result row by row,
 * never the whole result). The main thread writes each row as tab-separated text; the worker
 * types the fields from the result's column types. Incremental reads go after the last committed
 * (cursor, key).
 */
import { mysqlSourceSpec, SourceError } from '@outpost/shared'
import type { Column } from '@outpost/shared/batch'
import type { FieldPacket } from 'mysql2'
import type * as z from 'zod'
import {
  isRetryableMysqlError,
  mysqlColumnType,
  mysqlConnection,
  mysqlErrorMessage,
  mysqlIdent,
  textField,
} from '../db/mysql.js'
import { CURSOR_KEY, incrementalQuery, lineChunks, startPosition, textChunk, typedState } from './database.js'
import { decodeTypedText, type TypedTextState } from './typed-text.js'
import { defineSource } from './types.js'

type MysqlSourceOptions = z.output<typeof mysqlSourceSpec.schema>

function sourceError(what: string, error: unknown): SourceError {
  return new SourceError(`${what}: ${mysqlErrorMessage(error)}`, isRetryableMysqlError(error), {
    cause: error,
  })
}

export const mysqlSource = defineSource<MysqlSourceOptions>({
  spec: mysqlSourceSpec,

  open(options, context) {
    const label = options.table ?? 'query'
    return {
      async *chunks(signal) {
        const conn = mysqlConnection({ url: options.url, tls: options.tls })
        conn.on('error', (error) => context.log.warn('mysql connection error', { error: error.message }))
        try {
          await conn
            .promise()
            .connect()
            .catch((error: unknown) => {
              throw sourceError(`mysql source ${label}: cannot connect`, error)
            })
          await conn.promise().query("SET time_zone = '+00:00'")
          if (options.statement_timeout) {
            // MySQL: max_execution_time (ms, SELECT only); MariaDB: max_statement_time (s).
            await conn
              .promise()
              .query(`SET SESSION max_statement_time = ${options.statement_timeout / 1000}`)
              .catch(() =>
                conn.promise().query(`SET SESSION max_execution_time = ${options.statement_timeout}`),
              )
          }
          const start = startPosition(options, context.cursors.get(CURSOR_KEY))
          const sql = incrementalQuery(options, start, { ident: mysqlIdent, literal: (v) => conn.escape(v) })
          const query = conn.query({ sql, rowsAsArray: true })
          let state: TypedTextState | undefined
          let binary: boolean[] = []
          const fieldsReady = new Promise<TypedTextState>((resolve, reject) => {
            query.once('fields', (fields: FieldPacket[]) => {
              try {
                const columns: Column[] = fields.map((f) => ({
                  name: f.name,
                  type: mysqlColumnType(
                    f.columnType,
                    f.characterSet,
                    (f as { extendedFormat?: string }).extendedFormat,
                  ),
                }))
                binary = columns.map((c) => c.type === 'bytes')
                resolve(typedState(columns, options))
              } catch (error) {
                reject(error)
              }
            })
            query.once('error', reject)
          })
          // Settled below; a query that fails before any row must not leave it unhandled.
          fieldsReady.catch(() => {})
          const rows = query.stream({ highWaterMark: 2000 })
          const lines = (async function* () {
            let buffer = ''
            for await (const row of rows as AsyncIterable<unknown[]>) {
              let line = ''
              for (let i = 0; i < row.length; i++) line += (i ? '\t' : '') + textField(row[i], binary[i])
              buffer += `${line}\n`
              if (buffer.length >= 65_536) {
                yield buffer
                buffer = ''
              }
            }
            if (buffer) yield buffer
          })()
          const aborted = () => rows.destroy()
          signal.addEventListener('abort', aborted, { once: true })
          try {
            for await (const bytes of lineChunks(lines, context.chunkBytes, options.batch_rows)) {
              state ??= await fieldsReady
              yield textChunk(bytes, label, state, options.cursor !== undefined)
              if (signal.aborted) return
            }
            // A result without rows still has to say whether the query was valid.
            state ??= await fieldsReady.catch((error: unknown) => {
              throw error
            })
          } catch (error) {
            if (signal.aborted) return
            if (error instanceof SourceError) throw error
            throw sourceError(`mysql source ${label}`, error)
          } finally {
            signal.removeEventListener('abort', aborted)
          }
        } finally {
          conn.destroy()
        }
      },
      async close() {},
    }
  },

  async check(options) {
    const conn = mysqlConnection({ url: options.url, tls: options.tls })
    try {
      await conn
        .promise()
        .connect()
        .catch((error: unknown) => {
          throw sourceError('cannot connect', error)
        })
      const [rows] = await conn.promise().query<import('mysql2').RowDataPacket[]>('SELECT VERSION() AS v')
      const base = incrementalQuery(options, undefined, {
        ident: mysqlIdent,
        literal: (v) => conn.escape(v),
      }).replace(/\s+ORDER BY[\s\S]*$/i, '')
      const [, fields] = await conn
        .promise()
        .query(
          `SELECT * FROM (${base.includes(':cursor') ? base.replaceAll(':cursor', 'NULL') : base}) AS outpost_probe LIMIT 0`,
        )
        .catch((error: unknown) => {
          throw sourceError('the query fails', error)
        })
      const list = (fields ?? []).map((f) => `${f.name} (${mysqlColumnType(f.columnType, f.characterSet)})`)
      return `connected to ${String(rows[0]?.v)}; ${list.length} columns: ${list.join(', ')}`
    } finally {
      conn.destroy()
    }
  },

  decode(_options, bytes, decodeState) {
    return decodeTypedText(bytes, decodeState as TypedTextState)
  },
})
