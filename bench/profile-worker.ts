/**
 * The worker's path alone, in this thread: issue 5's chain (QUALITY_TRANSFORMS + QUALITY_VALIDATE
 * with a CSV file sink) over a CSV file cut into 1 MiB chunks at record boundaries, each chunk
 * through processChunk as a pool thread runs it. Prints time and rows/s per pass (the first pass
 * includes compiling and a cold JIT). Pool threads have 64 MiB semi-spaces (workers/pool.ts);
 * give this thread the same to compare, and --cpu-prof to see where the time goes:
 *
 *   node --max-semi-space-size=64 [--cpu-prof] --import tsx bench/profile-worker.ts [file.csv] [passes] [chain]
 *
 * chain: `quality` (the default, as above), `central` (the central scenario's 7 casts, batches for
 * the control plane), `postgres` (SHAPING_TRANSFORMS into a postgres sink's payload) or
 * `postgres-plain` (no transforms into a postgres sink's payload).
 */
import { readFileSync } from 'node:fs'
import { parsePipeline } from '@outpost/shared'
import { lastRecordBoundary } from '../agent/src/sources/files.js'
import { CompiledCache } from '../agent/src/workers/compiled.js'
import { processChunk } from '../agent/src/workers/process.js'
import { CENTRAL_TRANSFORMS, csvToCentralSpec } from './scenarios/central.js'
import {
  csvToFileSpec,
  csvToPostgresSpec,
  QUALITY_TRANSFORMS,
  QUALITY_VALIDATE,
  SHAPING_TRANSFORMS,
} from './scenarios/outpost.js'

const file = process.argv[2] ?? 'bench/data/bench-100000.csv'
const passes = Number(process.argv[3] ?? 5)
const chain = process.argv[4] ?? 'quality'
const specs: Record<string, string> = {
  quality: csvToFileSpec(file, '/tmp/outpost-profile-out', QUALITY_TRANSFORMS, QUALITY_VALIDATE),
  central: csvToCentralSpec(file, CENTRAL_TRANSFORMS),
  postgres: csvToPostgresSpec(file, 'postgres://127.0.0.1/unused', 'unused', SHAPING_TRANSFORMS),
  'postgres-plain': csvToPostgresSpec(file, 'postgres://127.0.0.1/unused', 'unused', '[]'),
}
if (!specs[chain]) throw new Error(`chain is one of ${Object.keys(specs).join(', ')}`)
const parsed = parsePipeline(specs[chain])
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
const specJson = parsed.value.canonical

// Chunks as the source reads them: about 1 MiB, cut after the last complete record.
const data = readFileSync(file)
const chunks: Uint8Array[] = []
for (let at = 0; at < data.length; ) {
  const piece = data.subarray(at, Math.min(data.length, at + 1024 * 1024))
  const end = at + piece.length < data.length ? lastRecordBoundary(piece, 34, 34) : piece.length
  chunks.push(piece.subarray(0, end))
  at += end
}

for (let pass = 0; pass < passes; pass++) {
  const cache = new CompiledCache()
  let columns: string[] | undefined
  let rows = 0
  let written = 0
  const started = performance.now()
  const cpu = process.cpuUsage()
  for (const [i, bytes] of chunks.entries()) {
    const result = await processChunk(cache, {
      type: 'process',
      pipelineKey: 'bench',
      specJson,
      bytes,
      decodeState: { first: i === 0, ...(columns ? { columns } : {}) },
      meta: {
        agentId: 'agt-bench',
        pipeline: 'bench',
        version: 1,
        runId: 'run-bench',
        nowMs: Date.now(),
        maxBatchBytes: 1 << 20,
        source: file,
      },
    })
    columns ??= (result.decodeState as { columns?: string[] } | undefined)?.columns
    rows += result.rowsRead
    written += (result.sinkPayloads[0]?.length ?? 0) + result.batches.reduce((n, b) => n + b.bytes.length, 0)
  }
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  console.log(
    `pass ${pass + 1}: ${rows} rows in ${seconds.toFixed(2)} s (cpu ${((used.user + used.system) / 1e6).toFixed(2)} s), ${Math.round(rows / seconds / 1000)}k rows/s (${(written / 2 ** 20).toFixed(1)} MiB out)`,
  )
}
