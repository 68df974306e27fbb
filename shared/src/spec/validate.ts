/**
 * The `validate` section: row rules with a severity, schema checks, and per-column thresholds on
 * the run's quality that fail or warn the run.
 */
import * as z from 'zod'
import { columnType } from './column-types.js'
import { celExpression } from './transforms/filter.js'

const severity = z
  .enum(['error', 'warn'])
  .default('error')
  .describe('error: the row is handled by on_error; warn: the row passes and the rule is counted.')
const common = {
  severity,
  name: z.string().min(1).max(100).optional().describe('How the rule is named in quarantine and reports.'),
}
const column = z.string().min(1)

const rules = [
  z.strictObject({ not_null: column.describe('The column must have a value.'), ...common }),
  z.strictObject({ unique: column.describe('No two rows of a batch share a value.'), ...common }),
  z.strictObject({
    range: column.describe('A number (or timestamp, date) column.'),
    min: z.union([z.number(), z.string()]).optional(),
    max: z.union([z.number(), z.string()]).optional(),
    ...common,
  }),
  z.strictObject({
    in_set: column,
    values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1),
    ...common,
  }),
  z.strictObject({
    regex: column,
    pattern: z.string().refine((p) => {
      try {
        new RegExp(p, 'u')
        return true
      } catch {
        return false
      }
    }, 'not a valid regular expression'),
    ...common,
  }),
  z.strictObject({ email: column.describe('The text must look like an e-mail address.'), ...common }),
  z.strictObject({
    length: column,
    min: z.number().int().min(0).optional(),
    max: z.number().int().min(0).optional(),
    ...common,
  }),
  z.strictObject({ type: column, is: columnType.describe('The value converts to this type.'), ...common }),
  z.strictObject({ expr: celExpression.describe('A CEL expression that must be true.'), ...common }),
] as const

export const validationRule = z.union(rules)
export type ValidationRule = z.output<typeof validationRule>

/** The rule kinds, in the order above: each rule object has exactly one of these keys. */
export const RULE_KINDS = [
  'not_null',
  'unique',
  'range',
  'in_set',
  'regex',
  'email',
  'length',
  'type',
  'expr',
] as const
export type RuleKind = (typeof RULE_KINDS)[number]

export function ruleKind(rule: ValidationRule): RuleKind {
  return RULE_KINDS.find((k) => k in rule) as RuleKind
}

/** A default name: "not_null(sale_id)", "expr(sold_at <= now)". */
export function ruleName(rule: ValidationRule): string {
  const kind = ruleKind(rule)
  return rule.name ?? `${kind}(${String((rule as Record<string, unknown>)[kind])})`
}

const ratio = z.number().min(0).max(1)
/** One ratio for every column, or per column. */
const threshold = z.union([ratio, z.record(z.string().min(1), ratio)])

const thresholds = z.strictObject({
  completeness: threshold.optional().describe('Share of non-null values.'),
  uniqueness: threshold.optional().describe('Distinct values ÷ non-null values (estimated over the run).'),
  validity: threshold.optional().describe('Share of rows that break no error rule on the column.'),
})

export const validateSchema = z
  .strictObject({
    rules: z.array(validationRule).default([]),
    schema: z
      .strictObject({
        required: z.array(column).default([]).describe('Columns that must be present.'),
        types: z.record(column, columnType).default({}).describe('Columns that must have this type.'),
      })
      .optional()
      .describe('Checked against the columns after the transforms; a mismatch fails the run.'),
    thresholds: z
      .strictObject({ fail: thresholds.optional(), warn: thresholds.optional() })
      .optional()
      .describe(
        'Quality the run must reach: below fail, the run fails (its rows are still delivered); below warn, it is marked.',
      ),
    on_error: z
      .enum(['quarantine', 'drop', 'fail'])
      .default('quarantine')
      .describe(
        'For rows breaking an error rule: quarantine (kept at the site for replay), drop (counted) or fail the run.',
      ),
  })
  .describe('Checks on every row after the transforms, and on the quality of the whole run.')

export type ValidateSpec = z.output<typeof validateSchema>
