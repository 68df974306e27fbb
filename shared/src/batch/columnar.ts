import { create } from '@bufbuild/protobuf'
import {
  ColumnType,
  type Column as WireColumn,
  ColumnSchema as WireColumnSchema,
} from '../gen/outpost/telemetry/v1/telemetry_pb.js'
import type { ColumnTypeName } from '../spec/column-types.js'
import type { Column, RowBatch, Value } from './values.js'

/** Arrow-like columnar encoding of rows: a handful of byte arrays per column instead of a message per cell. */

const TO_WIRE: Record<ColumnTypeName, ColumnType> = {
  string: ColumnType.STRING,
  int: ColumnType.INT,
  float: ColumnType.FLOAT,
  decimal: ColumnType.DECIMAL,
  bool: ColumnType.BOOL,
  timestamp: ColumnType.TIMESTAMP,
  date: ColumnType.DATE,
  json: ColumnType.JSON,
  bytes: ColumnType.BYTES,
}
const FROM_WIRE = new Map<ColumnType, ColumnTypeName>(
  Object.entries(TO_WIRE).map(([k, v]) => [v, k as ColumnTypeName]),
)

export class BatchDecodeError extends Error {
  override name = 'BatchDecodeError'
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: false })
const TWO_32 = 4294967296

function bitmap(rows: number): Uint8Array {
  return new Uint8Array((rows + 7) >>> 3)
}

export function encodeColumns(batch: RowBatch): WireColumn[] {
  const n = batch.rows.length
  return batch.columns.map((col, c) => {
    let validity: Uint8Array | undefined
    const markNull = (r: number) => {
      if (!validity) {
        validity = bitmap(n).fill(0xff)
      }
      validity[r >>> 3]! &= ~(1 << (r & 7))
    }
    let values: Uint8Array
    let offsets: Uint8Array = new Uint8Array(0)
    switch (col.type) {
      case 'int':
      case 'timestamp': {
        const view = new DataView(new ArrayBuffer(n * 8))
        for (let r = 0; r < n; r++) {
          const v = batch.rows[r]![c]
          if (v === null || v === undefined) {
            markNull(r)
          } else if (typeof v === 'bigint') {
            view.setBigInt64(r * 8, v, true)
          } else {
            const num = v as number
            const hi = Math.floor(num / TWO_32)
            view.setUint32(r * 8, num - hi * TWO_32, true)
            view.setInt32(r * 8 + 4, hi, true)
          }
        }
        values = new Uint8Array(view.buffer)
        break
      }
      case 'float': {
        const arr = new Float64Array(n)
        for (let r = 0; r < n; r++) {
          const v = batch.rows[r]![c]
          if (v === null || v === undefined) markNull(r)
          else arr[r] = v as number
        }
        values = new Uint8Array(arr.buffer)
        break
      }
      case 'date': {
        const arr = new Int32Array(n)
        for (let r = 0; r < n; r++) {
          const v = batch.rows[r]![c]
          if (v === null || v === undefined) markNull(r)
          else arr[r] = v as number
        }
        values = new Uint8Array(arr.buffer)
        break
      }
      case 'bool': {
        values = bitmap(n)
        for (let r = 0; r < n; r++) {
          const v = batch.rows[r]![c]
          if (v === null || v === undefined) markNull(r)
          else if (v) values[r >>> 3]! |= 1 << (r & 7)
        }
        break
      }
      case 'bytes': {
        const offs = new Uint32Array(n + 1)
        const parts: Uint8Array[] = []
        let total = 0
        for (let r = 0; r < n; r++) {
          const v = batch.rows[r]![c]
          if (v === null || v === undefined) markNull(r)
          else {
            const b = v as Uint8Array
            parts.push(b)
            total += b.length
          }
          offs[r + 1] = total
        }
        values = new Uint8Array(total)
        let at = 0
        for (const p of parts) {
          values.set(p, at)
          at += p.length
        }
        offsets = new Uint8Array(offs.buffer)
        break
      }
      default: {
        // string, decimal, json: UTF-8 text. All-ASCII columns (the common case) are encoded in one call.
        const strs = new Array<string>(n)
        for (let r = 0; r < n; r++) {
          const v = batch.rows[r]![c]
          if (v === null || v === undefined) {
            markNull(r)
            strs[r] = ''
          } else {
            strs[r] = typeof v === 'string' ? v : String(v)
          }
        }
        const joined = strs.join('')
        const offs = new Uint32Array(n + 1)
        const encoded = encoder.encode(joined)
        if (encoded.length === joined.length) {
          let total = 0
          for (let r = 0; r < n; r++) {
            total += strs[r]!.length
            offs[r + 1] = total
          }
        } else {
          let total = 0
          for (let r = 0; r < n; r++) {
            total += utf8Length(strs[r]!)
            offs[r + 1] = total
          }
        }
        values = encoded
        offsets = new Uint8Array(offs.buffer)
      }
    }
    return create(WireColumnSchema, {
      name: col.name,
      type: TO_WIRE[col.type],
      validity: validity ?? new Uint8Array(0),
      values,
      offsets,
    })
  })
}

function utf8Length(s: string): number {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

export function decodeSchema(columns: readonly WireColumn[]): Column[] {
  return columns.map((col) => {
    const type = FROM_WIRE.get(col.type)
    if (!type) throw new BatchDecodeError(`column "${col.name}" has unknown type ${col.type}`)
    return { name: col.name, type }
  })
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** What a column of `type` must carry for `rowCount` rows: bytes of values, or of offsets for text and bytes. */
function expectedSize(
  type: ColumnTypeName,
  rowCount: number,
): { field: 'values' | 'offsets'; bytes: number } {
  switch (type) {
    case 'int':
    case 'timestamp':
    case 'float':
      return { field: 'values', bytes: rowCount * 8 }
    case 'date':
      return { field: 'values', bytes: rowCount * 4 }
    case 'bool':
      return { field: 'values', bytes: Math.ceil(rowCount / 8) }
    default:
      return { field: 'offsets', bytes: (rowCount + 1) * 4 }
  }
}

function checkSize(col: WireColumn, type: ColumnTypeName, rowCount: number): void {
  if (col.validity.length !== 0 && col.validity.length < Math.ceil(rowCount / 8)) {
    throw new BatchDecodeError(`column "${col.name}": validity bitmap too short`)
  }
  const { field, bytes } = expectedSize(type, rowCount)
  if (col[field].length === bytes) return
  throw new BatchDecodeError(
    field === 'values'
      ? `column "${col.name}": expected ${bytes} bytes of ${type} values for ${rowCount} rows, got ${col.values.length}`
      : `column "${col.name}": expected ${rowCount + 1} offsets, got ${col.offsets.length / 4}`,
  )
}

/**
 * Checks that the bytes of every column carry `rowCount` rows of its declared type (sizes, offsets
 * that run forwards and end where the values do) without making a value of any row; returns the
 * schema. Throws BatchDecodeError naming the column when they do not.
 */
export function checkColumns(columns: readonly WireColumn[], rowCount: number): Column[] {
  const schema = decodeSchema(columns)
  // Sizes are checked before anything is read: a row count the bytes do not carry (four
  // billion, from a damaged or hostile message) would otherwise exhaust memory.
  columns.forEach((col, c) => {
    checkSize(col, schema[c]!.type, rowCount)
  })
  columns.forEach((col, c) => {
    if (expectedSize(schema[c]!.type, rowCount).field !== 'offsets') return
    const offs = viewOf(col.offsets)
    const end = offs.getUint32(rowCount * 4, true)
    if (end !== col.values.length)
      throw new BatchDecodeError(
        `column "${col.name}": offsets end at ${end} but there are ${col.values.length} bytes`,
      )
    let previous = offs.getUint32(0, true)
    for (let r = 0; r < rowCount; r++) {
      const next = offs.getUint32(r * 4 + 4, true)
      if (next < previous)
        throw new BatchDecodeError(`column "${col.name}": offsets go backwards at row ${r}`)
      previous = next
    }
  })
  return schema
}

/** Rows back from columns; throws BatchDecodeError when the bytes do not match the declared shape. */
export function decodeColumns(columns: readonly WireColumn[], rowCount: number): RowBatch {
  const schema = checkColumns(columns, rowCount)
  const rows: Value[][] = new Array(rowCount)
  for (let r = 0; r < rowCount; r++) rows[r] = new Array(columns.length)
  columns.forEach((col, c) => {
    const type = schema[c]!.type
    const validity = col.validity
    const isNull = (r: number) => validity.length !== 0 && ((validity[r >>> 3]! >> (r & 7)) & 1) === 0
    switch (type) {
      case 'int':
      case 'timestamp': {
        const view = viewOf(col.values)
        for (let r = 0; r < rowCount; r++) {
          if (isNull(r)) rows[r]![c] = null
          else {
            const lo = view.getUint32(r * 8, true)
            const hi = view.getInt32(r * 8 + 4, true)
            const num = hi * TWO_32 + lo
            rows[r]![c] = Number.isSafeInteger(num) ? num : view.getBigInt64(r * 8, true)
          }
        }
        break
      }
      case 'float': {
        const view = viewOf(col.values)
        for (let r = 0; r < rowCount; r++) rows[r]![c] = isNull(r) ? null : view.getFloat64(r * 8, true)
        break
      }
      case 'date': {
        const view = viewOf(col.values)
        for (let r = 0; r < rowCount; r++) rows[r]![c] = isNull(r) ? null : view.getInt32(r * 4, true)
        break
      }
      case 'bool': {
        for (let r = 0; r < rowCount; r++)
          rows[r]![c] = isNull(r) ? null : ((col.values[r >>> 3]! >> (r & 7)) & 1) === 1
        break
      }
      default: {
        const offs = viewOf(col.offsets)
        if (type === 'bytes') {
          for (let r = 0; r < rowCount; r++) {
            const a = offs.getUint32(r * 4, true)
            const b = offs.getUint32(r * 4 + 4, true)
            rows[r]![c] = isNull(r) ? null : col.values.slice(a, b)
          }
          break
        }
        const text = decoder.decode(col.values)
        const ascii = text.length === col.values.length
        for (let r = 0; r < rowCount; r++) {
          const a = offs.getUint32(r * 4, true)
          const b = offs.getUint32(r * 4 + 4, true)
          if (isNull(r)) rows[r]![c] = null
          else rows[r]![c] = ascii ? text.slice(a, b) : decoder.decode(col.values.subarray(a, b))
        }
      }
    }
  })
  return { columns: schema, rows }
}
