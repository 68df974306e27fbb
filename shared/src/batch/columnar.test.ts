import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { describe, expect, it } from 'vitest'
import { type ColumnType, DataBatchSchema } from '../gen/outpost/telemetry/v1/telemetry_pb.js'
import { BatchDecodeError, decodeColumns, encodeColumns } from './columnar.js'
import type { RowBatch } from './values.js'
import { formatTimestampMicros, formatValue, jsonValue } from './values.js'

const batch: RowBatch = {
  columns: [
    { name: 's', type: 'string' },
    { name: 'i', type: 'int' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'decimal' },
    { name: 'b', type: 'bool' },
    { name: 't', type: 'timestamp' },
    { name: 'day', type: 'date' },
    { name: 'j', type: 'json' },
    { name: 'raw', type: 'bytes' },
  ],
  rows: [
    ['plain', 1, 1.5, '12.50', true, 1_700_000_000_123_456, 19_000, '{"a":1}', new Uint8Array([1, 2, 3])],
    [
      'Chloé 🚀 naïve',
      -9007199254740993n,
      Number.NaN,
      '-0.000000000000000000001',
      false,
      -1,
      -1,
      '[]',
      new Uint8Array([]),
    ],
    [null, null, null, null, null, null, null, null, null],
    [
      '',
      9223372036854775807n,
      -Infinity,
      '99999999999999999999999999999.999999',
      true,
      0,
      0,
      'null',
      new Uint8Array([255]),
    ],
    [
      'x'.repeat(10_000),
      Number.MAX_SAFE_INTEGER,
      1e308,
      '0',
      false,
      253_402_300_799_999_999n,
      2_932_896,
      '"ü"',
      new Uint8Array(1000).fill(7),
    ],
  ],
}

function roundTrip(b: RowBatch): RowBatch {
  const message = create(DataBatchSchema, { rowCount: b.rows.length, columns: encodeColumns(b) })
  const decoded = fromBinary(DataBatchSchema, toBinary(DataBatchSchema, message))
  return decodeColumns(decoded.columns, decoded.rowCount)
}

describe('columnar batches', () => {
  it('round-trips every type with nulls, unicode, 64-bit integers and extremes', () => {
    const back = roundTrip(batch)
    expect(back.columns).toEqual(batch.columns)
    // Compared row by row so a failure does not print the 10,000-character cell.
    const short = (v: unknown) => (typeof v === 'string' && v.length > 100 ? `${v.length} chars` : v)
    for (const [i, row] of back.rows.entries()) expect(row.map(short)).toEqual(batch.rows[i]!.map(short))
    expect(back.rows[4]![0]).toBe(batch.rows[4]![0])
  })

  it('round-trips an all-ASCII string column and an empty batch', () => {
    const ascii: RowBatch = {
      columns: [{ name: 'a', type: 'string' }],
      rows: [['abc'], ['de'], [null], ['f']],
    }
    expect(roundTrip(ascii).rows).toEqual(ascii.rows)
    expect(roundTrip({ columns: batch.columns, rows: [] }).rows).toEqual([])
  })

  it('rejects bytes that do not match the declared shape', () => {
    const columns = encodeColumns({ columns: [{ name: 'i', type: 'int' }], rows: [[1], [2]] })
    expect(() => decodeColumns(columns, 3)).toThrow(BatchDecodeError)
    expect(() => decodeColumns(columns, 3)).toThrow('column "i": expected 24 bytes')
    const text = encodeColumns({ columns: [{ name: 's', type: 'string' }], rows: [['ab'], ['c']] })
    text[0]!.offsets = text[0]!.offsets.slice(0, 4)
    expect(() => decodeColumns(text, 2)).toThrow('column "s": expected 3 offsets')
    const unknown = encodeColumns({ columns: [{ name: 's', type: 'string' }], rows: [['a']] })
    unknown[0]!.type = 77 as ColumnType
    expect(() => decodeColumns(unknown, 1)).toThrow('unknown type 77')
  })

  it('formats values for text and JSON output', () => {
    expect(formatTimestampMicros(1_700_000_000_123_456)).toBe('2023-11-14T22:13:20.123456Z')
    expect(formatTimestampMicros(1_700_000_000_000_000)).toBe('2023-11-14T22:13:20Z')
    expect(formatTimestampMicros(-1)).toBe('1969-12-31T23:59:59.999999Z')
    expect(formatTimestampMicros(253_402_300_799_999_999n)).toBe('9999-12-31T23:59:59.999999Z')
    expect(formatTimestampMicros(-62_135_596_800_000_001n)).toBe('0000-12-31T23:59:59.999999Z')
    expect(formatValue(19_000, 'date')).toBe('2022-01-08')
    expect(formatValue(null, 'string')).toBeUndefined()
    expect(formatValue(new Uint8Array([1, 2, 3, 4]), 'bytes')).toBe('AQIDBA==')
    expect(jsonValue(9223372036854775807n, 'int')).toBe('9223372036854775807')
    expect(jsonValue('{"a":[1]}', 'json')).toEqual({ a: [1] })
  })
})
