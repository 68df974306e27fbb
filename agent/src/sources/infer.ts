/**
 * Rows from JavaScript values (JSON documents, spreadsheets) with column types inferred from the
 * values: all booleans → bool, all numbers → float (cast to int where you need integers), integers
 * too big for a double → int, numbers too precise for a double or a mix of those with others →
 * decimal (exact text), dates → timestamp, strings → string, anything else or a mix → json.
 * Columns are the keys in the order they first appear.
 */
import type { ColumnTypeName } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import type { Rejection } from '../transforms/types.js'
import { DecimalText, stringifyJson } from './json-text.js'
import type { DecodedRows } from './types.js'

const NUMERIC = new Set<ColumnTypeName>(['float', 'int', 'decimal'])

/** The type of a column holding values of kinds a and b. */
function merge(a: ColumnTypeName, b: ColumnTypeName): ColumnTypeName | 'mixed' {
  if (a === b) return a
  if (NUMERIC.has(a) && NUMERIC.has(b)) return 'decimal'
  return a === 'json' || b === 'json' ? 'json' : 'mixed'
}

function kind(v: unknown): ColumnTypeName | undefined {
  if (v === null || v === undefined) return undefined
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return 'float'
  if (typeof v === 'bigint') return 'int'
  if (typeof v === 'string') return 'string'
  if (v instanceof Date) return 'timestamp'
  if (v instanceof DecimalText) return 'decimal'
  return 'json'
}

function toValue(v: unknown, type: ColumnTypeName): Value {
  if (v === null || v === undefined) return null
  switch (type) {
    case 'bool':
    case 'float':
    case 'int':
    case 'string':
      return v as Value
    case 'timestamp':
      return (v as Date).getTime() * 1000
    case 'decimal':
      return v instanceof DecimalText ? v.text : String(v)
    default:
      return typeof v === 'string' ? JSON.stringify(v) : (stringifyJson(v) as string)
  }
}

/** A record that could not be read, with the reason and the raw text. */
export class Unreadable {
  constructor(
    readonly reason: string,
    readonly raw?: string,
  ) {}
}

export function rowsFromObjects(records: (Record<string, unknown> | Unreadable)[]): DecodedRows {
  const names: string[] = []
  const index = new Map<string, number>()
  const kinds: (ColumnTypeName | undefined | 'mixed')[] = []
  const rejections: Rejection[] = []
  const good: { record: number; object: Record<string, unknown> }[] = []
  records.forEach((r, i) => {
    if (r instanceof Unreadable) {
      rejections.push({
        record: i,
        rule: 'parse',
        reason: r.reason,
        ...(r.raw !== undefined ? { value: r.raw.slice(0, 500) } : {}),
      })
      return
    }
    const object = r as Record<string, unknown>
    good.push({ record: i, object })
    for (const [key, value] of Object.entries(object)) {
      let at = index.get(key)
      if (at === undefined) {
        at = names.length
        names.push(key)
        index.set(key, at)
        kinds.push(undefined)
      }
      const k = kind(value)
      if (k === undefined) continue
      const seen = kinds[at]
      if (seen === undefined) kinds[at] = k
      else if (seen !== 'mixed') kinds[at] = merge(seen, k)
    }
  })
  const columns: Column[] = names.map((name, i) => {
    const k = kinds[i]
    return { name, type: k === undefined ? 'string' : k === 'mixed' ? 'json' : k }
  })
  const rows: Value[][] = []
  const kept: number[] = []
  for (const { record, object } of good) {
    try {
      rows.push(columns.map((c) => toValue(object[c.name], c.type)))
      kept.push(record)
    } catch (error) {
      // JSON.stringify recurses per level and runs out of stack on values nested thousands deep.
      if (!(error instanceof RangeError)) throw error
      rejections.push({ record, rule: 'parse', reason: `a value is nested too deeply to keep as JSON` })
    }
  }
  rejections.sort((a, b) => a.record - b.record)
  return { columns, rows, records: kept, rejections, recordCount: records.length }
}

/** A parsed record as an object, or why it is not one (with its text, as far as it can be written). */
export function recordOrUnreadable(r: unknown): Record<string, unknown> | Unreadable {
  if (r !== null && typeof r === 'object' && !Array.isArray(r)) return r as Record<string, unknown>
  let raw = ''
  try {
    raw = stringifyJson(r) ?? ''
  } catch {
    // Nested too deeply to write; the reason says what it is.
  }
  return new Unreadable(
    `expected a JSON object, got ${Array.isArray(r) ? 'an array' : r === null ? 'null' : typeof r}`,
    raw,
  )
}
