import * as z from 'zod'
import { columnType } from '../column-types.js'
import { defineTransformSpec } from '../component.js'

const castTarget = z.union([
  columnType,
  z.strictObject({
    type: columnType,
    format: z
      .string()
      .optional()
      .describe('For date and timestamp: a pattern such as "DD.MM.YYYY HH:mm:ss"; default ISO 8601.'),
    timezone: z
      .string()
      .optional()
      .describe('For timestamps without an offset: the IANA zone they are in; default UTC.'),
  }),
])

export const castTransformSpec = defineTransformSpec({
  name: 'cast',
  summary:
    'Converts columns to a type: { amount: decimal, sold_at: timestamp }. A value that does not convert quarantines its row.',
  options: z
    .record(z.string().min(1), castTarget)
    .refine((m) => Object.keys(m).length > 0, 'cast needs at least one column'),
})

export type CastTarget = z.output<typeof castTarget>
