import type { Value } from '@outpost/shared/batch'
import { describe, expect, it } from 'vitest'
import type { Rejection } from '../transforms/types.js'
import { type RowLimits, withinLimits } from './row-limits.js'

const limits: RowLimits = { maxRowBytes: 100, maxFieldBytes: 60, maxColumns: 3 }
const col = (name: string) => ({ name, type: 'string' as const })

function check(names: string[], rows: Value[][]) {
  const rejected: Rejection[] = []
  const frame = withinLimits({ columns: names.map(col), rows, records: rows.map((_, i) => i) }, limits, {
    reject: (r) => rejected.push(r),
    filtered: () => {},
  })
  return { frame, rejected }
}

describe('row limits', () => {
  it('passes rows within the limits as copies', () => {
    const row: Value[] = ['a', 1, null]
    const { frame, rejected } = check(['x', 'y', 'z'], [row])
    expect(rejected).toEqual([])
    expect(frame.rows).toEqual([row])
    expect(frame.rows[0]).not.toBe(row)
  })

  it('names the limit, the size and the column of a row over one', () => {
    const { frame, rejected } = check(
      ['x', 'y', 'z'],
      [
        ['a'.repeat(61), null, null],
        ['a'.repeat(50), 'b'.repeat(50), 'c'],
        [new Uint8Array(70), null, null],
        ['ok', 'ok', 'ok'],
      ],
    )
    expect(rejected).toEqual([
      {
        record: 0,
        rule: 'max_field_bytes',
        column: 'x',
        reason: 'column "x" holds 61 bytes; max_field_bytes is 60',
      },
      { record: 1, rule: 'max_row_bytes', reason: 'the record is 101 bytes; max_row_bytes is 100' },
      {
        record: 2,
        rule: 'max_field_bytes',
        column: 'x',
        reason: 'column "x" holds 70 bytes; max_field_bytes is 60',
      },
    ])
    expect(frame.records).toEqual([3])
  })

  it('counts UTF-8 bytes, not characters', () => {
    // 20 euro signs are 60 bytes: at the limit, not over it.
    expect(check(['x'], [['€'.repeat(20)]]).rejected).toEqual([])
    expect(check(['x'], [['€'.repeat(21)]]).rejected[0]?.reason).toBe(
      'column "x" holds 63 bytes; max_field_bytes is 60',
    )
  })

  it('quarantines a wide record and leaves out the columns only it had', () => {
    const { frame, rejected } = check(
      ['a', 'b', 'c', 'd', 'e'],
      [
        [1, 2, null, null, null],
        [1, 2, 3, 4, 5],
        [null, 2, 3, null, null],
      ],
    )
    expect(rejected).toEqual([
      { record: 1, rule: 'max_columns', reason: 'the record has 5 columns; max_columns is 3' },
    ])
    expect(frame.columns.map((c) => c.name)).toEqual(['a', 'b', 'c'])
    expect(frame.rows).toEqual([
      [1, 2, null],
      [null, 2, 3],
    ])
  })

  it('quarantines narrow records that are too wide together', () => {
    const { frame, rejected } = check(
      ['a', 'b', 'c', 'd'],
      [
        [1, 2, null, null],
        [null, null, 3, 4],
      ],
    )
    expect(frame.rows).toEqual([])
    expect(rejected.map((r) => r.reason)).toEqual([
      'the records of this chunk have 4 different columns together; max_columns is 3',
      'the records of this chunk have 4 different columns together; max_columns is 3',
    ])
  })
})
