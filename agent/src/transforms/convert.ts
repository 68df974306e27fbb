/**
 * Conversions between cell values and the column types: what `cast` does, and what the type
 * rule checks. Each converter returns the converted value or FAIL; it never throws.
 */
import type { ColumnTypeName } from '@outpost/shared'
import { formatDateDays, formatTimestampMicros, type Value } from '@outpost/shared/batch'
import { isJson } from './json-check.js'

export const FAIL: unique symbol = Symbol('conversion failed')
export type Converted = Value | typeof FAIL
export type Converter = (value: Value, fromType: ColumnTypeName) => Converted

export interface ConvertOptions {
  format?: string
  timezone?: string
}

const INT = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const TRUE = new Set(['true', 't', 'yes', 'y', '1', 'on'])
const FALSE = new Set(['false', 'f', 'no', 'n', '0', 'off'])
const MAX_INT64 = 9223372036854775807n
const MIN_INT64 = -9223372036854775808n
const MS_PER_DAY = 86_400_000
const utf8 = new TextEncoder()

function asText(value: Value, fromType: ColumnTypeName): string {
  if (typeof value === 'string') return value
  if (fromType === 'timestamp') return formatTimestampMicros(value as number | bigint)
  if (fromType === 'date') return formatDateDays(value as number)
  if (value instanceof Uint8Array) return new TextDecoder().decode(value)
  return String(value)
}

const D0 = 48
const PLUS = 43
const MINUS = 45
const DOT = 46

/**
 * Plain integer text of at most 15 characters (an optional sign, then digits), which is always a
 * safe integer: its value without a regular expression, trim or Number(). undefined for anything
 * else, which the general path then reads. The common case of every int cast, so it is fast.
 */
function plainInt(text: string): number | undefined {
  const n = text.length
  if (n === 0 || n > 15) return undefined
  const first = text.charCodeAt(0)
  let i = first === MINUS || first === PLUS ? 1 : 0
  if (i === n) return undefined
  let v = 0
  for (; i < n; i++) {
    const d = text.charCodeAt(i) - D0
    if (d < 0 || d > 9) return undefined
    v = v * 10 + d
  }
  return first === MINUS ? -v : v
}

/**
 * Whether `text` is plain decimal text: an optional sign, digits with at most one point, at least
 * one digit, nothing else (no spaces, no exponent). DECIMAL accepts all of these unchanged.
 */
function plainDecimal(text: string): boolean {
  const n = text.length
  const first = text.charCodeAt(0)
  let i = first === MINUS || first === PLUS ? 1 : 0
  let digits = 0
  let points = 0
  for (; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === DOT) points++
    else if (c - D0 >= 0 && c - D0 <= 9) digits++
    else return false
  }
  return digits > 0 && points <= 1
}

function toInt(value: Value, fromType: ColumnTypeName): Converted {
  if (typeof value === 'string') {
    const plain = plainInt(value)
    if (plain !== undefined) return plain
  }
  return intGeneral(value, fromType)
}

function intGeneral(value: Value, fromType: ColumnTypeName): Converted {
  if (typeof value === 'number') {
    if (fromType === 'timestamp' || fromType === 'date') return value
    return Number.isInteger(value) ? value : FAIL
  }
  if (typeof value === 'bigint') return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value !== 'string') return FAIL
  const text = value.trim()
  if (!INT.test(text)) {
    // "12.0" is an integer written as a decimal; "12.5" is not.
    if (DECIMAL.test(text)) {
      const n = Number(text)
      if (Number.isSafeInteger(n) && !/[eE]/.test(text)) return n
    }
    return FAIL
  }
  const n = Number(text)
  if (Number.isSafeInteger(n)) return n
  const big = BigInt(text)
  return big > MAX_INT64 || big < MIN_INT64 ? FAIL : big
}

/** Exact powers of ten a double holds (up to 10^22). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k)

/**
 * Plain decimal text (see plainDecimal) of at most 15 digits as a double without Number(): the
 * digits as an integer (exact below 2^53) divided by an exact power of ten is correctly rounded,
 * so it is the double Number() gives (Clinger's fast path). undefined for any other text.
 */
export function plainFloat(text: string): number | undefined {
  const n = text.length
  if (n === 0 || n > 17) return undefined
  const first = text.charCodeAt(0)
  let i = first === MINUS || first === PLUS ? 1 : 0
  let mantissa = 0
  let digits = 0
  let point = -1
  for (; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === DOT) {
      if (point >= 0) return undefined
      point = i
    } else if (c - D0 >= 0 && c - D0 <= 9) {
      mantissa = mantissa * 10 + (c - D0)
      digits++
    } else return undefined
  }
  if (digits === 0 || digits > 15) return undefined
  const value = point < 0 ? mantissa : mantissa / (POW10[n - 1 - point] as number)
  return first === MINUS ? -value : value
}

function toFloat(value: Value): Converted {
  if (typeof value === 'string') {
    const plain = plainFloat(value)
    if (plain !== undefined) return plain
  }
  return floatGeneral(value)
}

function floatGeneral(value: Value): Converted {
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value !== 'string') return FAIL
  const text = value.trim()
  if (DECIMAL.test(text)) return Number(text)
  if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity
  if (/^nan$/i.test(text)) return Number.NaN
  return FAIL
}

/** Decimal text without a leading plus or redundant leading zeros; digits are never rounded. */
function toDecimal(value: Value): Converted {
  // The common case: a first digit 1-9 leaves no sign or zero to strip.
  if (typeof value === 'string') {
    const first = value.charCodeAt(0)
    if (first >= 49 && first <= 57 && plainDecimal(value)) return value
  }
  return decimalGeneral(value)
}

function decimalGeneral(value: Value): Converted {
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : FAIL
  if (typeof value !== 'string') return FAIL
  let text = value.trim()
  if (!DECIMAL.test(text)) return FAIL
  // The common case: a first digit 1-9 leaves no sign or zero to strip.
  const first = text.charCodeAt(0)
  if (first >= 49 && first <= 57) return text
  let sign = ''
  if (text[0] === '+' || text[0] === '-') {
    sign = text[0] === '-' ? '-' : ''
    text = text.slice(1)
  }
  if (text.startsWith('.')) text = `0${text}`
  text = text.replace(/^0+(?=\d)/, '')
  return sign + text
}

function toBool(value: Value): Converted {
  if (value === 'true') return true
  if (value === 'false') return false
  return boolGeneral(value)
}

function boolGeneral(value: Value): Converted {
  if (typeof value === 'boolean') return value
  if (typeof value === 'number') return value === 0 ? false : value === 1 ? true : FAIL
  if (typeof value !== 'string') return FAIL
  const text = value.trim().toLowerCase()
  if (TRUE.has(text)) return true
  if (FALSE.has(text)) return false
  return FAIL
}

function toJson(value: Value, fromType: ColumnTypeName): Converted {
  if (typeof value !== 'string') {
    if (typeof value === 'bigint') return value.toString()
    if (value instanceof Uint8Array) return FAIL
    return JSON.stringify(fromType === 'timestamp' || fromType === 'date' ? asText(value, fromType) : value)
  }
  return isJson(value) ? value : FAIL
}

// ---- dates and times ------------------------------------------------------------------------

interface WallTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  micros: number
  /** Offset east of UTC in minutes when the text carried one. */
  offset?: number
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/

function parseOffset(text: string): number {
  if (text === 'Z' || text === 'z') return 0
  const sign = text[0] === '-' ? -1 : 1
  const digits = text.slice(1).replace(':', '')
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'))
}

function fractionToMicros(fraction: string | undefined): number {
  if (!fraction) return 0
  return Number(fraction.slice(0, 6).padEnd(6, '0'))
}

function digits(text: string, at: number, count: number): number {
  let n = 0
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - D0
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)` without a regular expression, the common case, into `into`
 * (so the timestamp cast allocates nothing per value); false for any other text.
 */
function parseIsoFast(text: string, into: WallTime): boolean {
  if (
    text.length < 20 ||
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  ) {
    return false
  }
  const sep = text.charCodeAt(10)
  if (sep !== 84 && sep !== 32) return false
  const year = digits(text, 0, 4)
  const month = digits(text, 5, 2)
  const day = digits(text, 8, 2)
  const hour = digits(text, 11, 2)
  const minute = digits(text, 14, 2)
  const second = digits(text, 17, 2)
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return false
  let at = 19
  let micros = 0
  if (text.charCodeAt(at) === 46) {
    let scale = 100_000
    at++
    while (at < text.length) {
      const d = text.charCodeAt(at) - D0
      if (d < 0 || d > 9) break
      micros += d * scale
      scale = Math.floor(scale / 10)
      at++
    }
  }
  const rest = text.length - at
  let offset: number
  if (rest === 1 && (text.charCodeAt(at) === 90 || text.charCodeAt(at) === 122)) offset = 0
  else if (rest === 6 && text.charCodeAt(at + 3) === 58) {
    const sign = text.charCodeAt(at) === 43 ? 1 : text.charCodeAt(at) === 45 ? -1 : 0
    const oh = digits(text, at + 1, 2)
    const om = digits(text, at + 4, 2)
    if (sign === 0 || oh < 0 || om < 0) return false
    offset = sign * (oh * 60 + om)
  } else return false
  into.year = year
  into.month = month
  into.day = day
  into.hour = hour
  into.minute = minute
  into.second = second
  into.micros = micros
  into.offset = offset
  return true
}

function emptyWall(): WallTime {
  return { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, micros: 0, offset: 0 }
}

function parseIso(text: string): WallTime | undefined {
  const fast = emptyWall()
  if (parseIsoFast(text, fast)) return fast
  const m = ISO.exec(text.trim())
  if (!m) return undefined
  return {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    micros: fractionToMicros(m[7]),
    ...(m[8] ? { offset: parseOffset(m[8]) } : {}),
  }
}

const TOKENS: Record<string, { pattern: string; field: keyof WallTime | 'fraction' | 'offsetText' }> = {
  YYYY: { pattern: '(\\d{4})', field: 'year' },
  MM: { pattern: '(\\d{1,2})', field: 'month' },
  DD: { pattern: '(\\d{1,2})', field: 'day' },
  HH: { pattern: '(\\d{1,2})', field: 'hour' },
  mm: { pattern: '(\\d{2})', field: 'minute' },
  ss: { pattern: '(\\d{2})', field: 'second' },
  SSS: { pattern: '(\\d{1,9})', field: 'fraction' },
  Z: { pattern: '(Z|[+-]\\d{2}:?\\d{2})', field: 'offsetText' },
}

/** A pattern such as `DD.MM.YYYY HH:mm:ss` compiled to a parser. */
export function compileFormat(format: string): ((text: string) => WallTime | undefined) | undefined {
  if (format === 'iso') return parseIso
  let regex = '^'
  const fields: (keyof typeof TOKENS)[] = []
  for (let i = 0; i < format.length; ) {
    const token = ['YYYY', 'SSS', 'MM', 'DD', 'HH', 'mm', 'ss', 'Z'].find((t) => format.startsWith(t, i))
    if (token) {
      regex += TOKENS[token]!.pattern
      fields.push(token)
      i += token.length
    } else {
      regex += format[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      i++
    }
  }
  if (!fields.includes('YYYY')) return undefined
  const re = new RegExp(`${regex}$`)
  return (text) => {
    const m = re.exec(text.trim())
    if (!m) return undefined
    const wall: WallTime = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, micros: 0 }
    fields.forEach((token, i) => {
      const raw = m[i + 1] as string
      const field = TOKENS[token]!.field
      if (field === 'fraction') wall.micros = fractionToMicros(raw)
      else if (field === 'offsetText') wall.offset = parseOffset(raw)
      else (wall[field] as number) = Number(raw)
    })
    return wall
  }
}

/**
 * Days in a month (1-12) of a year as Date.UTC reads it: years 0-99 are 1900-1999 there, and
 * validWall used Date.UTC(year, month, 0) before (a Date for every value parsed).
 */
export function daysInMonth(year: number, month: number): number {
  const y = year >= 0 && year <= 99 ? 1900 + year : year
  if (month === 2) return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

function validWall(w: WallTime): boolean {
  if (w.month < 1 || w.month > 12 || w.day < 1 || w.hour > 23 || w.minute > 59 || w.second > 60) return false
  return w.day <= daysInMonth(w.year, w.month)
}

const zoneFormatters = new Map<string, Intl.DateTimeFormat>()

/** Offset of an IANA zone from UTC at an instant, in minutes. */
function zoneOffsetMinutes(zone: string, utcMs: number): number {
  let fmt = zoneFormatters.get(zone)
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
    zoneFormatters.set(zone, fmt)
  }
  const parts: Record<string, number> = {}
  for (const p of fmt.formatToParts(new Date(utcMs)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!)
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000)
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yearOfEra = y - era * 400
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear
  return era * 146097 + dayOfEra - 719468
}

/** Date.UTC of a valid wall time (validWall), without its cost; years 0-99 as Date.UTC reads them. */
function utcMs(w: WallTime): number {
  if (w.year < 100) return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second)
  return (daysFromCivil(w.year, w.month, w.day) * 86400 + w.hour * 3600 + w.minute * 60 + w.second) * 1000
}

function wallToMicros(w: WallTime, zone: string): number | bigint {
  const local = utcMs(w)
  let utc: number
  if (w.offset !== undefined) utc = local - w.offset * 60_000
  else if (zone === 'UTC') utc = local
  else {
    // Guess with the offset at the wall time read as UTC, then correct once for DST edges.
    const first = local - zoneOffsetMinutes(zone, local) * 60_000
    utc = local - zoneOffsetMinutes(zone, first) * 60_000
  }
  const micros = utc * 1000 + w.micros
  // Outside ±2^53 µs (years before 1685 or after 2255) exact values need a bigint.
  return Number.isSafeInteger(micros) ? micros : BigInt(utc) * 1000n + BigInt(w.micros)
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

function timestampConverter(options: ConvertOptions): Converter {
  const zone = options.timezone ?? 'UTC'
  const format = options.format
  if (format === 'unix' || format === 'unix_ms' || format === 'unix_us') {
    const scale = format === 'unix' ? 1_000_000 : format === 'unix_ms' ? 1000 : 1
    return (value) => {
      const n =
        typeof value === 'string' ? Number(value.trim()) : typeof value === 'number' ? value : Number.NaN
      return Number.isFinite(n) && (typeof value !== 'string' || value.trim() !== '')
        ? Math.round(n * scale)
        : FAIL
    }
  }
  const parse = format ? compileFormat(format) : parseIso
  const iso = parse === parseIso
  const scratch = emptyWall()
  return (value, fromType) => {
    // parseIso gives this same wall time for such text, so its answer is final here.
    if (iso && typeof value === 'string' && parseIsoFast(value, scratch))
      return validWall(scratch) ? wallToMicros(scratch, zone) : FAIL
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (fromType === 'timestamp') return value
      if (fromType === 'date') return Number(value) * MS_PER_DAY * 1000
      return FAIL
    }
    if (typeof value !== 'string' || !parse) return FAIL
    const wall = parse(value)
    if (!wall || !validWall(wall)) return FAIL
    return wallToMicros(wall, zone)
  }
}

function dateConverter(options: ConvertOptions): Converter {
  const parse = options.format ? compileFormat(options.format) : parseIso
  return (value, fromType) => {
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (fromType === 'date') return value
      if (fromType === 'timestamp') return Math.floor(Number(value) / 1000 / MS_PER_DAY)
      return FAIL
    }
    if (typeof value !== 'string' || !parse) return FAIL
    const wall = parse(value)
    if (!wall || !validWall(wall)) return FAIL
    if (wall.offset !== undefined || wall.hour || wall.minute || wall.second) {
      return Math.floor(Number(wallToMicros(wall, options.timezone ?? 'UTC')) / 1000 / MS_PER_DAY)
    }
    return Math.floor(Date.UTC(wall.year, wall.month - 1, wall.day) / MS_PER_DAY)
  }
}

/** The converter to a type, or a string saying why the options are unusable. */
export function converterTo(type: ColumnTypeName, options: ConvertOptions = {}): Converter | string {
  if (options.timezone !== undefined && !isValidTimeZone(options.timezone))
    return `unknown time zone "${options.timezone}"`
  if (
    options.format !== undefined &&
    !['unix', 'unix_ms', 'unix_us', 'iso'].includes(options.format) &&
    !compileFormat(options.format)
  ) {
    return `format "${options.format}" needs at least YYYY`
  }
  switch (type) {
    case 'string':
      return (v, from) => asText(v, from)
    case 'int':
      return toInt
    case 'float':
      return toFloat
    case 'decimal':
      return toDecimal
    case 'bool':
      return toBool
    case 'json':
      return toJson
    case 'bytes':
      return (v, from) => (v instanceof Uint8Array ? v : utf8.encode(asText(v, from)))
    case 'timestamp':
      return timestampConverter(options)
    case 'date':
      return dateConverter(options)
  }
}
