import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'

export const TABLE_PATTERN = /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/

export const centralSinkSpec = defineConnectorSpec({
  type: 'central',
  summary:
    'The central warehouse, through the control plane: batches travel over NATS JetStream and land exactly once (PostgreSQL with --warehouse-url, else Parquet files).',
  options: {
    table: z
      .string()
      .regex(
        TABLE_PATTERN,
        'expected a table name of lowercase letters, digits and _ (optionally schema.table)',
      )
      .describe('Table in the warehouse; created from the batch schema when missing, new columns added.'),
    mode: z
      .enum(['append', 'upsert'])
      .default('append')
      .describe('append adds every row; upsert replaces rows with the same keys (needs PostgreSQL).'),
    keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'Columns that identify a row, for upsert; also the primary key of a table created for upsert.',
      ),
  },
  check(value, ctx) {
    if (value.mode === 'upsert' && !value.keys)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'required when mode is upsert' })
  },
})
