import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readNdjsonDir } from '../../../test/helpers/ndjson.js'
import { createLogger } from '../log.js'
import { runLocal } from '../runtime/local-run.js'
import type { QualityReport } from './profile.js'

const log = createLogger({ level: 'error', write: () => {} })
const work = mkdtempSync(join(tmpdir(), 'outpost-validate-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const CSV = `id,email,amount,country,sku,name,sold_at
1,a@example.com,10.5,DE,ABC-1,Zoë,2025-01-01T10:00:00Z
2,not-an-email,20,FR,ABC-2,Bob,2025-01-02T10:00:00Z
3,c@example.com,-5,DE,ABC-3,,2025-01-03T10:00:00Z
4,d@example.com,999999,US,XYZ,Dana,2099-01-01T00:00:00Z
5,e@example.com,,DE,ABC-5,Eve,2025-01-05T10:00:00Z
5,f@example.com,7,DE,ABC-6,Fay,2025-01-06T10:00:00Z
`

let n = 0
async function run(validate: string, csv = CSV, amount = 'decimal') {
  const name = `v${++n}`
  const file = join(work, `${name}.csv`)
  writeFileSync(file, csv)
  const out = join(work, `out-${name}`)
  const spec = `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: csv, path: ${file} }
  transforms: [{ cast: { id: int, amount: ${amount}, sold_at: timestamp } }]
  validate: ${validate}
  sinks: [{ type: file, path: ${out}, format: ndjson }]
`
  const result = await runLocal(spec, { log, threads: 1 })
  if (result.kind !== 'ran') throw new Error(JSON.stringify(result.errors))
  const ids = readNdjsonDir<{ id: number }>(out).map((r) => r.id)
  return { report: result.report, ids: ids.sort(), quality: result.report.quality as QualityReport }
}

describe('validate', () => {
  it('quarantines rows that break error rules, with the rule and the reason; warnings only count', async () => {
    const { report, ids, quality } = await run(`
    rules:
      - { not_null: amount }
      - { email: email }
      - { range: amount, min: 0, max: 100000 }
      - { in_set: country, values: [DE, FR], severity: warn }
      - { regex: sku, pattern: "^[A-Z]{3}-\\\\d+$", name: sku_format }
      - { length: name, min: 1, max: 3, severity: warn }
      - { unique: id }
      - { expr: "sold_at <= now", name: no_future_sales }`)
    expect(report.status).toBe('succeeded')
    expect(ids).toEqual([1])
    expect(report.rowsQuarantined).toBe(5)
    const reasons = report.errors.map((e) => `${e.record}: ${e.message}`)
    expect(reasons).toEqual([
      '2: email(email): email not-an-email is not an e-mail address',
      '3: range(amount): amount -5 is below 0',
      '4: range(amount): amount 999999 is above 100000 (and 2 more rules)',
      '5: not_null(amount): amount is null',
      '6: unique(id): id 5 appears more than once',
    ])
    expect(Object.fromEntries(quality.rules.map((r) => [r.name, r.failed]))).toEqual({
      'not_null(amount)': 1,
      'email(email)': 1,
      'range(amount)': 2,
      'in_set(country)': 1,
      sku_format: 1,
      'length(name)': 1,
      'unique(id)': 1,
      no_future_sales: 1,
    })
  })

  it('reports per column quality, and fails or warns the run on thresholds', async () => {
    const { report, quality, ids } = await run(`
    thresholds:
      fail: { completeness: { amount: 0.9 } }
      warn: { uniqueness: { id: 1 }, validity: 0.99 }
    rules: [{ not_null: name, severity: warn }]`)
    expect(ids).toEqual([1, 2, 3, 4, 5, 5])
    const amount = quality.columns.find((c) => c.name === 'amount')!
    expect(amount).toMatchObject({ rows: 6, nulls: 1, completeness: 5 / 6, min: -5, max: 999999 })
    expect(amount.mean).toBeCloseTo((10.5 + 20 - 5 + 999999 + 7) / 5)
    const id = quality.columns.find((c) => c.name === 'id')!
    expect(id).toMatchObject({ distinct: 5, distinctExact: true, uniqueness: 5 / 6 })
    expect(quality.columns.find((c) => c.name === 'country')?.top[0]).toEqual({ value: 'DE', count: 4 })
    expect(quality.status).toBe('fail')
    expect(report.status).toBe('failed')
    expect(report.errors.map((e) => `${e.code}: ${e.message}`)).toEqual([
      'quality: completeness of amount is 0.8333, below the fail threshold 0.9',
      'quality_warning: uniqueness of id is 0.8333, below the warn threshold 1',
    ])
  })

  it('drops or fails on error rows as asked, and checks the schema after the transforms', async () => {
    const dropped = await run('{ rules: [{ email: email }], on_error: drop }')
    expect(dropped.report).toMatchObject({ status: 'succeeded', rowsQuarantined: 0, rowsFiltered: 1 })
    expect(dropped.ids).toEqual([1, 3, 4, 5, 5])
    const failed = await run('{ rules: [{ email: email }], on_error: fail }')
    expect(failed.report.status).toBe('failed')
    expect(failed.report.errors[0]?.message).toBe(
      'validate: record 2 breaks email(email): email not-an-email is not an e-mail address',
    )
    const schema = await run('{ schema: { required: [id, customer], types: { amount: float } } }')
    expect(schema.report.status).toBe('failed')
    expect(schema.report.errors[0]?.message).toContain(
      'validate.schema: column customer is missing; column amount is decimal, not float',
    )
  })

  it('keeps empty input and unicode, NaN and huge numbers well-behaved', async () => {
    const empty = await run('{ rules: [{ not_null: id }] }', 'id,email,amount,country,sku,name,sold_at\n')
    expect(empty.report).toMatchObject({ status: 'succeeded', rowsRead: 0 })
    const odd = await run(
      `{ rules: [{ range: amount, max: 1e30 }, { length: name, max: 2 }], thresholds: { fail: { validity: 0.5 } } }`,
      'id,email,amount,country,sku,name,sold_at\n1,a@b.c,99999999999999999999.000001,DE,A,🚀🚀,2025-01-01T00:00:00Z\n2,a@b.c,NaN,DE,A,ab,2025-01-01T00:00:00Z\n',
      'float',
    )
    expect(odd.ids).toEqual([1])
    expect(odd.report.errors[0]?.message).toBe('range(amount): amount is NaN')
  })

  it('refuses rules that do not fit the spec, naming the place', async () => {
    const { parsePipeline } = await import('@outpost/shared')
    const r = parsePipeline(`apiVersion: outpost/v1
kind: Pipeline
metadata: { name: bad }
spec:
  source: { type: csv, path: a.csv }
  validate:
    rules: [{ regex: sku, pattern: "([" }, { expr: "amount >" }, { not_null: a, severity: fatal }]
  sinks: [{ type: file, path: out }]
`)
    expect(r.ok).toBe(false)
    expect(r.errors?.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'spec.validate.rules[0].pattern: not a valid regular expression',
      'spec.validate.rules[1].expr: invalid CEL expression "amount >" at position 9: Unexpected token: EOF',
      'spec.validate.rules[2].severity: expected one of "error", "warn", got "fatal"',
    ])
  })
})
