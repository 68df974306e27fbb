import { parsePipeline } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { describe, expect, it } from 'vitest'
import { deriveTransform } from './derive.js'
import type { Rejection } from './types.js'

const input: Column[] = [
  { name: 'qty', type: 'int' },
  { name: 'price', type: 'decimal' },
  { name: 'name', type: 'string' },
  { name: 'sold_at', type: 'timestamp' },
]
const context = {
  pipeline: 'p',
  agentId: 'a',
  runId: 'r',
  version: 1,
  source: 's',
  now: new Date('2026-01-01T00:00:00Z'),
}

function derive(options: Parameters<typeof deriveTransform.bind>[0], rows: Value[][]) {
  const step = deriveTransform.bind(options, input, { pipeline: 'p' })
  const rejected: Rejection[] = []
  const out = step.run(
    { columns: input, rows: rows.map((r) => r.slice()), records: rows.map((_, i) => i) },
    { reject: (r) => rejected.push(r), filtered: () => {} },
    context,
  )
  return { columns: step.columns, rows: out.rows, records: out.records, rejected }
}

describe('derive', () => {
  it('types new columns from the expression and computes them per row', () => {
    const r = derive(
      {
        total: 'double(qty) * price',
        twice: 'qty * 2',
        label: 'name + "!"',
        big: 'qty > 2',
        later: 'sold_at + duration("1h")',
        tags: '{"n": qty}',
      },
      [[3, '1.5', 'a', 1_700_000_000_000_000]],
    )
    expect(r.columns.slice(4)).toEqual([
      { name: 'total', type: 'float' },
      { name: 'twice', type: 'int' },
      { name: 'label', type: 'string' },
      { name: 'big', type: 'bool' },
      { name: 'later', type: 'timestamp' },
      { name: 'tags', type: 'json' },
    ])
    expect(r.rows[0]?.slice(4)).toEqual([4.5, 6, 'a!', true, 1_700_003_600_000_000, '{"n":3}'])
  })

  it('gives null for null inputs, quarantines rows the expression fails on, and converts to a given type', () => {
    const r = derive({ twice: 'qty * 2', n: { expr: 'int(name)', type: 'string' }, qty: 'qty + 1' }, [
      [null, '1', '7', null],
      [1, '1', 'x', null],
      [2, '1', '8', null],
    ])
    expect(r.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      'qty:int',
      'price:decimal',
      'name:string',
      'sold_at:timestamp',
      'twice:int',
      'n:string',
    ])
    // qty is replaced in place; every expression saw the row as it came in.
    expect(r.rows).toEqual([
      [null, '1', '7', null, null, '7'],
      [3, '1', '8', null, 4, '8'],
    ])
    expect(r.records).toEqual([0, 2])
    expect(r.rejected).toEqual([
      expect.objectContaining({
        record: 1,
        rule: 'derive',
        column: 'n',
        reason: expect.stringContaining('derive n "int(name)"'),
      }),
    ])
  })

  it('lets every expression read the row as it came in, also after a column is replaced', () => {
    const r = derive({ qty: 'qty + 1', twice: 'qty * 2', label: 'name + "!"' }, [
      [1, '1', 'a', null],
      [2, '1', null, null],
      [3, '1', 'b', null],
    ])
    expect(r.rows.map((row) => [row[0], row[4], row[5]])).toEqual([
      [2, 2, 'a!'],
      [3, 4, null],
      [4, 6, 'b!'],
    ])
  })

  it('asks for a type when the expression does not type-check on its own', () => {
    expect(() => derive({ q: 'qty == null ? 0 : qty' }, [])).toThrow(
      /derive q: cannot tell the type of "qty == null \? 0 : qty" .*give it as \{ expr: \.\.\., type: \.\.\. \}/,
    )
    const r = derive({ q: { expr: 'qty == null ? 0 : qty', type: 'int' } }, [
      [null, '1', 'a', null],
      [5, '1', 'a', null],
    ])
    expect(r.rows.map((row) => row[4])).toEqual([0, 5])
  })

  it('refuses invalid CEL and bad column names in the spec, naming the place', () => {
    const r = parsePipeline(`apiVersion: outpost/v1
kind: Pipeline
metadata: { name: d }
spec:
  source: { type: csv, path: a.csv }
  transforms: [{ derive: { "bad name": "1", total: "qty *" } }]
  sinks: [{ type: file, path: out }]
`)
    expect(r.ok).toBe(false)
    const paths = r.errors?.map((e) => `${e.path}: ${e.message.split(':')[0]}`)
    expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(/^spec\.transforms\[0\]\.derive/)]))
    expect(r.errors?.some((e) => e.message.includes('invalid CEL expression "qty *"'))).toBe(true)
  })
})
