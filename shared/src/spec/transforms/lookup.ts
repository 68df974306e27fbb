import * as z from 'zod'
import { columnType } from '../column-types.js'
import { defineTransformSpec } from '../component.js'
import { duration } from '../duration.js'
import { identifier } from '../sources/database.js'
import { connectionUrl, tlsOptions } from '../tls.js'

const database = {
  url: connectionUrl,
  table: identifier.optional().describe('Read the whole table.'),
  query: z.string().min(1).optional().describe('Or a SELECT returning the key and the added columns.'),
  statement_timeout: duration.optional(),
  tls: tlsOptions.optional(),
}
const oneOf = (v: { table?: string | undefined; query?: string | undefined }) => !v.table !== !v.query

const lookupFrom = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('csv'),
    path: z.string().min(1).describe('A CSV file at the site with a header row.'),
    delimiter: z.string().length(1).default(','),
    encoding: z.enum(['utf-8', 'latin1']).default('utf-8'),
  }),
  z.strictObject({ type: z.literal('postgres'), ...database }).refine(oneOf, 'give either table or query'),
  z.strictObject({ type: z.literal('mysql'), ...database }).refine(oneOf, 'give either table or query'),
])

const name = z.string().min(1)

export const lookupTransformSpec = defineTransformSpec({
  name: 'lookup',
  summary:
    'Adds columns from a CSV file or a database table at the site, matched on keys: { from: { type: csv, path: /data/stores.csv }, on: { store_id: id }, columns: { region: string, sqm: int } }. The table is read once per run (in each worker); when keys repeat in it, the first row wins.',
  options: z.strictObject({
    from: lookupFrom,
    on: z
      .union([name, z.array(name).min(1), z.record(name, name)])
      .describe('The key: a column both sides share, a list of them, or { row_column: lookup_column }.'),
    columns: z
      .union([z.array(name).min(1), z.record(name, columnType)])
      .describe('Lookup columns to add: [region, manager] as text, or { region: string, sqm: int }.'),
    missing: z
      .enum(['null', 'drop', 'quarantine'])
      .default('null')
      .describe(
        'A row without a match: keep it with nulls, drop it (counted as filtered), or quarantine it.',
      ),
    max_rows: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(1_000_000)
      .describe('Refuse a lookup table larger than this (it is held in memory).'),
  }),
})

export type LookupOptions = z.output<typeof lookupTransformSpec.options>
