import * as z from 'zod'
import { defineTransformSpec } from '../component.js'

const column = z.string().min(1)
export const AGGREGATE_FUNCTIONS = ['sum', 'avg', 'min', 'max', 'count', 'count_distinct'] as const

const metric = z.union([
  z.literal('count').describe('Rows in the group.'),
  z.strictObject({ sum: column }),
  z.strictObject({ avg: column }),
  z.strictObject({ min: column }),
  z.strictObject({ max: column }),
  z.strictObject({ count: column.describe('Non-null values of the column.') }),
  z.strictObject({ count_distinct: column.describe('Distinct non-null values (counted exactly).') }),
])

export const aggregateTransformSpec = defineTransformSpec({
  name: 'aggregate',
  summary:
    'Groups the rows of a run and computes one row per group: { group_by: [store, day], metrics: { revenue: { sum: amount }, sales: count, customers: { count_distinct: customer } } }. The groups are emitted when the run has read everything; partial results are checkpointed with the source cursor, so an interrupted run loses nothing and counts nothing twice.',
  options: z.strictObject({
    group_by: z
      .array(column)
      .default([])
      .refine((l) => new Set(l).size === l.length, 'a column is listed twice')
      .describe('Columns that form a group (none: one row for the whole run).'),
    metrics: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name of letters, digits and _'), metric)
      .refine((m) => Object.keys(m).length > 0, 'aggregate needs at least one metric')
      .describe('Output column → count, or { sum | avg | min | max | count | count_distinct: column }.'),
  }),
})

export type AggregateMetric = z.output<typeof metric>
export type AggregateOptions = z.output<typeof aggregateTransformSpec.options>
