/**
 * Row rules of the `validate` section, bound to the columns after the transforms. Every rule but
 * not_null passes a null (not_null is how to require a value).
 */
import {
  type ColumnTypeName,
  compileCel,
  type RuleKind,
  ruleKind,
  ruleName,
  type ValidateSpec,
  type ValidationRule,
} from '@outpost/shared'
import { type Column, formatValue, type Value } from '@outpost/shared/batch'
import { compileRowCel } from '../transforms/cel-compile.js'
import { celOverRows, describeCelError, referencedColumns } from '../transforms/cel-values.js'
import { converterTo, FAIL } from '../transforms/convert.js'
import { columnIndex, TransformConfigError, type TransformContext } from '../transforms/types.js'

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/u

export interface BoundRule {
  name: string
  kind: RuleKind
  severity: 'error' | 'warn'
  /** The column the rule is about (none for expr). */
  column?: string
  columnIndex: number
  /** Starts a batch (unique keeps the values it has seen). */
  reset(): void
  /** Why the row breaks the rule, or undefined when it passes. */
  check(row: Value[], context: TransformContext): string | undefined
}

function show(value: Value, type: ColumnTypeName): string {
  const text = formatValue(value, type) ?? 'null'
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** A bound for range on a column of this type, in the column's own units. */
function boundOf(bound: number | string | undefined, type: ColumnTypeName, rule: string): number | undefined {
  if (bound === undefined) return undefined
  if (type === 'timestamp' || type === 'date') {
    const convert = converterTo(type)
    const v = typeof convert === 'string' ? FAIL : convert(String(bound), 'string')
    if (v === FAIL) throw new TransformConfigError(`${rule}: ${bound} is not a ${type}`)
    return Number(v)
  }
  const n = Number(bound)
  if (!Number.isFinite(n)) throw new TransformConfigError(`${rule}: ${bound} is not a number`)
  return n
}

export function bindRule(rule: ValidationRule, columns: readonly Column[]): BoundRule {
  const kind = ruleKind(rule)
  const name = ruleName(rule)
  const severity = rule.severity
  if (kind === 'expr') {
    const expression = (rule as { expr: string }).expr
    const program = compileCel(expression)
    const used = referencedColumns(expression, columns)
    const compiled = compileRowCel(expression, used)
    let now: Date | undefined
    let evaluate = compiled
    return {
      name,
      kind,
      severity,
      columnIndex: -1,
      reset() {},
      check(row, context) {
        // Interpreted: one activation per batch (the context's `now`), refilled for each row.
        if (evaluate === undefined || (compiled === undefined && now !== context.now)) {
          now = context.now
          evaluate = celOverRows(program, used, now)
        }
        try {
          const result = evaluate(row)
          return result === true
            ? undefined
            : result === false
              ? 'is false'
              : `returned ${typeof result}, not a bool`
        } catch (error) {
          return describeCelError(error)
        }
      },
    }
  }
  const column = (rule as Record<string, unknown>)[kind] as string
  const index = columnIndex(columns, column, name)
  const type = (columns[index] as Column).type
  const base = { name, kind, severity, column, columnIndex: index, reset() {} }
  switch (kind) {
    case 'not_null':
      return { ...base, check: (row) => (row[index] === null ? `${column} is null` : undefined) }
    case 'unique': {
      let seen = new Set<string>()
      return {
        ...base,
        reset() {
          seen = new Set()
        },
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          const key = formatValue(v, type) ?? ''
          if (seen.has(key)) return `${column} ${show(v, type)} appears more than once`
          seen.add(key)
          return undefined
        },
      }
    }
    case 'range': {
      const r = rule as { min?: number | string; max?: number | string }
      const min = boundOf(r.min, type, name)
      const max = boundOf(r.max, type, name)
      if (!['int', 'float', 'decimal', 'timestamp', 'date'].includes(type))
        throw new TransformConfigError(
          `${name}: column ${column} is ${type}; range needs numbers, timestamps or dates`,
        )
      return {
        ...base,
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          const n = Number(v)
          if (Number.isNaN(n)) return `${column} is NaN`
          if (min !== undefined && n < min) return `${column} ${show(v, type)} is below ${r.min}`
          if (max !== undefined && n > max) return `${column} ${show(v, type)} is above ${r.max}`
          return undefined
        },
      }
    }
    case 'in_set': {
      const values = new Set((rule as { values: unknown[] }).values.map(String))
      return {
        ...base,
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          const text = formatValue(v, type) ?? ''
          return values.has(text)
            ? undefined
            : `${column} ${show(v, type)} is not one of ${[...values].join(', ')}`
        },
      }
    }
    case 'regex': {
      const pattern = new RegExp((rule as { pattern: string }).pattern, 'u')
      return {
        ...base,
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          return pattern.test(formatValue(v, type) ?? '')
            ? undefined
            : `${column} ${show(v, type)} does not match ${pattern.source}`
        },
      }
    }
    case 'email':
      return {
        ...base,
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          return EMAIL.test(String(v)) ? undefined : `${column} ${show(v, type)} is not an e-mail address`
        },
      }
    case 'length': {
      const { min, max } = rule as { min?: number; max?: number }
      return {
        ...base,
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          let n = 0
          for (const _ of formatValue(v, type) ?? '') n++
          if (min !== undefined && n < min) return `${column} has ${n} characters, fewer than ${min}`
          if (max !== undefined && n > max) return `${column} has ${n} characters, more than ${max}`
          return undefined
        },
      }
    }
    case 'type': {
      const is = (rule as { is: ColumnTypeName }).is
      const convert = converterTo(is)
      if (typeof convert === 'string') throw new TransformConfigError(`${name}: ${convert}`)
      return {
        ...base,
        check(row) {
          const v = row[index] as Value
          if (v === null) return undefined
          return convert(v, type) === FAIL ? `${column} ${show(v, type)} is not a ${is}` : undefined
        },
      }
    }
  }
  throw new TransformConfigError(`unknown rule ${name}`)
}

/** The schema checks: required columns and their types, against the columns after the transforms. */
export function checkSchema(spec: ValidateSpec, columns: readonly Column[]): void {
  if (!spec.schema) return
  const problems: string[] = []
  for (const name of spec.schema.required) {
    if (!columns.some((c) => c.name === name)) problems.push(`column ${name} is missing`)
  }
  for (const [name, type] of Object.entries(spec.schema.types)) {
    const col = columns.find((c) => c.name === name)
    if (!col) problems.push(`column ${name} is missing`)
    else if (col.type !== type) problems.push(`column ${name} is ${col.type}, not ${type}`)
  }
  if (problems.length > 0) {
    throw new TransformConfigError(
      `validate.schema: ${[...new Set(problems)].join('; ')} (the columns are ${columns.map((c) => `${c.name} ${c.type}`).join(', ')})`,
    )
  }
}
