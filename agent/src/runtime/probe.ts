/**
 * Probes run at the site, where only the agent can reach the data: test the connection of a
 * source or sink, preview the first rows after the transforms, or infer the schema. Secrets are
 * resolved here and never appear in what goes back.
 */
import { InvalidSpecError, type Pipeline, validatePipeline } from '@outpost/shared'
import type { FileRoots } from '../file-roots.js'
import type { Logger } from '../log.js'
import { sinks, sources } from '../registry.js'
import type { SecretResolver } from '../secrets.js'
import type { SinkImpl } from '../sinks/types.js'
import type { SourceImpl } from '../sources/types.js'
import type { WorkerPool } from '../workers/pool.js'
import type { RowLimits } from '../workers/row-limits.js'
import { DEFAULT_MAX_BATCH_BYTES } from './run.js'

export type ProbeKindName = 'test_connection' | 'preview' | 'schema'

export interface ProbeDependencies {
  agentId: string
  pool: WorkerPool
  secrets: SecretResolver
  log: Logger
  limits?: RowLimits
  fileRoots?: FileRoots | undefined
}

export interface ProbeResult {
  ok: boolean
  error?: string
  result?: unknown
}

const PROBE_TIMEOUT_MS = 60_000

export async function runProbe(
  kind: ProbeKindName,
  specJson: string,
  target: string,
  limit: number,
  deps: ProbeDependencies,
): Promise<ProbeResult> {
  let pipeline: Pipeline
  let canonical: string
  try {
    const parsed = validatePipeline(JSON.parse(specJson))
    if (!parsed.ok) throw new InvalidSpecError(parsed.errors)
    pipeline = parsed.value.pipeline
    canonical = parsed.value.canonical
  } catch (error) {
    return { ok: false, error: (error as Error).message }
  }
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS)
  try {
    const result = await probe(
      kind,
      pipeline,
      canonical,
      target || 'source',
      Math.max(1, Math.min(limit || 20, 1000)),
      deps,
      signal,
    )
    return { ok: true, result: JSON.parse(deps.secrets.redact(JSON.stringify(result))) as unknown }
  } catch (error) {
    return { ok: false, error: deps.secrets.redact((error as Error).message) }
  }
}

async function probe(
  kind: ProbeKindName,
  pipeline: Pipeline,
  canonical: string,
  target: string,
  limit: number,
  deps: ProbeDependencies,
  signal: AbortSignal,
): Promise<unknown> {
  const sinkMatch = /^sinks\[(\d+)\]$/.exec(target)
  if (sinkMatch) {
    if (kind !== 'test_connection')
      throw new Error(`${kind} works on the source; for sinks, test the connection`)
    const options = pipeline.spec.sinks[Number(sinkMatch[1])]
    if (!options) throw new Error(`the pipeline has no ${target}`)
    const impl = sinks[options.type] as SinkImpl<unknown>
    const context = {
      agentId: deps.agentId,
      pipeline: pipeline.metadata.name,
      log: deps.log,
      secrets: deps.secrets,
      fileRoots: deps.fileRoots,
    }
    const message = impl.check
      ? await impl.check(deps.secrets.resolveDeep(options), context)
      : `${options.type} sinks have nothing to connect to from the agent`
    return { target, message }
  }
  if (target !== 'source') throw new Error(`target must be "source" or "sinks[N]", got "${target}"`)
  const options = pipeline.spec.source
  const impl = sources[options.type] as SourceImpl<unknown>
  const resolved = deps.secrets.resolveDeep(options)
  const context = {
    pipeline: pipeline.metadata.name,
    cursors: { get: () => undefined },
    log: deps.log,
    chunkBytes: 256 * 1024,
    fileRoots: deps.fileRoots,
  }
  if (kind === 'test_connection' && impl.check)
    return { target, message: await impl.check(resolved, context) }

  // Read from the beginning (no cursor), through the worker pool and the transforms.
  const reader = impl.open(resolved, context)
  const rows: unknown[][] = []
  const quarantined: { record: number; reason: string }[] = []
  let columns: unknown = []
  let rowsRead = 0
  let chunks = 0
  try {
    for await (const chunk of reader.chunks(signal)) {
      const result = await deps.pool.process({
        type: 'process',
        pipelineKey: `probe:${pipeline.metadata.name}:${Date.now()}`,
        specJson: canonical.includes('${secret:')
          ? JSON.stringify(deps.secrets.resolveDeep(JSON.parse(canonical)))
          : canonical,
        bytes: chunk.bytes,
        decodeState: chunk.decodeState,
        meta: {
          agentId: deps.agentId,
          pipeline: pipeline.metadata.name,
          version: 0,
          runId: 'probe',
          nowMs: Date.now(),
          maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
          preview: limit - rows.length,
          ...(deps.limits ? { limits: deps.limits } : {}),
          ...(deps.fileRoots ? { fileRoots: deps.fileRoots.dirs } : {}),
        },
      })
      reader.observe?.(chunk, {
        records: result.recordCount,
        ...(result.decodeState !== undefined ? { state: result.decodeState } : {}),
      })
      columns = result.columns
      rowsRead += result.rowsRead
      rows.push(...(result.preview ?? []))
      quarantined.push(...result.quarantined.map((q) => ({ record: q.record + 1, reason: q.reason })))
      chunks++
      if (kind === 'test_connection')
        return { target, message: `read ${chunk.bytesRead} bytes from ${chunk.label}` }
      if (rows.length >= limit || chunks >= 20) break
    }
  } finally {
    await reader.close()
  }
  if (kind === 'test_connection')
    return { target, message: 'connected; the source has nothing to read right now' }
  if (kind === 'schema') return { columns }
  return { columns, rows: rows.slice(0, limit), rowsRead, quarantined: quarantined.slice(0, limit) }
}
