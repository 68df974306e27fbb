// `outpost run --local` through the real worker pool (piscina threads), LMDB state and file sink.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../log.js'
import { runLocal } from './local-run.js'

const dir = mkdtempSync(join(tmpdir(), 'outpost-local-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const log = createLogger({ level: 'error', write: () => {} })

function files(d: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(d, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(join(e.parentPath, e.name))
  return out.sort()
}

const pipeline = (input: string, output: string, format = 'csv') => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: local-test }
spec:
  source: { type: csv, path: ${input} }
  transforms:
    - cast: { n: int }
    - filter: "n % 2 == 0"
  sinks:
    - { type: file, path: ${output}, format: ${format} }
`

describe('runLocal', () => {
  it('runs a pipeline once and reports counts; the output holds exactly the kept rows', async () => {
    const input = join(dir, 'in1')
    mkdirSync(input)
    const lines = ['n,label']
    for (let i = 1; i <= 50_000; i++) lines.push(`${i},"row ${i}"`)
    lines.push('oops,bad')
    writeFileSync(join(input, 'a.csv'), `${lines.join('\n')}\n`)
    const out = join(dir, 'out1')
    const result = await runLocal(pipeline(join(input, '*.csv'), out), { log, threads: 1 })
    expect(result.kind).toBe('ran')
    if (result.kind !== 'ran') return
    expect(result.report).toMatchObject({
      pipeline: 'local-test',
      status: 'succeeded',
      rowsRead: 50_001,
      rowsWritten: 25_000,
      rowsQuarantined: 1,
      rowsFiltered: 25_000,
    })
    expect(result.report.errors[0]).toMatchObject({ code: 'cast', record: 50_001, column: 'n' })
    const written = files(out).flatMap((f) => readFileSync(f, 'utf8').trim().split('\n').slice(1))
    expect(written.length).toBe(25_000)
    expect(new Set(written).size).toBe(25_000)
    expect(written[0]).toBe('2,row 2')
  })

  it('resumes from its cursors with a state directory and reads nothing twice', async () => {
    const input = join(dir, 'in2')
    mkdirSync(input)
    writeFileSync(join(input, 'a.csv'), 'n,label\n2,a\n4,b\n')
    const out = join(dir, 'out2')
    const stateDir = join(dir, 'state2')
    const first = await runLocal(pipeline(join(input, '*.csv'), out, 'ndjson'), { log, stateDir, threads: 1 })
    const second = await runLocal(pipeline(join(input, '*.csv'), out, 'ndjson'), {
      log,
      stateDir,
      threads: 1,
    })
    writeFileSync(join(input, 'b.csv'), 'n,label\n6,c\n')
    const third = await runLocal(pipeline(join(input, '*.csv'), out, 'ndjson'), { log, stateDir, threads: 1 })
    expect([first, second, third].map((r) => (r.kind === 'ran' ? r.report.rowsWritten : -1))).toEqual([
      2, 0, 1,
    ])
    const rows = files(out).flatMap((f) => readFileSync(f, 'utf8').trim().split('\n'))
    expect(rows.map((r) => (JSON.parse(r) as { n: number }).n).sort()).toEqual([2, 4, 6])
  })

  it('returns spec errors without running, and a failed run for a missing file', async () => {
    const invalid = await runLocal(
      'apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: x }\nspec: {}\n',
      { log },
    )
    expect(invalid).toMatchObject({
      kind: 'invalid',
      errors: expect.arrayContaining([expect.objectContaining({ path: 'spec.source' })]),
    })
    const missing = await runLocal(pipeline(join(dir, 'nope.csv'), join(dir, 'out3')), { log, threads: 1 })
    expect(missing).toMatchObject({
      kind: 'ran',
      report: {
        status: 'failed',
        errors: [expect.objectContaining({ message: expect.stringContaining('file not found') })],
      },
    })
  })
})
