/**
 * Runs the `validate` section over a batch after its transforms: rows that break an error rule
 * are quarantined, dropped or fail the run (on_error); warnings are counted; the batch is profiled
 * for the run's quality report.
 */
import type { ValidateSpec } from '@outpost/shared'
import type { Column } from '@outpost/shared/batch'
import type { Frame, StepReport, TransformContext } from '../transforms/types.js'
import { type BatchProfile, exactColumns, profileBatch, type RuleCount } from './profile.js'
import { type BoundRule, bindRule, checkSchema } from './rules.js'

/** A row broke an error rule and on_error is fail. */
export class ValidationFailedError extends Error {
  override name = 'ValidationFailedError'
  readonly code = 'validation_failed'
  readonly retryable = false
}

export interface BoundValidation {
  rules: BoundRule[]
  exact: Set<string>
}

/** Binds the rules to the columns after the transforms; a schema mismatch throws. */
export function bindValidation(spec: ValidateSpec, columns: readonly Column[]): BoundValidation {
  checkSchema(spec, columns)
  return { rules: spec.rules.map((r) => bindRule(r, columns)), exact: exactColumns(spec, columns) }
}

export function applyValidation(
  spec: ValidateSpec,
  bound: BoundValidation,
  frame: Frame,
  report: StepReport,
  context: TransformContext,
): { frame: Frame; profile: BatchProfile; dropped: number } {
  const counts: RuleCount[] = bound.rules.map((r) => ({ name: r.name, severity: r.severity, failed: 0 }))
  const invalid = frame.columns.map(() => 0)
  for (const rule of bound.rules) rule.reset()
  const rows: Frame['rows'] = []
  const records: number[] = []
  let dropped = 0
  for (let r = 0; r < frame.rows.length; r++) {
    const row = frame.rows[r]!
    let broken: { rule: BoundRule; reason: string } | undefined
    let errors = 0
    for (let i = 0; i < bound.rules.length; i++) {
      const rule = bound.rules[i]!
      const reason = rule.check(row, context)
      if (reason === undefined) continue
      counts[i]!.failed++
      if (rule.severity === 'warn') continue
      errors++
      if (rule.columnIndex >= 0) invalid[rule.columnIndex]!++
      broken ??= { rule, reason }
    }
    if (!broken) {
      rows.push(row)
      records.push(frame.records[r]!)
      continue
    }
    const more = errors > 1 ? ` (and ${errors - 1} more rule${errors > 2 ? 's' : ''})` : ''
    const message = `${broken.rule.name}: ${broken.reason}${more}`
    if (spec.on_error === 'fail')
      throw new ValidationFailedError(`validate: record ${frame.records[r]! + 1} breaks ${message}`)
    if (spec.on_error === 'drop') {
      dropped++
      continue
    }
    const column = broken.rule.column
    const value = column === undefined ? undefined : row[broken.rule.columnIndex]
    report.reject({
      record: frame.records[r]!,
      rule: broken.rule.name,
      reason: message,
      ...(column !== undefined ? { column } : {}),
      ...(value !== undefined && value !== null ? { value: String(value).slice(0, 200) } : {}),
    })
  }
  const profile = profileBatch(frame.columns, frame.rows, invalid, bound.exact, counts)
  if (dropped > 0) report.filtered(dropped)
  return { frame: { columns: frame.columns, rows, records }, profile, dropped }
}
