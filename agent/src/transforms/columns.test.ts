import { createHmac } from 'node:crypto'
import type { Column, Value } from '@outpost/shared/batch'
import { describe, expect, it } from 'vitest'
import { registryTransforms } from './test-chain.js'

const { apply } = registryTransforms

const cols = (spec: string): Column[] =>
  spec.split(',').map((p) => {
    const [name, type] = p.trim().split(':') as [string, Column['type']]
    return { name, type }
  })

describe('select and drop', () => {
  it('keep or remove columns, in the order asked, and name a missing one', () => {
    const input = cols('a:int, b:string, c:float')
    const rows: Value[][] = [
      [1, 'ü', 1.5],
      [null, null, Number.NaN],
    ]
    expect(apply([{ select: ['c', 'a'] }], input, rows).rows).toEqual([
      [1.5, 1],
      [Number.NaN, null],
    ])
    expect(apply([{ drop: ['b'] }], input, rows).columns).toEqual(cols('a:int, c:float'))
    expect(() => apply([{ select: ['a', 'zz'] }], input, rows)).toThrow(
      'select: no column "zz"; the columns are a, b, c',
    )
    expect(apply([{ select: ['a'] }], input, []).rows).toEqual([])
  })
})

describe('trim', () => {
  it('trims text columns (all, or those named) and makes blank cells null', () => {
    const input = cols('a:string, b:string, n:int')
    const rows: Value[][] = [
      ['  Zoë 🚀 ', '\t', 5],
      [null, ' x', null],
    ]
    expect(apply([{ trim: 'all' }], input, rows).rows).toEqual([
      ['Zoë 🚀', null, 5],
      [null, 'x', null],
    ])
    expect(apply([{ trim: ['b'] }], input, rows).rows[0]).toEqual(['  Zoë 🚀 ', null, 5])
    expect(() => apply([{ trim: ['n'] }], input, rows)).toThrow('trim: column n is int, not string')
  })
})

describe('fill', () => {
  it('fills nulls with a constant of the column type, the previous value, the mean or the median', () => {
    const input = cols('country:string, amount:decimal, qty:int, day:date')
    const rows: Value[][] = [
      [null, '1.5', 1, 19_000],
      ['FR', null, null, null],
      [null, '4.5', 10, null],
      [null, '2', 2, null],
    ]
    const out = apply(
      [
        {
          fill: {
            country: 'DE',
            amount: { with: 'median' },
            qty: { with: 'mean' },
            day: { with: 'previous' },
          },
        },
      ],
      input,
      rows,
    ).rows
    expect(out.map((r) => r[0])).toEqual(['DE', 'FR', 'DE', 'DE'])
    expect(out[1]?.[1]).toBe('2')
    expect(out[1]?.[2]).toBe(4)
    expect(out.map((r) => r[3])).toEqual([19_000, 19_000, 19_000, 19_000])
    expect(() => apply([{ fill: { qty: 'many' } }], input, rows)).toThrow('fill qty: "many" is not a int')
    expect(() => apply([{ fill: { country: { with: 'mean' } } }], input, rows)).toThrow(
      'fill country: mean needs a number column; country is string',
    )
  })
})

describe('mask', () => {
  it('hashes with a per-pipeline salt, redacts, and keeps the last characters of unicode text', () => {
    const input = cols('email:string, card:string, note:string, id:int')
    const rows: Value[][] = [
      ['zoë@example.com', '4111111111111111', 'secret', 7],
      [null, '12', null, null],
    ]
    const out = apply(
      [{ mask: { email: 'sha256', card: { keep_last: 4 }, note: 'redact', id: 'sha256' } }],
      input,
      rows,
    )
    expect(out.rows[0]).toEqual([
      createHmac('sha256', 'p').update('zoë@example.com').digest('hex'),
      '************1111',
      '***',
      createHmac('sha256', 'p').update('7').digest('hex'),
    ])
    expect(out.rows[1]).toEqual([null, '12', null, null])
    expect(out.columns[3]).toEqual({ name: 'id', type: 'string' })
    const salted = apply([{ mask: { email: { sha256: { salt: 'pepper' } } } }], input, rows).rows[0]?.[0]
    expect(salted).toBe(createHmac('sha256', 'pepper').update('zoë@example.com').digest('hex'))
    expect(() => apply([{ mask: { email: { sha256: { salt: '${secret:SALT}' } } } }], input, rows)).toThrow(
      'the salt ${secret:SALT} was not resolved',
    )
  })
})

describe('add_metadata', () => {
  it('adds where each row came from', () => {
    const out = apply(
      [
        {
          add_metadata: {
            _at: 'extracted_at',
            _src: 'source',
            _agent: 'agent_id',
            _run: 'run_id',
            _v: 'pipeline_version',
          },
        },
      ],
      cols('a:int'),
      [[1]],
    )
    expect(out.columns.slice(1)).toEqual(
      cols('_at:timestamp, _src:string, _agent:string, _run:string, _v:int'),
    )
    expect(out.rows[0]).toEqual([1, Date.UTC(2026, 0, 1) * 1000, '/drop/a.csv', 'agt-1', 'run-1', 3])
    expect(() => apply([{ add_metadata: { a: 'run_id' } }], cols('a:int'), [])).toThrow(
      'already a column "a"',
    )
  })
})

describe('outliers', () => {
  const input = cols('amount:float, qty:int')
  const rows: Value[][] = [
    [10, 1],
    [11, 2],
    [12, 3],
    [13, 4],
    [1_000_000, 1000],
    [null, null],
    [Number.NaN, 5],
  ]
  it('flags values beyond the IQR bounds of the batch', () => {
    const out = apply([{ outliers: { column: 'amount' } }], input, rows)
    expect(out.columns[2]).toEqual({ name: 'amount_outlier', type: 'bool' })
    expect(out.rows.map((r) => r[2])).toEqual([false, false, false, false, true, null, false])
  })
  it('clips to the bounds, as integers for int columns, by z-score too', () => {
    const iqr = apply([{ outliers: { column: 'qty', action: 'clip' } }], input, rows).rows.map((r) => r[1])
    expect(iqr.slice(0, 4)).toEqual([1, 2, 3, 4])
    expect(Number.isInteger(iqr[4])).toBe(true)
    expect(iqr[4] as number).toBeLessThan(1000)
    const z = apply(
      [{ outliers: { column: 'amount', method: 'zscore', threshold: 1, action: 'clip' } }],
      input,
      rows,
    ).rows
    expect(z[4]?.[0] as number).toBeLessThan(1_000_000)
    expect(() => apply([{ outliers: { column: 'qty', action: 'flag' } }], cols('qty:string'), [])).toThrow(
      'qty is string, not a number',
    )
  })
})
