import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { readNdjsonDir } from '../../../test/helpers/ndjson.js'
import { createLogger } from '../log.js'
import { runLocal } from '../runtime/local-run.js'
import { WorkerPool } from '../workers/pool.js'
import {
  accumulate,
  addDecimal,
  finish,
  initial,
  type MetricInfo,
  type MetricState,
  merge,
  seal,
} from './aggregate-state.js'

const log = createLogger({ level: 'error', write: () => {} })
const work = mkdtempSync(join(tmpdir(), 'outpost-aggregate-'))
const pool = new WorkerPool({ threads: 1 })
afterAll(async () => {
  await pool.close()
  rmSync(work, { recursive: true, force: true })
})

describe('partial aggregates', () => {
  it('add decimals exactly', () => {
    expect(addDecimal('0.1', '0.2')).toBe('0.3')
    expect(addDecimal('99999999999999999999.99', '0.01')).toBe('100000000000000000000.00')
    expect(addDecimal('-5', '2.50')).toBe('-2.50')
    expect(addDecimal('1e3', '-0.001')).toBe('999.999')
  })

  it('give the same result however the rows are split into batches', () => {
    const metrics: MetricInfo[] = [
      { name: 'n', kind: 'rows', index: -1, input: 'int', output: 'int' },
      { name: 's', kind: 'sum', index: 0, input: 'decimal', output: 'decimal' },
      { name: 'a', kind: 'avg', index: 1, input: 'int', output: 'float' },
      { name: 'lo', kind: 'min', index: 1, input: 'int', output: 'int' },
      { name: 'hi', kind: 'max', index: 0, input: 'decimal', output: 'decimal' },
      { name: 'c', kind: 'count', index: 2, input: 'string', output: 'int' },
      { name: 'd', kind: 'count_distinct', index: 2, input: 'string', output: 'int' },
    ]
    const row = fc.tuple(
      fc.integer({ min: -10_000, max: 10_000 }).map((n) => (n / 100).toFixed(2)),
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.option(fc.constantFrom('a', 'b', 'ü', '🚀'), { nil: null }),
    )
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 80 }), fc.array(fc.nat(79)), (rows, cuts) => {
        const whole = metrics.map(initial)
        const all: (Set<string> | undefined)[] = []
        for (const r of rows) accumulate(whole, r, metrics, all)
        seal(whole, all)
        const bounds = [...new Set([0, ...cuts.map((c) => c % rows.length), rows.length])].sort(
          (a, b) => a - b,
        )
        const merged = metrics.map(initial)
        for (let i = 0; i + 1 < bounds.length; i++) {
          const part = metrics.map(initial)
          const distinct: (Set<string> | undefined)[] = []
          for (const r of rows.slice(bounds[i], bounds[i + 1])) accumulate(part, r, metrics, distinct)
          seal(part, distinct)
          merge(merged as MetricState[], part, metrics)
        }
        const a = finish(whole, metrics)
        const b = finish(merged, metrics)
        expect(b.slice(0, 2)).toEqual(a.slice(0, 2))
        expect(b[2] as number).toBeCloseTo(a[2] as number, 6)
        expect(b.slice(3)).toEqual(a.slice(3))
      }),
    )
  })
})

let n = 0
async function run(dir: string, name: string, transforms: string, chunkBytes = 128) {
  const out = join(work, `out-${name}`)
  const result = await runLocal(
    `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: csv, path: "${dir}/*.csv*" }
  transforms: ${transforms}
  sinks: [{ type: file, path: ${out}, format: ndjson }]
`,
    { log, pool, chunkBytes, stateDir: join(work, `state-${name}`) },
  )
  if (result.kind !== 'ran') throw new Error(JSON.stringify(result.errors))
  const rows = readNdjsonDir(out).sort((a, b) => String(a.store).localeCompare(String(b.store)))
  return { report: result.report, rows }
}

const CHAIN = `
    - cast: { store: string, amount: decimal, qty: int, sold_at: timestamp }
    - aggregate:
        group_by: [store]
        metrics:
          sales: count
          revenue: { sum: amount }
          items: { sum: qty }
          avg_qty: { avg: qty }
          first_sale: { min: sold_at }
          biggest: { max: amount }
          with_customer: { count: customer }
          customers: { count_distinct: customer }
    - filter: "sales > 1"`

function lines(from: number, to: number): string {
  const out: string[] = []
  for (let i = from; i < to; i++) {
    const store = ['Zürich', 'Bern', 'Genf'][i % 3]
    const customer = i % 4 === 0 ? '' : `c${i % 5}`
    out.push(
      `${store},${(i % 7) + 0.25},${i},2025-01-${String((i % 28) + 1).padStart(2, '0')}T00:00:00Z,${customer}`,
    )
  }
  return out.join('\n')
}

function expected(indices: number[]) {
  const groups = new Map<string, number[]>()
  for (const i of indices) {
    const store = ['Zürich', 'Bern', 'Genf'][i % 3] as string
    groups.set(store, [...(groups.get(store) ?? []), i])
  }
  return [...groups.entries()]
    .map(([store, is]) => {
      const customers = is.filter((i) => i % 4 !== 0).map((i) => `c${i % 5}`)
      return {
        store,
        sales: is.length,
        revenue: is
          .map((i) => (i % 7) + 0.25)
          .reduce((a, b) => a + b, 0)
          .toFixed(2),
        items: is.reduce((a, b) => a + b, 0),
        avg_qty: is.reduce((a, b) => a + b, 0) / is.length,
        first_sale: `2025-01-${String(Math.min(...is.map((i) => (i % 28) + 1))).padStart(2, '0')}T00:00:00Z`,
        biggest: `${Math.max(...is.map((i) => i % 7))}.25`,
        with_customer: customers.length,
        customers: new Set(customers).size,
      }
    })
    .sort((a, b) => a.store.localeCompare(b.store))
}

describe('aggregate in a run', () => {
  it('emits one row per group for the whole run, across chunks, and runs the steps after it', async () => {
    const dir = join(work, `a${++n}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'a.csv'), `store,amount,qty,sold_at,customer\n${lines(0, 200)}\n`)
    const { report, rows } = await run(dir, 'groups', CHAIN)
    expect(report).toMatchObject({ status: 'succeeded', rowsRead: 200, rowsWritten: 3 })
    expect(rows).toEqual(expected(Array.from({ length: 200 }, (_, i) => i)))
    // Only new rows count in the next run; a group with one row is filtered after the aggregate.
    writeFileSync(join(dir, 'b.csv'), `store,amount,qty,sold_at,customer\n${lines(200, 201)}\n`)
    const next = await run(dir, 'groups', CHAIN)
    expect(next.report).toMatchObject({ status: 'succeeded', rowsRead: 1, rowsWritten: 0, rowsFiltered: 1 })
  })

  it('keeps the partial groups of a failed run and counts every row once when the next run emits', async () => {
    const dir = join(work, `a${++n}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'a.csv'), `store,amount,qty,sold_at,customer\n${lines(0, 90)}\n`)
    writeFileSync(join(dir, 'b.csv.gz'), 'this is not gzip')
    const failed = await run(dir, 'resume', CHAIN)
    expect(failed.report.status).toBe('failed')
    expect(failed.report.errors[0]?.message).toContain('b.csv.gz')
    expect(failed.rows).toEqual([])
    rmSync(join(dir, 'b.csv.gz'))
    writeFileSync(join(dir, 'c.csv'), `store,amount,qty,sold_at,customer\n${lines(90, 120)}\n`)
    const resumed = await run(dir, 'resume', CHAIN)
    // Chunks of a.csv still in flight when b.csv.gz failed were not checkpointed: read again.
    expect(resumed.report.status).toBe('succeeded')
    expect(resumed.report.rowsRead).toBeGreaterThanOrEqual(30)
    expect(resumed.report.rowsRead).toBeLessThan(120)
    expect(resumed.rows).toEqual(expected(Array.from({ length: 120 }, (_, i) => i)))
  })

  it('refuses metrics that do not fit the column, naming them', async () => {
    const dir = join(work, `a${++n}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'a.csv'), 'store,amount\nx,1\n')
    const { report } = await run(
      dir,
      'bad',
      '[{ aggregate: { group_by: [store], metrics: { s: { sum: store } } } }]',
    )
    expect(report.status).toBe('failed')
    expect(report.errors[0]?.message).toBe(
      'aggregate: s: sum needs a number column (int, float, decimal); column store is string',
    )
  })
})
