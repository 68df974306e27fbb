/**
 * Limits every source's rows pass in the worker, right after decoding: bytes of one record, bytes
 * of one value, columns of one record. A row over a limit is quarantined with the limit, its size
 * and (for a value) the column; the rest of the chunk goes on.
 */
import type { Column, Value } from '@outpost/shared/batch'
import type { Frame, StepReport } from '../transforms/types.js'

export interface RowLimits {
  /** Bytes of one record: the sum of its values (text as UTF-8, numbers as 8). */
  maxRowBytes: number
  /** Bytes of one value. */
  maxFieldBytes: number
  /** Columns of one record (its values that are not null). */
  maxColumns: number
}

export const DEFAULT_ROW_LIMITS: RowLimits = {
  maxRowBytes: 16 * 1024 * 1024,
  maxFieldBytes: 8 * 1024 * 1024,
  maxColumns: 2000,
}

function valueBytes(v: Value): number {
  if (v === null) return 0
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8')
  if (typeof v === 'object') return v.byteLength
  return typeof v === 'boolean' ? 1 : 8
}

/** Bytes of a row as the limits count them. */
export function rowBytes(row: readonly Value[]): number {
  let total = 0
  for (const v of row) total += valueBytes(v)
  return total
}

/** Why a row breaks a limit, or undefined. */
function breach(
  row: readonly Value[],
  columns: readonly Column[],
  limits: RowLimits,
): { rule: string; reason: string; column?: string } | undefined {
  // Most rows are far below the limits: an upper bound (3 UTF-8 bytes per UTF-16 unit) settles them.
  let bound = 0
  let widest = 0
  let cells = 0
  for (const v of row) {
    if (v === null) continue
    cells++
    const b = typeof v === 'string' ? v.length * 3 : typeof v === 'object' ? v.byteLength : 8
    bound += b
    if (b > widest) widest = b
  }
  if (cells > limits.maxColumns)
    return {
      rule: 'max_columns',
      reason: `the record has ${cells} columns; max_columns is ${limits.maxColumns}`,
    }
  if (bound <= limits.maxRowBytes && widest <= limits.maxFieldBytes) return undefined
  let total = 0
  for (let i = 0; i < row.length; i++) {
    const size = valueBytes(row[i] as Value)
    if (size > limits.maxFieldBytes) {
      const column = columns[i]?.name ?? String(i)
      return {
        rule: 'max_field_bytes',
        column,
        reason: `column "${column}" holds ${size} bytes; max_field_bytes is ${limits.maxFieldBytes}`,
      }
    }
    total += size
  }
  if (total > limits.maxRowBytes)
    return {
      rule: 'max_row_bytes',
      reason: `the record is ${total} bytes; max_row_bytes is ${limits.maxRowBytes}`,
    }
  return undefined
}

/**
 * The decoded rows within the limits, as a frame for the transforms (rows copied: transforms may
 * change cells in place, and the quarantine keeps the rows as read). Rows over a limit are
 * rejected through `report`. When a wide record made the chunk's columns too many, the columns
 * no remaining row has a value in are left out.
 */
export function withinLimits(
  decoded: { columns: Column[]; rows: Value[][]; records: number[] },
  limits: RowLimits,
  report: StepReport,
): Frame {
  const rows: Value[][] = []
  const records: number[] = []
  decoded.rows.forEach((row, i) => {
    const record = decoded.records[i] as number
    const over = breach(row, decoded.columns, limits)
    if (over) report.reject({ record, ...over })
    else {
      rows.push(row.slice())
      records.push(record)
    }
  })
  if (decoded.columns.length <= limits.maxColumns) return { columns: decoded.columns, rows, records }
  const used = decoded.columns.map((_, c) => rows.some((row) => row[c] !== null))
  const columns = decoded.columns.filter((_, c) => used[c])
  if (columns.length > limits.maxColumns) {
    // Narrow records that only together are too wide (keys that differ from record to record).
    for (const record of records)
      report.reject({
        record,
        rule: 'max_columns',
        reason: `the records of this chunk have ${columns.length} different columns together; max_columns is ${limits.maxColumns}`,
      })
    return { columns: decoded.columns, rows: [], records: [] }
  }
  return { columns, rows: rows.map((row) => row.filter((_, c) => used[c])), records }
}
