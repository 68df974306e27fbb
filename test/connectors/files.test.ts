// File sources and sinks on real files of every format: CSV (dialects, latin1, BOM, gzip), NDJSON,
// JSON, Parquet and Excel in; CSV, NDJSON and Parquet out. Unicode, nulls and extreme values
// round-trip; bad records are quarantined with the reason.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { createLogger } from '@outpost/agent'
import { encodeParquet } from '@outpost/agent/db'
import { parquetReadObjects } from 'hyparquet'
import { afterAll, describe, expect, it } from 'vitest'
import { runLocal } from '../../agent/src/runtime/local-run.js'
import { xlsx } from '../helpers/xlsx.js'

const log = createLogger({ level: 'error', write: () => {} })
const work = mkdtempSync(join(tmpdir(), 'outpost-files-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

let n = 0
async function load(source: string, transforms = '[]', format = 'ndjson') {
  const out = join(work, `out-${++n}`)
  const spec = `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: files-${n} }
spec:
  source: ${source}
  transforms: ${transforms}
  sinks: [{ type: file, path: ${out}, format: ${format} }]
`
  const result = await runLocal(spec, { log, threads: 1 })
  if (result.kind !== 'ran') throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('; '))
  if (!existsSync(out)) return { report: result.report, files: [] as string[] }
  const files = readdirSync(out, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort()
  return { report: result.report, files }
}

function ndjsonRows(files: string[]): Record<string, unknown>[] {
  return files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  )
}

const EXTREMES = [
  {
    id: 1,
    name: 'Zoë 🚀 "quoted", with\nnewline',
    amount: '99999999999999999999.000001',
    big: '9223372036854775807',
    at: '9999-12-31T23:59:59.999999Z',
  },
  { id: 2, name: '', amount: '-0.5', big: '-9223372036854775808', at: '1970-01-01T00:00:00Z' },
  { id: 3, name: null, amount: null, big: null, at: null },
]

describe('file formats', () => {
  it('CSV with another dialect, latin1, a header given by name, and gzip', async () => {
    const dir = join(work, 'csv')
    mkdirSync(dir)
    writeFileSync(join(dir, 'latin.csv'), Buffer.from('1;Müller;"a;b"\n2;Ærø;\'x\'\n', 'latin1'))
    const latin = await load(
      `{ type: csv, path: ${join(dir, 'latin.csv')}, header: false, columns: [id, name, note], delimiter: ";", encoding: latin1 }`,
    )
    expect(ndjsonRows(latin.files)).toEqual([
      { id: '1', name: 'Müller', note: 'a;b' },
      { id: '2', name: 'Ærø', note: "'x'" },
    ])
    const lines = ['\ufeffid,text']
    for (let i = 0; i < 20_000; i++) lines.push(`${i},"line ${i}, ""quoted"""`)
    writeFileSync(join(dir, 'big.csv.gz'), gzipSync(`${lines.join('\n')}\n`))
    const gz = await load(`{ type: csv, path: ${join(dir, 'big.csv.gz')} }`, '[{ cast: { id: int } }]')
    expect(gz.report).toMatchObject({ status: 'succeeded', rowsRead: 20_000, rowsWritten: 20_000 })
    const rows = ndjsonRows(gz.files)
    expect(rows[0]).toEqual({ id: 0, text: 'line 0, "quoted"' })
    expect(new Set(rows.map((r) => r.id)).size).toBe(20_000)
  })

  it('NDJSON: types from the values, bad lines quarantined, extremes intact', async () => {
    const dir = join(work, 'ndjson')
    mkdirSync(dir)
    const body = [
      ...EXTREMES.map((r) => JSON.stringify(r)),
      '{not json',
      '[1,2]',
      JSON.stringify({ id: 4, nested: { a: [1] }, flag: true }),
    ].join('\n')
    writeFileSync(join(dir, 'a.ndjson'), `${body}\n`)
    const result = await load(
      `{ type: ndjson, path: ${join(dir, '*.ndjson')} }`,
      '[{ cast: { amount: decimal, big: int, at: timestamp } }]',
    )
    expect(result.report).toMatchObject({ rowsRead: 6, rowsWritten: 4, rowsQuarantined: 2 })
    expect(result.report.errors.map((e) => e.message)).toEqual([
      expect.stringContaining('invalid JSON'),
      'expected a JSON object, got an array',
    ])
    const rows = ndjsonRows(result.files)
    expect(rows[0]).toMatchObject({
      id: 1,
      name: EXTREMES[0]!.name,
      amount: '99999999999999999999.000001',
      big: '9223372036854775807',
      at: '9999-12-31T23:59:59.999999Z',
    })
    expect(rows[1]).toMatchObject({ name: '', big: '-9223372036854775808', at: '1970-01-01T00:00:00Z' })
    expect(rows[2]).toMatchObject({ name: null, amount: null })
    expect(rows[3]).toMatchObject({ id: 4, nested: { a: [1] }, flag: true })
  })

  it('JSON: the array at records_path, and a clear error for the wrong shape', async () => {
    const dir = join(work, 'json')
    mkdirSync(dir)
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ data: { items: EXTREMES } }))
    const ok = await load(`{ type: json, path: ${join(dir, 'a.json')}, records_path: data.items }`)
    expect(ndjsonRows(ok.files).map((r) => r.id)).toEqual([1, 2, 3])
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ data: { items: 'nope' } }))
    const bad = await load(`{ type: json, path: ${join(dir, 'b.json')}, records_path: data.items }`)
    expect(bad.report.status).toBe('failed')
    expect(bad.report.errors[0]?.message).toContain(
      'records_path data.items is string, not an array of records',
    )
  })

  it('Parquet in and out with exact types', async () => {
    const dir = join(work, 'parquet')
    mkdirSync(dir)
    const columns = [
      { name: 'id', type: 'int' as const },
      { name: 'name', type: 'string' as const },
      { name: 'at', type: 'timestamp' as const },
      { name: 'day', type: 'date' as const },
      { name: 'ok', type: 'bool' as const },
      { name: 'score', type: 'float' as const },
    ]
    const rows = [
      [9007199254740993n, 'ü', 1_700_000_000_123_456, 19_000, true, 1.5],
      [2, null, null, null, null, null],
    ]
    writeFileSync(join(dir, 'a.parquet'), new Uint8Array(encodeParquet(columns, rows)))
    const result = await load(`{ type: parquet, path: ${join(dir, 'a.parquet')} }`, '[]', 'parquet')
    expect(result.report).toMatchObject({ status: 'succeeded', rowsRead: 2, rowsWritten: 2 })
    const buffer = readFileSync(result.files[0]!)
    const back = await parquetReadObjects({
      file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer,
      parsers: { timestampFromMicroseconds: (x: bigint) => x },
    })
    expect(back).toEqual([
      {
        id: 9007199254740993n,
        name: 'ü',
        at: 1_700_000_000_123_456n,
        day: new Date(19_000 * 86_400_000),
        ok: true,
        score: 1.5,
      },
      { id: 2n, name: null, at: null, day: null, ok: null, score: null },
    ])
  })

  it('Excel: a sheet by name, the first row as the header', async () => {
    const dir = join(work, 'excel')
    mkdirSync(dir)
    writeFileSync(
      join(dir, 'book.xlsx'),
      xlsx({
        Summary: [['x'], ['1']],
        Orders: [
          ['id', 'customer', 'amount', 'paid'],
          [1, 'Zoë', 12.5, true],
          [2, 'Bob', -3, false],
        ],
      }),
    )
    const result = await load(
      `{ type: excel, path: ${join(dir, 'book.xlsx')}, sheet: Orders }`,
      '[{ cast: { id: int } }]',
    )
    expect(ndjsonRows(result.files)).toEqual([
      { id: 1, customer: 'Zoë', amount: 12.5, paid: true },
      { id: 2, customer: 'Bob', amount: -3, paid: false },
    ])
    const missing = await load(`{ type: excel, path: ${join(dir, 'book.xlsx')}, sheet: Nope }`)
    expect(missing.report.errors[0]?.message).toContain('sheet "Nope" not found')
  })
})
