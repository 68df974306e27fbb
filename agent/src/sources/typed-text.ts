/**
 * Rows as tab-separated text with known column types: PostgreSQL's COPY text format (\N for
 * null, backslash escapes), which the postgres source streams and the mysql source writes. The
 * worker turns each field into a typed value; the last row's cursor values travel back so the
 * chunk can advance the source cursor.
 */
import type { ColumnTypeName } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { type Converter, converterTo, FAIL } from '../transforms/convert.js'
import type { Rejection } from '../transforms/types.js'
import type { DecodedRows } from './types.js'

export interface TypedTextState {
  columns: Column[]
  /** Index of the cursor column and of its tie-breaking key, when reading incrementally. */
  cursorIndex?: number
  keyIndex?: number
}

export interface LastCursor {
  cursor: string | null
  key: string | null
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' }

export function unescapeCopy(field: string): string {
  if (!field.includes('\\')) return field
  let out = ''
  for (let i = 0; i < field.length; i++) {
    const c = field[i] as string
    if (c !== '\\' || i === field.length - 1) {
      out += c
      continue
    }
    const next = field[++i] as string
    if (ESCAPES[next] !== undefined) out += ESCAPES[next]
    else if (next >= '0' && next <= '7') {
      let oct = next
      while (oct.length < 3 && /[0-7]/.test(field[i + 1] ?? '')) oct += field[++i]
      out += String.fromCharCode(Number.parseInt(oct, 8))
    } else if (next === 'x' && /[0-9a-fA-F]/.test(field[i + 1] ?? '')) {
      let hex = ''
      while (hex.length < 2 && /[0-9a-fA-F]/.test(field[i + 1] ?? '')) hex += field[++i]
      out += String.fromCharCode(Number.parseInt(hex, 16))
    } else out += next
  }
  return out
}

function hexToBytes(text: string): Uint8Array | typeof FAIL {
  const hex = text.startsWith('\\x') ? text.slice(2) : text
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) return FAIL
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

function converterFor(type: ColumnTypeName): Converter {
  if (type === 'bytes') return (v) => (typeof v === 'string' ? hexToBytes(v) : FAIL)
  if (type === 'bool')
    return (v) =>
      v === 't' || v === '1' || v === 'true' ? true : v === 'f' || v === '0' || v === 'false' ? false : FAIL
  const convert = converterTo(type)
  if (typeof convert === 'string') throw new Error(convert)
  return convert
}

export function decodeTypedText(
  bytes: Uint8Array,
  state: TypedTextState,
): DecodedRows & { state: { last: LastCursor | undefined } } {
  const text = new TextDecoder().decode(bytes)
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  const width = state.columns.length
  const converters = state.columns.map((c) => converterFor(c.type))
  const rows: Value[][] = []
  const records: number[] = []
  const rejections: Rejection[] = []
  let last: LastCursor | undefined
  lines.forEach((line, index) => {
    const fields = line.split('\t')
    if (fields.length !== width) {
      rejections.push({
        record: index,
        rule: 'parse',
        reason: `expected ${width} fields, got ${fields.length}`,
        value: line.slice(0, 500),
      })
      return
    }
    const row: Value[] = new Array(width)
    for (let c = 0; c < width; c++) {
      const raw = fields[c] as string
      if (raw === '\\N') {
        row[c] = null
        continue
      }
      const unescaped = unescapeCopy(raw)
      const type = state.columns[c]!.type
      if (type === 'string' || type === 'json' || type === 'decimal') {
        row[c] = unescaped
        continue
      }
      const value = (converters[c] as Converter)(unescaped, 'string')
      if (value === FAIL) {
        rejections.push({
          record: index,
          rule: 'parse',
          column: state.columns[c]!.name,
          value: unescaped.slice(0, 200),
          reason: `cannot read "${unescaped.slice(0, 100)}" as ${type}`,
        })
        return
      }
      row[c] = value
    }
    rows.push(row)
    records.push(index)
  })
  // The cursor moves past the chunk's last line even when that row was quarantined.
  const lastFields = lines.length > 0 ? (lines[lines.length - 1] as string).split('\t') : []
  if (state.cursorIndex !== undefined && lastFields.length === width) {
    const cursor = lastFields[state.cursorIndex] as string
    const key = state.keyIndex !== undefined ? (lastFields[state.keyIndex] as string) : undefined
    last = {
      cursor: cursor === '\\N' ? null : unescapeCopy(cursor),
      key: key === undefined || key === '\\N' ? null : unescapeCopy(key),
    }
  }
  return { columns: state.columns, rows, records, rejections, recordCount: lines.length, state: { last } }
}
