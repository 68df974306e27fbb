/**
 * Rows as PostgreSQL's binary COPY format, written straight from a batch's columnar wire bytes:
 * no JavaScript value is made for any cell. Integers, floats and timestamps are already 64-bit
 * binary there (little-endian; PostgreSQL wants big-endian and counts from 2000-01-01), text is
 * already UTF-8, and decimals become PostgreSQL's base-10000 numeric. The result is only right
 * for a table whose column types are exactly those PG_TYPE creates (int8, float8, numeric, bool,
 * timestamptz, date, text, jsonb, bytea); the caller checks that. When a batch holds something
 * binary COPY would treat differently from text COPY (invalid UTF-8, a NUL, a decimal not in
 * plain notation, a timestamp outside 1716–2223 where doubles stop being exact, a date outside
 * PostgreSQL's range) it returns undefined and the caller writes text. (Dates before year 1 or
 * after 9999 load as binary; as text they would fail.)
 */
import { isUtf8 } from 'node:buffer'
import { ColumnType, type Column as WireColumn } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00] // PGCOPY\n\377\r\n\0
const HEADER_BYTES = 19
/** The start of a binary COPY: the signature, a zero flags word, a zero header-extension length. */
export const BINARY_HEADER = new Uint8Array(HEADER_BYTES)
BINARY_HEADER.set(SIGNATURE)
/** The end of a binary COPY: a field count of -1. */
export const BINARY_TRAILER = new Uint8Array([0xff, 0xff])

/** The rows of a copyBinary result without its header and trailer, to put several in one COPY. */
export function binaryRows(copy: Uint8Array): Uint8Array {
  return copy.subarray(HEADER_BYTES, copy.length - BINARY_TRAILER.length)
}
/** 1970-01-01 to 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_MICROS = 946_684_800_000_000
const PG_EPOCH_DAYS = 10_957
const TWO_32 = 4_294_967_296
/** PostgreSQL's date range, in days from its epoch (4714-11-24 BC to 5874897-12-31). */
const PG_MIN_DAY = -2_451_545
const PG_MAX_DAY = 2_147_483_494 - 2_451_545 - 1
const MAX_EXACT_MICROS = 8e15
/** PostgreSQL's numeric_recv takes at most this many base-10000 digits. */
const MAX_NUMERIC_DIGITS = 3000

enum Kind {
  Int64,
  Float64,
  Timestamp,
  Date,
  Bool,
  Bytes,
  Text,
  Json,
  Numeric,
}

const KIND: Partial<Record<ColumnType, Kind>> = {
  [ColumnType.INT]: Kind.Int64,
  [ColumnType.FLOAT]: Kind.Float64,
  [ColumnType.TIMESTAMP]: Kind.Timestamp,
  [ColumnType.DATE]: Kind.Date,
  [ColumnType.BOOL]: Kind.Bool,
  [ColumnType.BYTES]: Kind.Bytes,
  [ColumnType.STRING]: Kind.Text,
  [ColumnType.JSON]: Kind.Json,
  [ColumnType.DECIMAL]: Kind.Numeric,
}

interface Prepared {
  kind: Kind
  col: WireColumn
  /** Numeric columns: each cell already in PostgreSQL's binary numeric form. */
  cells?: { bytes: Uint8Array; offsets: Uint32Array }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function nullAt(validity: Uint8Array, r: number): boolean {
  return validity.length !== 0 && ((validity[r >>> 3]! >> (r & 7)) & 1) === 0
}

/**
 * The rows of a checked batch (see checkColumns) as binary COPY, columns in wire order; undefined
 * when text COPY must be used instead.
 */
export function copyBinary(columns: readonly WireColumn[], rowCount: number): Uint8Array | undefined {
  const ncols = columns.length
  // Every row: a 2-byte field count, and a 4-byte length before every field.
  const rowBytes = new Float64Array(rowCount).fill(2 + 4 * ncols)
  const prepared: Prepared[] = []
  for (const col of columns) {
    const kind = KIND[col.type]
    if (kind === undefined) return undefined
    const p: Prepared = { kind, col }
    const validity = col.validity
    switch (kind) {
      case Kind.Int64:
      case Kind.Float64:
        for (let r = 0; r < rowCount; r++) if (!nullAt(validity, r)) rowBytes[r]! += 8
        break
      case Kind.Timestamp: {
        const view = viewOf(col.values)
        for (let r = 0; r < rowCount; r++) {
          if (nullAt(validity, r)) continue
          // Exact as doubles, also after the shift to 2000, within 8e15 µs of 1970 (1716 to
          // 2223); other instants go as text.
          const micros = view.getInt32(r * 8 + 4, true) * TWO_32 + view.getUint32(r * 8, true)
          if (micros > MAX_EXACT_MICROS || micros < -MAX_EXACT_MICROS) return undefined
          rowBytes[r]! += 8
        }
        break
      }
      case Kind.Date: {
        const view = viewOf(col.values)
        for (let r = 0; r < rowCount; r++) {
          if (nullAt(validity, r)) continue
          const day = view.getInt32(r * 4, true) - PG_EPOCH_DAYS
          if (day < PG_MIN_DAY || day > PG_MAX_DAY) return undefined
          rowBytes[r]! += 4
        }
        break
      }
      case Kind.Bool:
        for (let r = 0; r < rowCount; r++) if (!nullAt(validity, r)) rowBytes[r]! += 1
        break
      case Kind.Text:
      case Kind.Json:
      case Kind.Bytes: {
        const values = col.values
        if (kind !== Kind.Bytes && !textIsSafe(values, col.offsets, rowCount)) return undefined
        const offs = viewOf(col.offsets)
        const extra = kind === Kind.Json ? 1 : 0 // jsonb's version byte
        for (let r = 0; r < rowCount; r++) {
          if (nullAt(validity, r)) continue
          rowBytes[r]! += offs.getUint32(r * 4 + 4, true) - offs.getUint32(r * 4, true) + extra
        }
        break
      }
      case Kind.Numeric: {
        const cells = numericCells(col, rowCount)
        if (!cells) return undefined
        p.cells = cells
        for (let r = 0; r < rowCount; r++) {
          if (!nullAt(validity, r)) rowBytes[r]! += cells.offsets[r + 1]! - cells.offsets[r]!
        }
        break
      }
    }
    prepared.push(p)
  }

  let total = HEADER_BYTES + 2
  for (let r = 0; r < rowCount; r++) total += rowBytes[r]!
  const out = new Uint8Array(total)
  const view = viewOf(out)
  out.set(SIGNATURE, 0) // then a zero flags word and a zero header-extension length
  // Where the next field of each row goes; fields are written a column at a time.
  const at = new Float64Array(rowCount)
  let pos = HEADER_BYTES
  for (let r = 0; r < rowCount; r++) {
    view.setInt16(pos, ncols)
    at[r] = pos + 2
    pos += rowBytes[r]!
  }
  view.setInt16(pos, -1)

  for (const { kind, col, cells } of prepared) {
    const validity = col.validity
    const src = col.values
    const srcView = viewOf(src)
    const offsView = viewOf(col.offsets)
    for (let r = 0; r < rowCount; r++) {
      let p = at[r]!
      if (nullAt(validity, r)) {
        view.setInt32(p, -1)
        at[r] = p + 4
        continue
      }
      switch (kind) {
        case Kind.Int64:
        case Kind.Float64: {
          view.setInt32(p, 8)
          const s = r * 8
          out[p + 4] = src[s + 7]!
          out[p + 5] = src[s + 6]!
          out[p + 6] = src[s + 5]!
          out[p + 7] = src[s + 4]!
          out[p + 8] = src[s + 3]!
          out[p + 9] = src[s + 2]!
          out[p + 10] = src[s + 1]!
          out[p + 11] = src[s]!
          p += 12
          break
        }
        case Kind.Timestamp: {
          const micros =
            srcView.getInt32(r * 8 + 4, true) * TWO_32 + srcView.getUint32(r * 8, true) - PG_EPOCH_MICROS
          const hi = Math.floor(micros / TWO_32)
          view.setInt32(p, 8)
          view.setInt32(p + 4, hi)
          view.setUint32(p + 8, micros - hi * TWO_32)
          p += 12
          break
        }
        case Kind.Date:
          view.setInt32(p, 4)
          view.setInt32(p + 4, srcView.getInt32(r * 4, true) - PG_EPOCH_DAYS)
          p += 8
          break
        case Kind.Bool:
          view.setInt32(p, 1)
          out[p + 4] = (src[r >>> 3]! >> (r & 7)) & 1
          p += 5
          break
        case Kind.Numeric: {
          const a = cells!.offsets[r]!
          const b = cells!.offsets[r + 1]!
          view.setInt32(p, b - a)
          p = copyBytes(cells!.bytes, a, b, out, p + 4)
          break
        }
        default: {
          const a = offsView.getUint32(r * 4, true)
          const b = offsView.getUint32(r * 4 + 4, true)
          if (kind === Kind.Json) {
            view.setInt32(p, b - a + 1)
            out[p + 4] = 1
            p = copyBytes(src, a, b, out, p + 5)
          } else {
            view.setInt32(p, b - a)
            p = copyBytes(src, a, b, out, p + 4)
          }
        }
      }
      at[r] = p
    }
  }
  return out
}

function copyBytes(src: Uint8Array, a: number, b: number, out: Uint8Array, p: number): number {
  if (b - a > 32) {
    out.set(src.subarray(a, b), p)
    return p + b - a
  }
  for (let i = a; i < b; i++) out[p++] = src[i]!
  return p
}

/**
 * Whether every cell of a text column reads the same to binary and text COPY: valid UTF-8 in
 * every cell (the whole is valid and no cell starts inside a character) and no NUL, which
 * PostgreSQL text cannot hold (text COPY then fails the batch with PostgreSQL's own error).
 */
function textIsSafe(values: Uint8Array, offsets: Uint8Array, rowCount: number): boolean {
  if (values.indexOf(0) !== -1 || !isUtf8(values)) return false
  const offs = viewOf(offsets)
  for (let r = 0; r < rowCount; r++) {
    const a = offs.getUint32(r * 4, true)
    if (a < values.length && (values[a]! & 0xc0) === 0x80) return false
  }
  return true
}

const NUMERIC_NEG = 0x4000

/**
 * Decimal text (`-123.4500`: an optional sign, digits, an optional point and digits) as
 * PostgreSQL's binary numeric: digit count, weight, sign, display scale, then base-10000 digits.
 * Anything else (an exponent, NaN, spaces) returns undefined: PostgreSQL's text input decides.
 */
function numericCells(col: WireColumn, rowCount: number): Prepared['cells'] {
  const src = col.values
  const offs = viewOf(col.offsets)
  const offsets = new Uint32Array(rowCount + 1)
  // A cell of D digits takes 8 header bytes and 2 a group, with at most D/4 + 2 groups (one
  // short group each side of the point): never more than 12 + D/2 bytes.
  const bytes = new Uint8Array(rowCount * 12 + src.length)
  const view = viewOf(bytes)
  let pos = 0
  const groups: number[] = []
  for (let r = 0; r < rowCount; r++) {
    offsets[r] = pos
    if (nullAt(col.validity, r)) continue
    let i = offs.getUint32(r * 4, true)
    const end = offs.getUint32(r * 4 + 4, true)
    let negative = false
    if (i < end && (src[i] === 0x2d || src[i] === 0x2b)) negative = src[i++] === 0x2d
    const intStart = i
    while (i < end && src[i]! >= 0x30 && src[i]! <= 0x39) i++
    const intEnd = i
    let fracStart = i
    let fracEnd = i
    if (i < end && src[i] === 0x2e) {
      fracStart = ++i
      while (i < end && src[i]! >= 0x30 && src[i]! <= 0x39) i++
      fracEnd = i
    }
    if (i !== end || (intEnd === intStart && fracEnd === fracStart)) return undefined
    let lead = intStart
    while (lead < intEnd && src[lead] === 0x30) lead++
    const intDigits = intEnd - lead
    const dscale = fracEnd - fracStart
    if (dscale > 0x3fff) return undefined
    const pad = (4 - (dscale % 4)) % 4
    if (intDigits + dscale + pad <= 15) {
      pos = smallNumeric(src, lead, intEnd, fracStart, fracEnd, pad, negative, view, pos)
      continue
    }
    // Base-10000 groups aligned on the decimal point: the first integer group may be short,
    // the last fraction group is padded with zeros. The point itself (at intEnd) is skipped.
    groups.length = 0
    let weight = Math.ceil(intDigits / 4) - 1
    let g = 0
    let k = (4 - (intDigits % 4)) % 4
    for (let d = lead; d < fracEnd; d++) {
      if (d === intEnd) continue
      g = g * 10 + (src[d]! - 0x30)
      if (++k === 4) {
        groups.push(g)
        g = 0
        k = 0
      }
    }
    if (k > 0) {
      while (k++ < 4) g *= 10
      groups.push(g)
    }
    let first = 0
    while (first < groups.length && groups[first] === 0) {
      first++
      weight--
    }
    let last = groups.length
    while (last > first && groups[last - 1] === 0) last--
    const ndigits = last - first
    if (ndigits > MAX_NUMERIC_DIGITS || weight > 0x7fff) return undefined
    if (ndigits === 0) weight = 0
    view.setInt16(pos, ndigits)
    view.setInt16(pos + 2, weight)
    view.setUint16(pos + 4, negative && ndigits > 0 ? NUMERIC_NEG : 0)
    view.setInt16(pos + 6, dscale)
    pos += 8
    for (let d = first; d < last; d++) {
      view.setInt16(pos, groups[d]!)
      pos += 2
    }
  }
  offsets[rowCount] = pos
  return { bytes, offsets }
}

const POW10 = [1, 10, 100, 1000]
const smallGroups = new Int32Array(4)

/**
 * numericCells for a decimal of at most 15 digits once its fraction is padded to whole groups:
 * its digits as one exact integer, cut into base-10000 groups by arithmetic. Returns the next
 * position.
 */
function smallNumeric(
  src: Uint8Array,
  lead: number,
  intEnd: number,
  fracStart: number,
  fracEnd: number,
  pad: number,
  negative: boolean,
  view: DataView,
  pos: number,
): number {
  let w = 0
  for (let d = lead; d < intEnd; d++) w = w * 10 + src[d]! - 0x30
  for (let d = fracStart; d < fracEnd; d++) w = w * 10 + src[d]! - 0x30
  w *= POW10[pad]!
  const dscale = fracEnd - fracStart
  // Four groups, least significant first, in 32-bit arithmetic: w < 1e15 splits into two halves.
  const lo = w % 1e8
  const hi = (w - lo) / 1e8
  smallGroups[0] = (lo | 0) % 10000
  smallGroups[1] = ((lo | 0) / 10000) | 0
  smallGroups[2] = (hi | 0) % 10000
  smallGroups[3] = ((hi | 0) / 10000) | 0
  let top = 3
  while (top >= 0 && smallGroups[top] === 0) top--
  // Zero groups at either end are left out; the weight counts groups from the decimal point.
  let low = 0
  while (low < top && smallGroups[low] === 0) low++
  const ndigits = top - low + 1
  const weight = top < 0 ? 0 : top - (dscale + pad) / 4
  view.setInt16(pos, ndigits)
  view.setInt16(pos + 2, weight)
  view.setUint16(pos + 4, negative && ndigits > 0 ? NUMERIC_NEG : 0)
  view.setInt16(pos + 6, dscale)
  pos += 8
  for (let k = top; k >= low; k--) {
    view.setInt16(pos, smallGroups[k]!)
    pos += 2
  }
  return pos
}
