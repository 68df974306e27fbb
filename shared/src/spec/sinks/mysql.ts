import * as z from 'zod'
import { defineConnectorSpec } from '../component.js'
import { duration } from '../duration.js'
import { connectionUrl, tlsOptions } from '../tls.js'

export const mysqlSinkSpec = defineConnectorSpec({
  type: 'mysql',
  summary:
    'A MySQL or MariaDB table at the site, loaded with LOAD DATA LOCAL INFILE where the server allows it (else multi-row INSERT); idempotent per batch.',
  options: {
    url: connectionUrl,
    table: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'expected a table name of letters, digits and _')
      .describe('Created from the batch columns when missing; new columns are added.'),
    mode: z
      .enum(['append', 'upsert'])
      .default('append')
      .describe('append adds every row; upsert replaces rows with the same keys (ON DUPLICATE KEY UPDATE).'),
    keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Key columns for upsert (the primary key of a table created for it).'),
    statement_timeout: duration.optional().describe('Cancel a statement that takes longer, e.g. 5m.'),
    tls: tlsOptions.optional(),
  },
  check(value, ctx) {
    if (value.mode === 'upsert' && !value.keys)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'required when mode is upsert' })
  },
})
