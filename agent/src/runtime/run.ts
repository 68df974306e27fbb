/**
 * One run of a pipeline: read the source in chunks, decode and transform them in the worker pool
 * (a few chunks in flight), and commit each chunk's batch, quarantined rows and source cursor in
 * one LMDB transaction, in source order. A crash before a commit re-reads that chunk; after it,
 * the chunk is never read again.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import { isRetryable, METRICS, serializeError, subjects } from '@outpost/shared'
import {
  DataBatchSchema,
  type RunCounts,
  RunCountsSchema,
  type RunError,
  RunErrorSchema,
  RunEventSchema,
  RunStatus,
} from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import type { FileRoots } from '../file-roots.js'
import type { Logger } from '../log.js'
import type { OutboxBudget } from '../outbox/budget.js'
import { NATS_LANE, type Outbox, type PendingAppend, sinkLane } from '../outbox/outbox.js'
import { encodeReplayChunk } from '../quarantine/codec.js'
import { parseReplayTrigger, quarantineReader } from '../quarantine/quarantine.js'
import { sinks, sources } from '../registry.js'
import type { SecretResolver } from '../secrets.js'
import type { SinkImpl } from '../sinks/types.js'
import type { SourceChunk, SourceReader } from '../sources/types.js'
import type { AgentState, CursorKey, QuarantineEntry } from '../state/store.js'
import type { AgentMetrics } from '../telemetry/metrics.js'
import { type AggregatePartial, finish, mergePartials } from '../transforms/aggregate-state.js'
import { describeBreach, type QualityReport, RunQuality } from '../validate/profile.js'
import type { ProcessResult } from '../workers/messages.js'
import type { WorkerPool } from '../workers/pool.js'
import { batchId } from '../workers/process.js'
import type { RowLimits } from '../workers/row-limits.js'
import { DedupeKeys, dedupeWindow } from './dedupe-window.js'
import { newRunId } from './ids.js'
import type { RunnablePipeline } from './pipeline.js'

export type RunStatusName = 'succeeded' | 'failed' | 'cancelled'

export interface RunOutcome {
  runId: string
  pipeline: string
  version: number
  trigger: string
  status: RunStatusName
  startedAt: number
  finishedAt: number
  counts: {
    rowsRead: number
    rowsWritten: number
    rowsQuarantined: number
    rowsFiltered: number
    rowsDropped: number
    bytesRead: number
    batches: number
  }
  errors: {
    stage: string
    code: string
    message: string
    record?: number
    column?: string
    source?: string
    /** For errors that ended the run: whether trying again later may succeed. */
    retryable?: boolean
  }[]
  errorsTotal: number
  /** Batch profiles of the committed chunks, merged (pipelines with a validate section). */
  profile: RunQuality
  /** The run's quality report, judged against the thresholds at its end. */
  quality?: QualityReport
}

export interface RunDependencies {
  agentId: string
  state: AgentState
  outbox: Outbox
  pool: WorkerPool
  metrics: AgentMetrics
  log: Logger
  /** Target chunk size in bytes (default 1 MiB). */
  chunkBytes?: number
  /** Chunks in the worker pool at once. */
  window?: number
  /** Whether run events go to the control plane (not for `outpost run --local`). */
  reportRuns: boolean
  /** The outbox's disk budget; absent means unlimited. */
  budget?: OutboxBudget
  /** Resolves ${secret:NAME} in source options. */
  secrets: SecretResolver
  /** Largest DataBatch for central sinks, in bytes. */
  maxBatchBytes?: number
  /** Limits on the rows sources decode (default DEFAULT_ROW_LIMITS). */
  limits?: RowLimits
  /** The agent's file_roots, when set. */
  fileRoots?: FileRoots | undefined
}

/**
 * Below NATS's default max_payload of 1 MiB, with 16 KiB for the batch id and the headers. A 1 MiB
 * chunk of typical CSV encodes to 0.93-0.97 MiB: under the 900 KiB this was, most chunks were
 * encoded whole, found too big, and encoded again as three batches.
 */
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024 - 16 * 1024

/**
 * Appends batch_id and seq to a DataBatch encoded in the worker: protobuf merges concatenated
 * messages, so this sets the two fields without decoding the batch again.
 */
export function withIdentity(bytes: Uint8Array, id: string, seq: number): Uint8Array {
  const identity = toBinary(DataBatchSchema, create(DataBatchSchema, { batchId: id, seq: BigInt(seq) }))
  const out = new Uint8Array(bytes.length + identity.length)
  out.set(bytes, 0)
  out.set(identity, bytes.length)
  return out
}

const MAX_ERRORS = 20
/** Quarantine rules of the agent's limits on rows (workers/row-limits.ts) and batches. */
const LIMIT_RULES = new Set(['max_row_bytes', 'max_field_bytes', 'max_columns', 'max_batch_bytes'])

function stageOf(code: string): string {
  if (code === 'transform_config') return 'transform'
  if (code === 'sink_failed') return 'load'
  if (code === 'source_failed') return 'extract'
  return 'run'
}

/** Why a pipeline's quarantine cannot be replayed, if it cannot. */
export function replayRefusal(p: RunnablePipeline): string | undefined {
  const index = p.pipeline.spec.sinks.findIndex((s) => (sinks[s.type] as SinkImpl<unknown>).finishesRuns?.(s))
  if (index < 0) return undefined
  return `pipeline ${p.name} cannot replay its quarantine: sinks[${index}] replaces its table on every run, so a replay would leave only the replayed rows; fix the spec and run the pipeline again instead`
}

export async function executeRun(
  p: RunnablePipeline,
  trigger: string,
  deps: RunDependencies,
  signal: AbortSignal,
): Promise<RunOutcome> {
  const startedAt = Date.now()
  const runId = newRunId(startedAt)
  // A replay keeps its filter in the trigger; the run reports the trigger as plain "replay".
  const replay = parseReplayTrigger(trigger)
  const log = deps.log.child({ pipeline: p.name, run: runId })
  const outcome: RunOutcome = {
    runId,
    pipeline: p.name,
    version: p.version,
    trigger: replay ? 'replay' : trigger,
    status: 'succeeded',
    startedAt,
    finishedAt: startedAt,
    counts: {
      rowsRead: 0,
      rowsWritten: 0,
      rowsQuarantined: 0,
      rowsFiltered: 0,
      rowsDropped: 0,
      bytesRead: 0,
      batches: 0,
    },
    errors: [],
    errorsTotal: 0,
    profile: new RunQuality(),
  }
  const addError = (e: RunOutcome['errors'][number]) => {
    outcome.errorsTotal++
    // Errors travel to the control plane: never with a resolved secret in them.
    if (outcome.errors.length < MAX_ERRORS)
      outcome.errors.push({ ...e, message: deps.secrets.redact(e.message) })
  }
  if (deps.reportRuns) await deps.outbox.append([runEventEntry(deps.agentId, outcome, RunStatus.RUNNING)])
  log.info('run started', { trigger: outcome.trigger, version: p.version })

  const timeout = AbortSignal.timeout(p.pipeline.spec.timeout)
  const runSignal = AbortSignal.any([signal, timeout])
  const { attempts, backoff } = p.pipeline.spec.retry
  let seq = 0
  const refusal = replay ? replayRefusal(p) : undefined
  if (refusal) {
    outcome.status = 'failed'
    addError({ stage: 'run', code: 'replay_refused', message: refusal, retryable: false })
  }
  for (let attempt = 1; !refusal; attempt++) {
    try {
      await extract(p, runId, startedAt, deps, runSignal, outcome, addError, () => ++seq, log, replay)
      if (runSignal.aborted) throw runSignal.reason
      break
    } catch (error) {
      if (runSignal.aborted) {
        const byTimeout = timeout.aborted && !signal.aborted
        outcome.status = byTimeout ? 'failed' : 'cancelled'
        const message = byTimeout
          ? `run exceeded its timeout of ${p.pipeline.spec.timeout} ms`
          : 'run interrupted (agent stopping); it resumes from its checkpoint'
        addError({ stage: 'run', code: byTimeout ? 'timeout' : 'cancelled', message })
        break
      }
      const serialized = serializeError(error)
      const retry = isRetryable(error) || serialized.retryable
      if (retry && attempt < attempts) {
        const delay = backoff * 2 ** (attempt - 1)
        log.warn('run attempt failed; retrying', { attempt, delayMs: delay, error: serialized.message })
        try {
          await sleep(delay, runSignal)
        } catch {
          // Aborted while waiting: handled by the next loop iteration's check.
        }
        if (runSignal.aborted) {
          outcome.status = signal.aborted ? 'cancelled' : 'failed'
          addError({ stage: 'run', code: serialized.code, message: serialized.message, retryable: retry })
          break
        }
        continue
      }
      outcome.status = 'failed'
      addError({
        stage: stageOf(serialized.code),
        code: serialized.code,
        message: serialized.message,
        retryable: retry,
      })
      break
    }
  }
  const validate = p.pipeline.spec.validate
  if (validate && outcome.status === 'succeeded') {
    const quality = outcome.profile.report(validate)
    outcome.quality = quality
    for (const breach of quality.breaches) {
      const failing = breach.level === 'fail'
      if (failing) outcome.status = 'failed'
      addError({
        stage: 'validate',
        code: failing ? 'quality' : 'quality_warning',
        message: describeBreach(breach),
        column: breach.column,
        retryable: false,
      })
    }
  }
  outcome.finishedAt = Date.now()
  // Sinks that act at the end of a run (replace swaps in what it staged) hear about it in order,
  // after the run's last batch.
  const ends: PendingAppend[] = []
  p.pipeline.spec.sinks.forEach((sink, index) => {
    if (!(sinks[sink.type] as SinkImpl<unknown>).finishesRuns?.(sink)) return
    ends.push({
      lane: sinkLane(p.name, index),
      header: {
        id: `${deps.agentId}/${p.name}/${runId}/end`,
        kind: 'sink-end',
        createdAt: Date.now(),
        pipeline: p.name,
        version: p.version,
        sink: index,
        succeeded: outcome.status === 'succeeded',
      },
      payload: new Uint8Array(0),
    })
  })
  if (ends.length > 0) await deps.outbox.append(ends)
  deps.metrics.inc(METRICS.runsFinished, { pipeline: p.name, status: outcome.status })
  deps.metrics.observe(
    METRICS.runDuration,
    { pipeline: p.name, status: outcome.status },
    (outcome.finishedAt - startedAt) / 1000,
  )
  if (deps.reportRuns) {
    const status = {
      succeeded: RunStatus.SUCCEEDED,
      failed: RunStatus.FAILED,
      cancelled: RunStatus.CANCELLED,
    }[outcome.status]
    await deps.outbox.append([runEventEntry(deps.agentId, outcome, status)])
  }
  const level = outcome.status === 'failed' ? 'error' : 'info'
  log[level]('run finished', {
    status: outcome.status,
    durationMs: outcome.finishedAt - startedAt,
    ...outcome.counts,
    ...(outcome.errors.length > 0 ? { firstError: outcome.errors[0]?.message } : {}),
  })
  return outcome
}

async function extract(
  p: RunnablePipeline,
  runId: string,
  startedAt: number,
  deps: RunDependencies,
  signal: AbortSignal,
  outcome: RunOutcome,
  addError: (e: RunOutcome['errors'][number]) => void,
  nextSeq: () => number,
  log: ReturnType<Logger['child']>,
  replay: { runId?: string } | undefined,
): Promise<void> {
  const source = sources[p.pipeline.spec.source.type]
  const reader: SourceReader = replay
    ? quarantineReader(deps.state, p.name, replay, runId)
    : source.open(deps.secrets.resolveDeep(p.pipeline.spec.source), {
        pipeline: p.name,
        cursors: { get: (key) => deps.state.cursors.get([p.name, ...key]) },
        log,
        chunkBytes: deps.chunkBytes ?? 1024 * 1024,
        fileRoots: deps.fileRoots,
        skipped: (skip) => {
          addError({ stage: 'extract', code: skip.code, message: skip.reason, source: skip.source })
          log.warn('input left out', { source: skip.source, reason: skip.reason })
        },
      })
  // Workers see the spec with its secrets resolved (a mask salt); it never leaves this process.
  const workerSpec = p.specJson.includes('${secret:')
    ? JSON.stringify(deps.secrets.resolveDeep(JSON.parse(p.specJson)))
    : p.specJson
  const recordCounts = new Map<string, number>()
  let quarantineSeq = 0
  let partialSeq = 0
  const window = deps.window ?? 3
  const inFlight: { chunk: SourceChunk; result: Promise<ProcessResult>; copy?: Uint8Array }[] = []
  const policy = p.pipeline.spec.buffer.when_full
  let droppedBatches = 0
  const dedupeFor = dedupeWindow(p.pipeline)
  const dedupe =
    dedupeFor === undefined ? undefined : new DedupeKeys(deps.state, p.name, runId, dedupeFor, startedAt)

  const inPool = (chunk: SourceChunk, bytes: Uint8Array, exclude?: string[]) =>
    deps.pool.process({
      type: 'process',
      pipelineKey: p.key,
      specJson: workerSpec,
      bytes,
      decodeState: chunk.decodeState,
      ...(chunk.replay ? { decoder: 'replay' as const } : {}),
      ...(chunk.aggregate ? { emitFrom: chunk.aggregate.sourceColumns } : {}),
      ...(exclude ? { exclude } : {}),
      meta: {
        agentId: deps.agentId,
        pipeline: p.name,
        version: p.version,
        runId,
        nowMs: startedAt,
        source: chunk.label,
        maxBatchBytes: deps.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
        ...(deps.limits ? { limits: deps.limits } : {}),
        ...(deps.fileRoots ? { fileRoots: deps.fileRoots.dirs } : {}),
      },
    })

  const dispatch = (chunk: SourceChunk) => {
    // The bytes are transferred to the worker; dedupe keeps a copy in case the chunk has to be
    // processed again without keys that earlier chunks let through.
    const copy = dedupe ? chunk.bytes.slice() : undefined
    const result = inPool(chunk, chunk.bytes)
    // Never leave a rejection unobserved while earlier chunks commit.
    result.catch(() => {})
    inFlight.push({ chunk, result, ...(copy ? { copy } : {}) })
  }

  const commitHead = async () => {
    const head = inFlight.shift()
    if (!head) return
    const { chunk } = head
    let result = await head.result
    // Earlier chunks have committed by now, so their keys are in LMDB. Rarely, a key of this chunk
    // is among them: process the chunk again without those keys.
    const seen = dedupe && result.dedupeKeys ? dedupe.seen(result.dedupeKeys) : []
    if (seen.length > 0 && head.copy) result = await inPool(chunk, head.copy, seen)
    if (!chunk.aggregate)
      reader.observe?.(chunk, {
        records: result.recordCount,
        ...(result.decodeState !== undefined ? { state: result.decodeState } : {}),
      })
    const base = recordCounts.get(chunk.label) ?? chunk.recordBase ?? 0
    const records = base + result.recordCount
    recordCounts.set(chunk.label, records)

    const entries: PendingAppend[] = []
    const createdAt = Date.now()
    if (result.rowsPassed > 0) {
      // Sequence numbers are given here, in commit order, so batch ids are monotonic within the run.
      const chunkSeq = nextSeq()
      const id = batchId({ agentId: deps.agentId, pipeline: p.name, runId, seq: chunkSeq })
      result.sinkPayloads.forEach((payload, index) => {
        if (!payload) return
        entries.push({
          lane: sinkLane(p.name, index),
          header: {
            id,
            kind: 'sink',
            createdAt,
            pipeline: p.name,
            version: p.version,
            sink: index,
            rows: result.rowsPassed,
          },
          payload,
        })
      })
      result.batches.forEach((part, i) => {
        const seq = i === 0 ? chunkSeq : nextSeq()
        const partId = batchId({ agentId: deps.agentId, pipeline: p.name, runId, seq })
        entries.push({
          lane: NATS_LANE,
          header: {
            id: partId,
            kind: 'data',
            createdAt,
            subject: subjects.data(deps.agentId, p.name),
            pipeline: p.name,
            version: p.version,
            rows: part.rows,
          },
          payload: withIdentity(part.bytes, partId, seq),
        })
      })
    }
    if (deps.budget && entries.length > 0) {
      const needed = entries.reduce((n, e) => n + e.payload.length + 256, 0)
      const dropped = await deps.budget.reserve(p.name, policy, needed, signal)
      if (dropped.batches > 0) {
        outcome.counts.rowsDropped += dropped.rows
        droppedBatches += dropped.batches
        deps.metrics.inc(METRICS.rowsDropped, { pipeline: p.name }, dropped.rows)
      }
    }
    const origin = chunk.replay
    const quarantined: QuarantineEntry[] = result.quarantined.map((q) => ({
      pipeline: p.name,
      version: p.version,
      runId,
      // A replayed row keeps the place it was first read from.
      source: origin ? (origin.sources[q.record] ?? chunk.label) : chunk.label,
      record: origin ? (origin.records[q.record] ?? 0) : base + q.record + 1,
      reason: q.reason,
      rule: q.rule,
      ...(q.column !== undefined ? { column: q.column } : {}),
      ...(q.value !== undefined ? { value: q.value } : {}),
      row: q.row,
      columns: q.columns,
      at: createdAt,
    }))
    const cursorWrites = chunk.cursor({
      records,
      decoded: {
        records: result.recordCount,
        ...(result.decodeState !== undefined ? { state: result.decodeState } : {}),
      },
    })
    // One synchronous transaction: it rolls back entirely if anything throws, and it is on disk
    // before the forwarders can read the batch (so nothing is published that a crash could undo).
    const token = deps.state.root.transactionSync(() => {
      const appended = deps.outbox.appendInTransaction(entries)
      for (const q of quarantined) deps.state.quarantine.put([p.name, runId, ++quarantineSeq], q)
      // Replayed entries leave the quarantine with the batch their rows went into.
      if (origin) for (const key of origin.keys) deps.state.quarantine.remove(key)
      if (dedupe && result.dedupeKeys) dedupe.record(result.dedupeKeys, createdAt)
      // An aggregate's partial is checkpointed with the cursor; its emit settles the partials it merged.
      if (result.aggregate) deps.state.aggregates.put([p.name, runId, ++partialSeq], result.aggregate)
      if (chunk.aggregate) for (const key of chunk.aggregate.keys) deps.state.aggregates.remove(key)
      for (const w of cursorWrites) {
        const key: CursorKey = [p.name, ...w.key]
        if (w.value === undefined) deps.state.cursors.remove(key)
        else deps.state.cursors.put(key, w.value)
      }
      return appended
    })
    deps.outbox.committed(token)

    for (const crash of result.workerCrashes ?? []) {
      addError({
        stage: 'transform',
        code: 'worker_crashed',
        message: `a worker thread died processing a chunk of ${chunk.label} (${crash}); the chunk was processed again`,
        source: chunk.label,
      })
      deps.metrics.inc(METRICS.workerCrashes, { pipeline: p.name })
    }
    const c = outcome.counts
    // The groups an aggregate emits were read already, as the rows they sum up.
    if (!chunk.aggregate) c.rowsRead += result.rowsRead
    c.rowsWritten += result.rowsPassed
    c.rowsQuarantined += quarantined.length
    c.rowsFiltered += result.rowsFiltered
    if (result.profile) outcome.profile.add(result.profile)
    c.bytesRead += chunk.bytesRead
    if (result.rowsPassed > 0) c.batches++
    const labels = { pipeline: p.name }
    deps.metrics.inc(METRICS.rowsRead, labels, result.rowsRead)
    deps.metrics.inc(METRICS.rowsWritten, labels, result.rowsPassed)
    deps.metrics.inc(METRICS.rowsQuarantined, labels, quarantined.length)
    deps.metrics.inc(METRICS.rowsFiltered, labels, result.rowsFiltered)
    deps.metrics.inc(METRICS.bytesRead, labels, chunk.bytesRead)
    for (const q of quarantined) {
      addError({
        stage: q.rule === 'parse' ? 'parse' : LIMIT_RULES.has(q.rule) ? 'extract' : 'transform',
        code: q.rule,
        message: q.reason,
        record: q.record,
        ...(q.column !== undefined ? { column: q.column } : {}),
        source: q.source,
      })
    }
  }

  try {
    // Keys that left the window are forgotten before the run reads anything.
    if (dedupe) await dedupe.prune(Date.now())
    for await (const chunk of reader.chunks(signal)) {
      dispatch(chunk)
      if (chunk.barrier) {
        while (inFlight.length > 0) await commitHead()
      } else if (inFlight.length >= window) {
        await commitHead()
      }
      if (signal.aborted) break
    }
    // Chunks already read are finished and checkpointed, even when stopping.
    while (inFlight.length > 0) await commitHead()
    // With everything read, the aggregate's groups (this run's and any an interrupted run left).
    if (!signal.aborted) {
      for (const chunk of aggregateEmits(deps.state, p.name)) {
        dispatch(chunk)
        await commitHead()
      }
    }
  } finally {
    if (droppedBatches > 0) {
      addError({
        stage: 'buffer',
        code: 'drop_oldest',
        message: `dropped ${droppedBatches} undelivered batches (${outcome.counts.rowsDropped} rows), oldest first: the outbox reached its disk budget`,
      })
    }
    await Promise.allSettled(inFlight.map((f) => f.result))
    inFlight.length = 0
    await reader.close()
  }
}

/**
 * The emits of a pipeline's checkpointed partial aggregates: one chunk of merged groups per
 * aggregate layout (partials of an earlier version with other metrics go out on their own).
 */
function aggregateEmits(state: AgentState, pipeline: string): SourceChunk[] {
  const layouts = new Map<string, { keys: [string, string, number][]; partials: AggregatePartial[] }>()
  for (const { key, value } of state.aggregates.getRange({ start: [pipeline] })) {
    const k = key as [string, string, number]
    if (k[0] !== pipeline) break
    const layout = JSON.stringify([value.columns, value.metrics, value.sourceColumns])
    const entry = layouts.get(layout) ?? { keys: [], partials: [] }
    entry.keys.push(k)
    entry.partials.push(value)
    layouts.set(layout, entry)
  }
  return [...layouts.values()].map(({ keys, partials }) => {
    const merged = mergePartials(partials) as AggregatePartial
    const rows = merged.groups.map(([, values, states]) => [...values, ...finish(states, merged.metrics)])
    return {
      bytes: encodeReplayChunk(merged.columns, rows),
      decodeState: undefined,
      label: 'aggregate',
      bytesRead: 0,
      aggregate: { keys, sourceColumns: merged.sourceColumns },
      cursor: () => [],
    }
  })
}

function runEventEntry(agentId: string, outcome: RunOutcome, status: RunStatus): PendingAppend {
  const counts: RunCounts = create(RunCountsSchema, {
    rowsRead: BigInt(outcome.counts.rowsRead),
    rowsWritten: BigInt(outcome.counts.rowsWritten),
    rowsQuarantined: BigInt(outcome.counts.rowsQuarantined),
    rowsFiltered: BigInt(outcome.counts.rowsFiltered),
    rowsDropped: BigInt(outcome.counts.rowsDropped),
    bytesRead: BigInt(outcome.counts.bytesRead),
    batches: outcome.counts.batches,
  })
  const errors: RunError[] = outcome.errors.map((e) =>
    create(RunErrorSchema, {
      stage: e.stage,
      code: e.code,
      message: e.message,
      record: BigInt(e.record ?? 0),
      column: e.column ?? '',
      source: e.source ?? '',
      retryable: e.retryable ?? false,
    }),
  )
  const finished = status !== RunStatus.RUNNING
  const event = create(RunEventSchema, {
    runId: outcome.runId,
    agentId,
    pipeline: outcome.pipeline,
    pipelineVersion: outcome.version,
    status,
    trigger: outcome.trigger,
    startedAtMs: BigInt(outcome.startedAt),
    finishedAtMs: BigInt(finished ? outcome.finishedAt : 0),
    counts,
    errors,
    errorsTotal: outcome.errorsTotal,
    qualityJson: outcome.quality ? JSON.stringify(outcome.quality) : '',
  })
  const statusName = RunStatus[status].toLowerCase()
  return {
    lane: NATS_LANE,
    header: {
      id: `${agentId}/run/${outcome.runId}/${statusName}`,
      kind: 'run',
      createdAt: Date.now(),
      subject: subjects.run(agentId, outcome.pipeline),
      pipeline: outcome.pipeline,
    },
    payload: toBinary(RunEventSchema, event),
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
