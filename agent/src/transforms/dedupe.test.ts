import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Column, Value } from '@outpost/shared/batch'
import { afterAll, describe, expect, it } from 'vitest'
import { readNdjsonDir } from '../../../test/helpers/ndjson.js'
import { createLogger } from '../log.js'
import { runLocal } from '../runtime/local-run.js'
import { WorkerPool } from '../workers/pool.js'
import { registryTransforms } from './test-chain.js'

const { apply } = registryTransforms
const log = createLogger({ level: 'error', write: () => {} })
const work = mkdtempSync(join(tmpdir(), 'outpost-dedupe-'))
const pool = new WorkerPool({ threads: 1 })
afterAll(async () => {
  await pool.close()
  rmSync(work, { recursive: true, force: true })
})

describe('dedupe in a batch', () => {
  const columns: Column[] = [
    { name: 'id', type: 'int' },
    { name: 'site', type: 'string' },
    { name: 'v', type: 'float' },
  ]
  it('keeps the first row of each key, with nulls, unicode, huge numbers and NaN as keys', () => {
    const rows: Value[][] = [
      [1, 'Zürich', 1],
      [1, 'Zürich', 2],
      [1, 'zürich', 3],
      [null, 'a', 4],
      [null, 'a', 5],
      [2n ** 63n - 1n, '🚀', 6],
      [2n ** 63n - 1n, '🚀', 7],
      [Number.NaN, 'x', 8],
      [Number.NaN, 'x', 9],
    ]
    const out = apply([{ dedupe: { keys: ['id', 'site'] } }], columns, rows)
    expect(out.rows.map((r) => r[2])).toEqual([1, 3, 4, 6, 8])
    expect(out.filtered).toBe(4)
    expect(apply([{ dedupe: { keys: ['id'] } }], columns, []).rows).toEqual([])
    expect(() => apply([{ dedupe: { keys: ['nope'] } }], columns, rows)).toThrow(
      'dedupe: no column "nope"; the columns are id, site, v',
    )
  })
})

let n = 0
async function run(csv: string, window = '7d', chunkBytes?: number, name = 'd') {
  const dir = join(work, name)
  const file = join(dir, `in-${++n}.csv`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(file, csv)
  const out = join(work, `out-${name}`)
  const spec = `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: csv, path: "${dir}/*.csv" }
  transforms: [{ cast: { id: int, v: int } }, { dedupe: { keys: [id], window: ${window} } }]
  sinks: [{ type: file, path: ${out}, format: ndjson }]
`
  const result = await runLocal(spec, {
    log,
    pool,
    stateDir: join(work, `state-${name}`),
    ...(chunkBytes ? { chunkBytes } : {}),
  })
  if (result.kind !== 'ran') throw new Error(JSON.stringify(result.errors))
  const rows = readNdjsonDir<{ id: number; v: number }>(out)
  return { report: result.report, rows }
}

describe('dedupe across chunks and runs', () => {
  it('remembers keys across runs within the window, and only within the run with window: run', async () => {
    const first = await run('id,v\n1,1\n2,2\n2,3\n3,4\n', '7d', undefined, 'across')
    expect(first.report).toMatchObject({ status: 'succeeded', rowsRead: 4, rowsWritten: 3, rowsFiltered: 1 })
    const second = await run('id,v\n3,5\n4,6\n4,7\n', '7d', undefined, 'across')
    expect(second.report).toMatchObject({ rowsWritten: 1, rowsFiltered: 2 })
    expect(second.rows.map((r) => [r.id, r.v]).sort()).toEqual([
      [1, 1],
      [2, 2],
      [3, 4],
      [4, 6],
    ])

    await run('id,v\n1,1\n1,2\n', 'run', undefined, 'per-run')
    const again = await run('id,v\n1,3\n', 'run', undefined, 'per-run')
    expect(again.report).toMatchObject({ rowsWritten: 1, rowsFiltered: 0 })

    await run('id,v\n1,1\n', '300ms', undefined, 'short')
    await new Promise((r) => setTimeout(r, 400))
    const expired = await run('id,v\n1,2\n', '300ms', undefined, 'short')
    expect(expired.report).toMatchObject({ rowsWritten: 1, rowsFiltered: 0 })
  })

  it('drops a key that an earlier chunk of the same run let through, keeping the first row', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `${i % 40},${i}`)
    const { report, rows } = await run(`id,v\n${lines.join('\n')}\n`, '7d', 256, 'chunks')
    expect(report).toMatchObject({ status: 'succeeded', rowsRead: 300, rowsWritten: 40, rowsFiltered: 260 })
    expect(rows.map((r) => [r.id, r.v]).sort((a, b) => a[0]! - b[0]!)).toEqual(
      Array.from({ length: 40 }, (_, i) => [i, i]),
    )
  })
})
