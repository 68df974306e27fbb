// Property: dedupe in front of an upsert is idempotent under replay. However the rows are split
// into files and chunks, and whichever files the source delivers again later, the table ends up
// with one row per key — the first one ever read — and delivering again changes nothing.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@outpost/agent'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLocal } from '../../agent/src/runtime/local-run.js'
import { WorkerPool } from '../../agent/src/workers/pool.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'

const log = createLogger({ level: 'error', write: () => {} })

describe('dedupe + upsert', () => {
  let db: TestDatabase
  let pool: WorkerPool
  const work = mkdtempSync(join(tmpdir(), 'outpost-prop-'))
  beforeAll(async () => {
    db = await createDatabase()
    pool = new WorkerPool({ threads: 1 })
  })
  afterAll(async () => {
    await pool?.close()
    await db?.drop()
    rmSync(work, { recursive: true, force: true })
  })

  it('lands the first row of every key exactly once, however the data is split and redelivered', async () => {
    let example = 0
    await fc.assert(
      fc.asyncProperty(
        // Rows as (key, value); keys from a small domain so they repeat.
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: -1e6, max: 1e6 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 32, max: 512 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        async (rows, files, chunkBytes, redeliver) => {
          const name = `p${++example}`
          const dir = join(work, name)
          mkdirSync(dir)
          const spec = `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: csv, path: "${dir}/*.csv" }
  transforms: [{ cast: { k: int, v: int } }, { dedupe: { keys: [k] } }]
  sinks: [{ type: postgres, url: "${db.url}", table: ${name}, mode: upsert, keys: [k] }]
`
          const runOnce = async () => {
            const r = await runLocal(spec, { log, pool, chunkBytes, stateDir: join(work, `state-${name}`) })
            if (r.kind !== 'ran' || r.report.status !== 'succeeded') throw new Error(JSON.stringify(r))
          }
          // The rows arrive in `files` files, one run each.
          const size = Math.ceil(rows.length / files)
          const paths: string[] = []
          for (let f = 0; f * size < rows.length; f++) {
            const path = join(dir, `f${f}.csv`)
            const part = rows.slice(f * size, (f + 1) * size)
            writeFileSync(path, `k,v\n${part.map(([k, v]) => `${k},${v}`).join('\n')}\n`)
            paths.push(path)
            await runOnce()
          }
          const first = new Map<number, number>()
          for (const [k, v] of rows) if (!first.has(k)) first.set(k, v)
          const expected = [...first.entries()].sort((a, b) => a[0] - b[0])
          const table = async () =>
            (await db.query<{ k: string; v: string }>(`SELECT k, v FROM ${name} ORDER BY k`)).map((r) => [
              Number(r.k),
              Number(r.v),
            ])
          expect(await table()).toEqual(expected)
          // The source delivers some files again (a re-dropped file is a new file to it).
          for (const [i, pick] of redeliver.entries()) {
            copyFileSync(paths[pick % paths.length]!, join(dir, `redelivered-${i}.csv`))
            await runOnce()
          }
          expect(await table()).toEqual(expected)
        },
      ),
      { numRuns: 15 },
    )
  })
})
