import type { ColumnTypeName } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'

/** A cell as CEL sees it: ints as int (bigint), decimals as double, timestamps and dates as Date. */
export function celValue(value: Value, type: ColumnTypeName): unknown {
  if (value === null) return null
  switch (type) {
    case 'int':
      return typeof value === 'bigint' ? value : BigInt(value as number)
    case 'decimal':
      return Number(value)
    case 'timestamp':
      return new Date(Math.floor(Number(value) / 1000))
    case 'date':
      return new Date((value as number) * 86_400_000)
    case 'json':
      try {
        return JSON.parse(value as string)
      } catch {
        return value
      }
    default:
      return value
  }
}

/**
 * The variables of an expression, row after row: one object, refilled for each row, with `now`
 * and the columns the expression uses (a column named now wins, as it did when the object was
 * built per row). CEL reads it during the call only; a fresh object per row cost more than the
 * call.
 */
export function activationFor(
  used: readonly { index: number; name: string; type: ColumnTypeName }[],
  now: Date,
): (row: readonly Value[]) => Record<string, unknown> {
  const activation: Record<string, unknown> = { now }
  return (row) => {
    for (const col of used) activation[col.name] = celValue(row[col.index] as Value, col.type)
    return activation
  }
}

/** The interpreted program as a function of the row, for expressions compileRowCel leaves to cel-js. */
export function celOverRows(
  program: (variables: Record<string, unknown>) => unknown,
  used: readonly { index: number; name: string; type: ColumnTypeName }[],
  now: Date,
): (row: readonly Value[]) => unknown {
  const activation = activationFor(used, now)
  return (row) => program(activation(row))
}

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*/g

/** The columns an expression can refer to, so only those are converted for each row. */
export function referencedColumns(
  expression: string,
  columns: readonly Column[],
): { index: number; name: string; type: ColumnTypeName }[] {
  const names = new Set(expression.match(IDENTIFIER) ?? [])
  return columns.flatMap((c, index) => (names.has(c.name) ? [{ index, name: c.name, type: c.type }] : []))
}

export function describeCelError(error: unknown): string {
  const e = error as { summary?: string; message?: string }
  return (e.summary ?? e.message ?? String(error)).split('\n')[0] ?? 'evaluation failed'
}
