import * as z from 'zod'
import { columnType } from '../column-types.js'
import { defineTransformSpec } from '../component.js'
import { celExpression } from './filter.js'

const derivation = z.union([
  celExpression,
  z.strictObject({
    expr: celExpression,
    type: columnType
      .optional()
      .describe(
        'The column type; default: the type of the expression (int, float, string, bool, timestamp, json).',
      ),
  }),
])

export const deriveTransformSpec = defineTransformSpec({
  name: 'derive',
  summary:
    'Adds or replaces columns computed by CEL expressions: { total: "double(qty) * price", day: { expr: "string(sold_at)", type: date } }. A null input makes the result null; an expression that fails on a row quarantines it.',
  options: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name of letters, digits and _'),
      derivation,
    )
    .refine((m) => Object.keys(m).length > 0, 'derive needs at least one column'),
})

export type Derivation = z.output<typeof derivation>
