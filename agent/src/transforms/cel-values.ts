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
