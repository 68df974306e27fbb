import type { ColumnTypeName } from '../spec/column-types.js'

/**
 * A cell inside the agent and control plane. By column type:
 * string/decimal/json → string (decimal in canonical text, json as JSON text); int → number, or
 * bigint beyond ±2^53; float → number; bool → boolean; timestamp → microseconds since the Unix
 * epoch (UTC) as a number, or a bigint beyond ±2^53; date → number of days since the epoch; bytes → Uint8Array.
 */
export type Value = string | number | bigint | boolean | Uint8Array | null

export interface Column {
  name: string
  type: ColumnTypeName
}

export interface RowBatch {
  columns: Column[]
  rows: Value[][]
}

const MS_PER_DAY = 86_400_000

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** `2024-05-01T12:30:00.123456Z`; fractional digits only when non-zero. */
export function formatTimestampMicros(value: number | bigint): string {
  // Beyond ±2^53 µs (before 1685 or after 2255) the value is a bigint; split it exactly.
  const big = typeof value === 'bigint' ? value : undefined
  const ms =
    big === undefined
      ? Math.floor((value as number) / 1000)
      : Number(big / 1000n - (big % 1000n < 0n ? 1n : 0n))
  const extra = big === undefined ? (value as number) - ms * 1000 : Number(big - BigInt(ms) * 1000n)
  const iso = new Date(ms).toISOString()
  if (extra === 0) return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso
  return `${iso.slice(0, -1)}${pad(extra, 3)}Z`
}

export function formatDateDays(days: number): string {
  return new Date(days * MS_PER_DAY).toISOString().slice(0, 10)
}

/** A cell as text, for CSV output and PostgreSQL text COPY. Null is undefined. */
export function formatValue(value: Value, type: ColumnTypeName): string | undefined {
  if (value === null) return undefined
  switch (type) {
    case 'timestamp':
      return formatTimestampMicros(value as number | bigint)
    case 'date':
      return formatDateDays(value as number)
    case 'bytes':
      return bytesToBase64(value as Uint8Array)
    case 'bool':
      return value ? 'true' : 'false'
    default:
      return String(value)
  }
}

/** A cell as a JSON-compatible value, for NDJSON output and the API. */
export function jsonValue(value: Value, type: ColumnTypeName): unknown {
  if (value === null) return null
  switch (type) {
    case 'timestamp':
      return formatTimestampMicros(value as number | bigint)
    case 'date':
      return formatDateDays(value as number)
    case 'bytes':
      return bytesToBase64(value as Uint8Array)
    case 'int':
      return typeof value === 'bigint' ? value.toString() : value
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

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

export function bytesToBase64(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] as number) << 16
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}==`
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8)
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${B64[(n >> 6) & 63]!}=`
  }
  return out
}
