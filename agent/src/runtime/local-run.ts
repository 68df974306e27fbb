/**
 * `outpost run pipeline.yaml --local`: one run on this machine with no control plane, reported as
 * one JSON object. State (cursors, outbox) lives in a temporary directory unless one is given,
 * so by default every run starts from scratch.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ParsedPipeline, parsePipeline, type SpecError, serializeError } from '@outpost/shared'
import type { Logger } from '../log.js'
import { Outbox, sinkLane } from '../outbox/outbox.js'
import { SinkDelivery } from '../outbox/sink-delivery.js'
import { sinks } from '../registry.js'
import { SecretResolver } from '../secrets.js'
import { AgentState } from '../state/store.js'
import { AgentMetrics } from '../telemetry/metrics.js'
import type { QualityReport } from '../validate/profile.js'
import { WorkerPool } from '../workers/pool.js'
import { specHash, toRunnable } from './pipeline.js'
import { executeRun, type RunOutcome } from './run.js'

export interface LocalRunReport {
  pipeline: string
  status: 'succeeded' | 'failed'
  rowsRead: number
  rowsWritten: number
  rowsQuarantined: number
  rowsFiltered: number
  durationMs: number
  errors: RunOutcome['errors']
  errorsTotal: number
  /** With a validate section: the run's quality report. */
  quality?: QualityReport
}

export type LocalRunResult =
  | { kind: 'invalid'; errors: SpecError[] }
  | { kind: 'ran'; report: LocalRunReport }

export interface LocalRunOptions {
  stateDir?: string
  threads?: number
  log: Logger
  /** How long to wait for local sinks to take the batches. */
  deliveryTimeoutMs?: number
  secrets?: SecretResolver
  /** Target chunk size in bytes (default 1 MiB). */
  chunkBytes?: number
  /** A worker pool to use (and leave open); by default the run starts and closes its own. */
  pool?: WorkerPool
}

export async function runLocal(text: string, options: LocalRunOptions): Promise<LocalRunResult> {
  const parsed = parsePipeline(text)
  if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors }
  const central = parsed.value.pipeline.spec.sinks.findIndex((s) => sinks[s.type].delivery === 'central')
  if (central >= 0) {
    return {
      kind: 'invalid',
      errors: [
        {
          path: `spec.sinks[${central}]`,
          message: 'a central sink needs a control plane; it cannot run with --local',
        },
      ],
    }
  }
  const temporary = options.stateDir === undefined
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'outpost-local-'))
  const state = AgentState.open(stateDir)
  const pool =
    options.pool ?? new WorkerPool(options.threads !== undefined ? { threads: options.threads } : {})
  try {
    return { kind: 'ran', report: await runWith(parsed.value, state, pool, options) }
  } finally {
    if (!options.pool) await pool.close()
    await state.close()
    if (temporary) rmSync(stateDir, { recursive: true, force: true })
  }
}

async function runWith(
  parsed: ParsedPipeline,
  state: AgentState,
  pool: WorkerPool,
  options: LocalRunOptions,
): Promise<LocalRunReport> {
  const name = parsed.pipeline.metadata.name
  const stored = { name, version: 0, hash: specHash(parsed.canonical), specJson: parsed.canonical }
  await state.setDesired({ revision: 0, pipelines: [stored], receivedAt: Date.now() })
  const runnable = toRunnable(stored)
  if ('error' in runnable) throw new Error(runnable.error)
  const outbox = new Outbox(state)
  const secrets = options.secrets ?? new SecretResolver()
  const delivery = new SinkDelivery({ agentId: 'local', state, outbox, log: options.log, secrets })
  delivery.start()
  const outcome = await executeRun(
    runnable,
    'local',
    {
      agentId: 'local',
      state,
      outbox,
      pool,
      metrics: new AgentMetrics(() => 'local'),
      log: options.log,
      reportRuns: false,
      secrets,
      ...(options.chunkBytes ? { chunkBytes: options.chunkBytes } : {}),
    },
    new AbortController().signal,
  )
  let status: LocalRunReport['status'] = outcome.status === 'succeeded' ? 'succeeded' : 'failed'
  const errors = [...outcome.errors]
  let errorsTotal = outcome.errorsTotal
  try {
    await delivery.drain(options.deliveryTimeoutMs ?? 60_000, `sink:${name}:`)
  } catch (error) {
    status = 'failed'
    errors.push({
      stage: 'load',
      code: 'sink_failed',
      message: (error as Error).message,
      retryable: serializeError(error).retryable,
    })
    errorsTotal++
  } finally {
    await delivery.stop()
  }
  // With several sinks, a row counts as written once every sink has it.
  const delivered = parsed.pipeline.spec.sinks.map(
    (_, i) => delivery.deliveredRows.get(sinkLane(name, i)) ?? 0,
  )
  return {
    pipeline: name,
    status,
    rowsRead: outcome.counts.rowsRead,
    rowsWritten: Math.min(...delivered),
    rowsQuarantined: outcome.counts.rowsQuarantined,
    rowsFiltered: outcome.counts.rowsFiltered,
    durationMs: Date.now() - outcome.startedAt,
    errors,
    errorsTotal,
    ...(outcome.quality ? { quality: outcome.quality } : {}),
  }
}
