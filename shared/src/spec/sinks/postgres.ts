import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'
import { duration } from '../duration.js'
import { connectionUrl, tlsOptions } from '../tls.js'
import { TABLE_PATTERN } from './central.js'

export const postgresSinkSpec = defineConnectorSpec({
  type: 'postgres',
  summary:
    'A PostgreSQL table at the site, loaded with COPY; idempotent per batch (a ledger table records what was applied).',
  options: {
    url: connectionUrl,
    table: z
      .string()
      .regex(
        TABLE_PATTERN,
        'expected a table name of lowercase letters, digits and _ (optionally schema.table)',
      )
      .describe('Created from the batch columns when missing; new columns are added.'),
    mode: z
      .enum(['append', 'insert', 'upsert', 'replace'])
      .default('append')
      .describe(
        "append: COPY every row; insert: skip rows whose keys exist; upsert: replace them; replace: truncate and load the run's rows in one transaction at the end of the run.",
      ),
    keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Key columns for insert and upsert (the primary key of a table created for them).'),
    statement_timeout: duration.optional().describe('Cancel a statement that takes longer, e.g. 5m.'),
    tls: tlsOptions.optional(),
  },
  check(value, ctx) {
    if ((value.mode === 'insert' || value.mode === 'upsert') && !value.keys)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: `required when mode is ${value.mode}` })
  },
})
