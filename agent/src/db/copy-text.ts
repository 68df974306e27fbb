/** Rows as PostgreSQL COPY text: tab-separated, \N for null, backslash escapes. */
import { type Column, formatDateDays, formatTimestampMicros, type Value } from '@outpost/shared/batch'

const SPECIAL = /[\\\t\n\r]/

function escapeText(text: string): string {
  if (!SPECIAL.test(text)) return text
  return text.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  )
}

function hex(bytes: Uint8Array): string {
  let out = '\\\\x'
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

export function copyCell(value: Value, type: Column['type']): string {
  if (value === null || value === undefined) return '\\N'
  switch (type) {
    case 'int':
      return String(value)
    case 'float': {
      const n = value as number
      if (Number.isNaN(n)) return 'NaN'
      if (Object.is(n, -0)) return '-0'
      if (n === Infinity) return 'Infinity'
      if (n === -Infinity) return '-Infinity'
      return String(n)
    }
    case 'bool':
      return value ? 't' : 'f'
    case 'timestamp':
      return formatTimestampMicros(value as number | bigint)
    case 'date':
      return formatDateDays(value as number)
    case 'bytes':
      return hex(value as Uint8Array)
    default:
      return escapeText(String(value))
  }
}

/** The rows of a batch as COPY text, columns in the given order (missing ones are null). */
export function copyText(columns: Column[], rows: Value[][], order: readonly string[]): string {
  const index = order.map((name) => columns.findIndex((c) => c.name === name))
  const types = index.map((i) => (i >= 0 ? (columns[i] as Column).type : 'string'))
  let out = ''
  for (const row of rows) {
    let line = ''
    for (let c = 0; c < index.length; c++) {
      if (c > 0) line += '\t'
      const i = index[c] as number
      line += i < 0 ? '\\N' : copyCell(row[i] as Value, types[c] as Column['type'])
    }
    out += `${line}\n`
  }
  return out
}
