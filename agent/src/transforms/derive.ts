/**
 * derive: columns computed by CEL expressions. The result type comes from type-checking the
 * expression against the real column types (or is given); null inputs give a null result unless
 * the expression handles null itself; a row the expression fails on is quarantined.
 */
import {
  CelDuration,
  CelUint,
  type ColumnTypeName,
  celEnvironment,
  compileCel,
  type Derivation,
  deriveTransformSpec,
} from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { compileRowCel } from './cel-compile.js'
import { celOverRows, describeCelError, referencedColumns } from './cel-values.js'
import { type Converter, converterTo, FAIL } from './convert.js'
import { defineTransform, TransformConfigError } from './types.js'

const CEL_TYPE: Record<ColumnTypeName, string> = {
  string: 'string',
  int: 'int',
  float: 'double',
  decimal: 'double',
  bool: 'bool',
  timestamp: 'google.protobuf.Timestamp',
  date: 'google.protobuf.Timestamp',
  json: 'dyn',
  bytes: 'bytes',
}

const COLUMN_TYPE: Record<string, ColumnTypeName> = {
  int: 'int',
  uint: 'int',
  double: 'float',
  string: 'string',
  bool: 'bool',
  bytes: 'bytes',
  'google.protobuf.Timestamp': 'timestamp',
}

/** The column type of an expression's result, from a type check with the columns' real types. */
function inferType(
  expression: string,
  input: readonly Column[],
): { type?: ColumnTypeName; problem?: string } {
  const env = celEnvironment.clone()
  for (const col of referencedColumns(expression, input)) env.registerVariable(col.name, CEL_TYPE[col.type])
  if (!input.some((c) => c.name === 'now')) env.registerVariable('now', 'google.protobuf.Timestamp')
  const result = env.check(expression) as { valid: boolean; type?: string; error?: { message?: string } }
  if (!result.valid) return { problem: result.error?.message?.split('\n')[0] ?? 'does not type-check' }
  return { type: COLUMN_TYPE[result.type ?? ''] ?? 'json' }
}

const INT64_MAX = 2n ** 63n - 1n

function plain(value: unknown): unknown {
  if (value instanceof CelUint) return plain(value.valueOf())
  if (value instanceof CelDuration) return value.toString()
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]))
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

/** A CEL result as a cell of the inferred type. */
function toCell(value: unknown, type: ColumnTypeName): Value {
  if (value === null || value === undefined) return null
  switch (type) {
    case 'int': {
      const n = value instanceof CelUint ? value.valueOf() : value
      if (typeof n !== 'bigint') return n as Value
      if (Number.isSafeInteger(Number(n))) return Number(n)
      // A uint above the int column's 64-bit range.
      if (n > INT64_MAX) throw new RangeError(`${n} is beyond the range of int`)
      return n
    }
    case 'timestamp': {
      // A date or timestamp beyond what a JavaScript Date holds (±275 760 years) reaches CEL as
      // an invalid Date; the row is quarantined rather than the batch failing when it is written.
      const ms = (value as Date).getTime()
      if (!Number.isFinite(ms)) throw new RangeError('timestamp out of range')
      return ms * 1000
    }
    case 'json':
      return JSON.stringify(plain(value))
    default:
      return value as Value
  }
}

export const deriveTransform = defineTransform<Record<string, Derivation>>({
  spec: deriveTransformSpec,
  bind(options, input) {
    const columns = input.map((c) => ({ ...c }))
    const plan = Object.entries(options).map(([name, derivation]) => {
      const expression = typeof derivation === 'string' ? derivation : derivation.expr
      const wanted = typeof derivation === 'string' ? undefined : derivation.type
      const inferred = inferType(expression, input)
      if (!inferred.type && !wanted) {
        throw new TransformConfigError(
          `derive ${name}: cannot tell the type of "${expression}" (${inferred.problem}); give it as { expr: ..., type: ... }`,
        )
      }
      const from = inferred.type ?? 'json'
      const to = wanted ?? from
      let convert: Converter | undefined
      if (to !== from) {
        const c = converterTo(to)
        if (typeof c === 'string') throw new TransformConfigError(`derive ${name}: ${c}`)
        convert = c
      }
      let index = columns.findIndex((c) => c.name === name)
      if (index < 0) {
        index = columns.length
        columns.push({ name, type: to })
      } else {
        columns[index] = { name, type: to }
      }
      const used = referencedColumns(expression, input)
      return {
        name,
        expression,
        program: compileCel(expression),
        compiled: compileRowCel(expression, used),
        used,
        index,
        from,
        to,
        convert,
      }
    })
    // Every expression sees the row as it came in, not columns derived before it: a row is copied
    // first only when a step overwrites a column that a later step reads.
    const copyRows = plan.some((step, i) =>
      plan.slice(i + 1).some((later) => later.used.some((col) => col.index === step.index)),
    )
    return {
      columns,
      run(frame, report, context) {
        const keptRows: Value[][] = []
        const keptRecords: number[] = []
        const { rows, records } = frame
        const evaluators = plan.map(
          (step) => step.compiled ?? celOverRows(step.program, step.used, context.now),
        )
        nextRow: for (let r = 0; r < rows.length; r++) {
          const row = rows[r]!
          const inputRow = copyRows ? row.slice() : row
          for (let s = 0; s < plan.length; s++) {
            const step = plan[s]!
            let sawNull = false
            for (const col of step.used) if (inputRow[col.index] === null) sawNull = true
            const evaluate = evaluators[s]!
            let cell: Value
            try {
              cell = toCell(evaluate(inputRow), step.from)
            } catch (error) {
              if (sawNull) {
                cell = null
              } else {
                report.reject({
                  record: records[r]!,
                  rule: 'derive',
                  column: step.name,
                  reason: `derive ${step.name} "${step.expression}": ${describeCelError(error)}`,
                })
                continue nextRow
              }
            }
            if (cell !== null && step.convert) {
              const converted = step.convert(cell, step.from)
              if (converted === FAIL) {
                report.reject({
                  record: records[r]!,
                  rule: 'derive',
                  column: step.name,
                  value: String(cell).slice(0, 200),
                  reason: `derive ${step.name}: cannot convert "${String(cell).slice(0, 100)}" to ${step.to}`,
                })
                continue nextRow
              }
              cell = converted
            }
            row[step.index] = cell
          }
          keptRows.push(row)
          keptRecords.push(records[r]!)
        }
        return { columns, rows: keptRows, records: keptRecords }
      },
    }
  },
})
