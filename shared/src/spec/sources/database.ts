import * as z from 'zod'
import { duration } from '../duration.js'
import { connectionUrl, tlsOptions } from '../tls.js'

export const identifier = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/,
    'expected a table or column name, optionally schema-qualified',
  )

/** Options every database source shares (postgres, mysql). */
export const databaseSourceOptions = {
  url: connectionUrl,
  table: identifier
    .optional()
    .describe('Read this table (shorthand for a query); with a cursor, incrementally.'),
  query: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A SELECT. With a cursor, Outpost reads it as a subquery filtered on (cursor, key) and ordered by them; or the query filters on :cursor itself.',
    ),
  cursor: z
    .strictObject({
      column: z
        .string()
        .min(1)
        .describe('Column that only grows: an updated_at timestamp or an increasing id.'),
      key: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Unique column that breaks ties between rows with the same cursor value; without it, rows that share the last value seen may be missed.',
        ),
      initial: z
        .string()
        .optional()
        .describe('Start after this value on the first run (default: read everything).'),
    })
    .optional()
    .describe('Incremental reads: each run reads rows after the last (cursor, key) committed.'),
  batch_rows: z.number().int().min(100).max(1_000_000).default(10_000).describe('Rows per batch.'),
  statement_timeout: duration.optional().describe('Cancel a query that takes longer, e.g. 10m.'),
  tls: tlsOptions.optional(),
} as const

export function checkDatabaseSource(
  value: {
    table?: string | undefined
    query?: string | undefined
    cursor?: { column: string; key?: string | undefined; initial?: string | undefined } | undefined
  },
  ctx: z.RefinementCtx,
): void {
  if (!value.table === !value.query) {
    ctx.addIssue({
      code: 'custom',
      path: value.table ? ['query'] : ['table'],
      message: 'give either table or query',
    })
    return
  }
  if (!value.query?.includes(':cursor')) return
  if (!value.cursor) {
    ctx.addIssue({
      code: 'custom',
      path: ['cursor'],
      message: 'the query uses :cursor, so a cursor is required',
    })
  } else if (value.cursor.key) {
    ctx.addIssue({
      code: 'custom',
      path: ['query'],
      message:
        'with a cursor key, write the query without :cursor; Outpost adds the (cursor, key) filter and the order',
    })
  } else if (value.cursor.initial === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['cursor', 'initial'],
      message: 'required when the query uses :cursor (the value before the first run)',
    })
  }
}
