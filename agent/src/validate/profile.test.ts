import type { ColumnTypeName } from '@outpost/shared'
import { formatValue, type Value } from '@outpost/shared/batch'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { profileBatch, RunQuality } from './profile.js'

const profile = (type: ColumnTypeName, values: Value[], exact = true) =>
  profileBatch(
    [{ name: 'c', type }],
    values.map((v) => [v]),
    [0],
    new Set(exact ? ['c'] : []),
    [],
  ).columns[0]!

/** The top values as counting every value's text and sorting all of them (stably) gives them. */
function referenceTop(type: ColumnTypeName, values: Value[]): [string, number][] {
  const counts = new Map<string, number>()
  for (const v of values) {
    if (v === null) continue
    const text = formatValue(v, type) ?? ''
    counts.set(text, (counts.get(text) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 20)
}

describe('profileBatch', () => {
  it('finds the top values, ties in first-seen order, and counts distinct values exactly', () => {
    const columns: [ColumnTypeName, fc.Arbitrary<Value>][] = [
      ['string', fc.constantFrom('a', 'b', 'c', '', 'é', 'a b')],
      ['int', fc.oneof(fc.integer({ min: -3, max: 3 }), fc.bigInt({ min: -3n, max: 3n }))],
      ['float', fc.constantFrom(0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2)],
      ['bool', fc.boolean()],
      ['timestamp', fc.integer({ min: 0, max: 5 }).map((n) => n * 1_000_000)],
      ['bytes', fc.constantFrom(new Uint8Array([1]), new Uint8Array([1]), new Uint8Array([2, 3]))],
    ]
    for (const [type, cell] of columns) {
      fc.assert(
        fc.property(fc.array(fc.option(cell, { freq: 6 }), { maxLength: 300 }), (values) => {
          const p = profile(type, values)
          const expected = referenceTop(type, values)
          expect(p.top).toEqual(expected)
          const texts = values.flatMap((v) => (v === null ? [] : [formatValue(v, type)]))
          expect(p.exact?.length).toBe(new Set(texts).size)
          expect(p.nulls).toBe(values.filter((v) => v === null).length)
        }),
        { numRuns: 200 },
      )
    }
  })

  it('counts values first seen late in a wide batch everywhere but in the top values', () => {
    const values: Value[] = Array.from({ length: 5000 }, (_, i) => `v${i}`)
    for (let i = 0; i < 30; i++) values.push('late')
    const p = profile('string', values)
    expect(p.exact?.length).toBe(5001)
    expect(p.count).toBe(5030)
    // 'late' came after 1,024 other distinct values: not counted towards the top values.
    expect(p.top.map(([v]) => v)).not.toContain('late')
    expect(p.top[0]).toEqual(['v0', 1])
    const ints = profile(
      'int',
      Array.from({ length: 4000 }, (_, i) => i % 3000),
    )
    expect(ints.exact?.length).toBe(3000)
    expect(ints.top[0]).toEqual(['0', 2])
  })

  it('estimates distinct values of wide columns with the sketch', () => {
    for (const [type, make] of [
      ['int', (i: number) => i * 7919],
      ['timestamp', (i: number) => 1_700_000_000_000_000 + i * 1_000_003],
      ['string', (i: number) => `customer-${i}`],
    ] as [ColumnTypeName, (i: number) => Value][]) {
      const quality = new RunQuality()
      for (let batch = 0; batch < 4; batch++) {
        const values = Array.from({ length: 5000 }, (_, i) => make(batch * 2500 + i))
        quality.add(
          profileBatch(
            [{ name: 'c', type }],
            values.map((v) => [v]),
            [0],
            new Set(),
            [],
          ),
        )
      }
      const column = quality.report(undefined).columns[0]!
      // 12,500 distinct values in 20,000 rows; HyperLogLog with 1,024 registers is within a few %.
      expect(column.distinctExact).toBe(false)
      expect(Math.abs(column.distinct / 12_500 - 1)).toBeLessThan(0.1)
    }
  })
})
