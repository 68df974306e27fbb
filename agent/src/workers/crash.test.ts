import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readNdjsonDir } from '../../../test/helpers/ndjson.js'
import { createLogger } from '../log.js'
import { runLocal } from '../runtime/local-run.js'
import { WorkerPool } from './pool.js'

const work = mkdtempSync(join(tmpdir(), 'outpost-crash-'))
const crashFile = join(work, 'crash-now')
afterAll(() => {
  delete process.env.OUTPOST_FAILPOINT_WORKER_EXIT
  rmSync(work, { recursive: true, force: true })
})

describe('a worker thread that dies', () => {
  it('has its chunk processed again by a new thread; the run is marked and loses nothing', async () => {
    // Threads read the failpoint when they start: set it before the pool makes one.
    process.env.OUTPOST_FAILPOINT_WORKER_EXIT = crashFile
    writeFileSync(crashFile, '')
    const pool = new WorkerPool({ threads: 1 })
    const file = join(work, 'in.csv')
    writeFileSync(file, `id,v\n${Array.from({ length: 500 }, (_, i) => `${i},${i * 2}`).join('\n')}\n`)
    const out = join(work, 'out')
    try {
      const result = await runLocal(
        `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: crash }
spec:
  source: { type: csv, path: ${file} }
  transforms: [{ cast: { id: int, v: int } }]
  sinks: [{ type: file, path: ${out}, format: ndjson }]
`,
        { log: createLogger({ level: 'error', write: () => {} }), pool, chunkBytes: 512 },
      )
      if (result.kind !== 'ran') throw new Error('invalid spec')
      expect(existsSync(crashFile)).toBe(false)
      expect(result.report).toMatchObject({ status: 'succeeded', rowsRead: 500, rowsWritten: 500 })
      expect(result.report.errors).toEqual([
        expect.objectContaining({
          code: 'worker_crashed',
          message: expect.stringContaining('processed again'),
        }),
      ])
      const ids = readNdjsonDir<{ id: number }>(out).map((r) => r.id)
      expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i))
    } finally {
      await pool.close()
    }
  })
})
