import * as z from 'zod'
import { defineTransformSpec } from '../component.js'
import { duration } from '../duration.js'

const columnList = (what: string) =>
  z
    .array(z.string().min(1))
    .min(1, `${what} needs at least one column`)
    .refine((l) => new Set(l).size === l.length, 'a column is listed twice')

export const selectTransformSpec = defineTransformSpec({
  name: 'select',
  summary: 'Keeps only these columns, in this order: [sale_id, amount, sold_at].',
  options: columnList('select'),
})

export const dropTransformSpec = defineTransformSpec({
  name: 'drop',
  summary: 'Removes these columns: [internal_note, raw_payload].',
  options: columnList('drop'),
})

export const trimTransformSpec = defineTransformSpec({
  name: 'trim',
  summary:
    'Removes leading and trailing whitespace from text columns: [name, city], or all for every string column. A cell left empty becomes null.',
  options: z.union([z.literal('all'), columnList('trim')]),
})

const fillWith = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.strictObject({
    with: z
      .enum(['previous', 'mean', 'median'])
      .describe(
        'previous: the last non-null value above; mean, median: of the non-null numbers in the batch.',
      ),
  }),
])

export const fillTransformSpec = defineTransformSpec({
  name: 'fill',
  summary:
    'Replaces nulls: { country: DE, amount: { with: median }, status: { with: previous } }. A constant is converted to the column type.',
  options: z
    .record(z.string().min(1), fillWith)
    .refine((m) => Object.keys(m).length > 0, 'fill needs at least one column'),
})

const maskMethod = z.union([
  z.enum(['sha256', 'redact']),
  z.strictObject({
    keep_last: z.number().int().min(1).max(64).describe('Keep the last N characters; the rest become *.'),
  }),
  z.strictObject({
    sha256: z.strictObject({
      salt: z
        .string()
        .min(1)
        .describe('A secret salt, e.g. ${secret:MASK_SALT}; default: the pipeline name.'),
    }),
  }),
])

export const maskTransformSpec = defineTransformSpec({
  name: 'mask',
  summary:
    'Hides personal data: { email: sha256, card: { keep_last: 4 }, note: redact }. sha256 is a hex HMAC-SHA256 salted per pipeline, so equal values still join.',
  options: z
    .record(z.string().min(1), maskMethod)
    .refine((m) => Object.keys(m).length > 0, 'mask needs at least one column'),
})

export const METADATA_FIELDS = [
  'extracted_at',
  'source',
  'agent_id',
  'run_id',
  'pipeline',
  'pipeline_version',
] as const

export const addMetadataTransformSpec = defineTransformSpec({
  name: 'add_metadata',
  summary:
    'Adds columns describing where each row came from: { _extracted_at: extracted_at, _source: source, _agent: agent_id, _run: run_id }.',
  options: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a column name of letters, digits and _'),
      z.enum(METADATA_FIELDS),
    )
    .refine((m) => Object.keys(m).length > 0, 'add_metadata needs at least one column'),
})

export const outliersTransformSpec = defineTransformSpec({
  name: 'outliers',
  summary:
    'Flags or clips numbers far from the rest of the batch: { column: amount, method: iqr, action: clip }.',
  options: z.strictObject({
    column: z.string().min(1),
    method: z.enum(['iqr', 'zscore']).default('iqr'),
    threshold: z
      .number()
      .positive()
      .optional()
      .describe(
        'iqr: how many interquartile ranges beyond the quartiles (default 1.5); zscore: standard deviations (default 3).',
      ),
    action: z
      .enum(['flag', 'clip'])
      .default('flag')
      .describe('flag adds a bool column <column>_outlier; clip moves the value to the nearest bound.'),
  }),
})

export const dedupeTransformSpec = defineTransformSpec({
  name: 'dedupe',
  summary:
    'Drops rows whose key was seen before: { keys: [order_id], window: 7d }. The first row of a key wins, within a run and across runs while the key is in the window (kept in LMDB at the site); dropped rows count as filtered.',
  options: z.strictObject({
    keys: columnList('dedupe'),
    window: z
      .union([z.literal('run'), duration])
      .prefault('7d')
      .describe('How long a key is remembered across runs (30m, 7d, …), or run: only within one run.'),
  }),
})
