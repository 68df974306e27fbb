/** The work done in a pool thread: decode a chunk, run the transforms, encode the batch. */
import { create, toBinary } from '@bufbuild/protobuf'
import { type Column, encodeColumns, jsonValue } from '@outpost/shared/batch'
import {
  type CentralTarget,
  CentralTargetSchema,
  DataBatchSchema,
  SinkMode,
} from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import { decodeReplayChunk } from '../quarantine/codec.js'
import type { Frame, Rejection, StepReport, TransformContext } from '../transforms/types.js'
import { applyValidation } from '../validate/apply.js'
import type { BatchProfile } from '../validate/profile.js'
import type { CompiledCache, CompiledPipeline } from './compiled.js'
import type { BatchMeta, ProcessRequest, ProcessResult, QuarantinedRow } from './messages.js'
import { DEFAULT_ROW_LIMITS, withinLimits } from './row-limits.js'

export function batchId(meta: { agentId: string; pipeline: string; runId: string; seq: number }): string {
  return `${meta.agentId}/${meta.pipeline}/${meta.runId}/${meta.seq}`
}

/**
 * The rows as DataBatch messages of at most `maxBytes` each (splitting the rows until they fit).
 * A row that does not fit on its own is left out and reported in `oversized` with its size.
 */
function encodeBatches(
  frame: Frame,
  targets: CentralTarget[],
  meta: BatchMeta,
  maxBytes: number,
): { batches: { bytes: Uint8Array; rows: number }[]; oversized: { row: number; bytes: number }[] } {
  const encode = (at: number[]) => {
    const rows = at.map((i) => frame.rows[i] as Frame['rows'][number])
    return toBinary(
      DataBatchSchema,
      create(DataBatchSchema, {
        agentId: meta.agentId,
        pipeline: meta.pipeline,
        pipelineVersion: meta.version,
        runId: meta.runId,
        rowCount: rows.length,
        columns: encodeColumns({ columns: frame.columns, rows }),
        targets,
        createdAtMs: BigInt(meta.nowMs),
      }),
    )
  }
  const batches: { bytes: Uint8Array; rows: number }[] = []
  const oversized: { row: number; bytes: number }[] = []
  const pending: number[][] = [frame.rows.map((_, i) => i)]
  while (pending.length > 0) {
    const rows = pending.shift() as number[]
    const bytes = encode(rows)
    if (bytes.length <= maxBytes) batches.push({ bytes, rows: rows.length })
    else if (rows.length === 1) oversized.push({ row: rows[0] as number, bytes: bytes.length })
    else {
      const parts = Math.ceil(bytes.length / maxBytes) + 1
      const size = Math.ceil(rows.length / parts)
      const split: number[][] = []
      for (let i = 0; i < rows.length; i += size) split.push(rows.slice(i, i + size))
      pending.unshift(...split)
    }
  }
  return { batches, oversized }
}

export async function processChunk(cache: CompiledCache, request: ProcessRequest): Promise<ProcessResult> {
  const compiled = cache.get(request.pipelineKey, request.specJson)
  const { meta } = request
  const copied = copyThrough(compiled, request)
  if (copied) return copied
  const decoded =
    request.decoder === 'replay' || request.emitFrom
      ? decodeReplayChunk(request.bytes)
      : await compiled.source.decode(compiled.pipeline.spec.source, request.bytes, request.decodeState)
  const rejections: Rejection[] = [...decoded.rejections]
  let filtered = 0
  const report: StepReport = {
    reject: (r) => rejections.push(r),
    filtered: (n) => {
      filtered += n
    },
  }
  const context: TransformContext = {
    pipeline: meta.pipeline,
    agentId: meta.agentId,
    runId: meta.runId,
    version: meta.version,
    source: meta.source ?? '',
    now: new Date(meta.nowMs),
    ...(meta.fileRoots ? { fileRoots: meta.fileRoots } : {}),
  }
  if (compiled.dedupes) context.dedupe = { exclude: new Set(request.exclude), keyOf: new Map() }
  // Rows over the agent's limits are quarantined before any step; the rows kept are copies, as
  // transforms may change cells in place and the quarantine keeps the rows as read.
  let frame: Frame = request.emitFrom
    ? { columns: decoded.columns, rows: decoded.rows.map((r) => r.slice()), records: decoded.records }
    : withinLimits(decoded, meta.limits ?? DEFAULT_ROW_LIMITS, report)
  const sourceColumns = frame.columns
  // Input without a single column (an empty document) has nothing to transform, or to check.
  if (decoded.columns.length > 0 || decoded.rows.length > 0) {
    // The emit of an aggregate runs the steps after it over the run's groups.
    const chain = request.emitFrom
      ? compiled.chain(request.emitFrom).slice(compiled.aggregateIndex + 1)
      : compiled.chain(frame.columns)
    for (const step of chain) await step.prepare?.(context)
    for (const step of chain) frame = step.run(frame, report, context)
  }
  let profile: BatchProfile | undefined
  const validation = compiled.validation(frame.columns)
  if (validation && (frame.columns.length > 0 || frame.rows.length > 0)) {
    const validated = applyValidation(compiled.pipeline.spec.validate!, validation, frame, report, context)
    frame = validated.frame
    profile = validated.profile
  }

  const sinkPayloads: (Uint8Array | null)[] = compiled.pipeline.spec.sinks.map(() => null)
  let batches: { bytes: Uint8Array; rows: number }[] = []
  const preview = meta.preview
  // A preview (a probe) shows rows after the transforms and encodes nothing for the sinks.
  if (preview === undefined && frame.rows.length > 0) {
    const targets: CentralTarget[] = []
    for (const sink of compiled.pipeline.spec.sinks) {
      if (sink.type !== 'central') continue
      targets.push(
        create(CentralTargetSchema, {
          table: sink.table,
          mode: sink.mode === 'upsert' ? SinkMode.UPSERT : SinkMode.APPEND,
          keys: sink.keys ?? [],
        }),
      )
    }
    if (targets.length > 0) {
      const encoded = encodeBatches(frame, targets, meta, meta.maxBatchBytes)
      batches = encoded.batches
      // A row no batch can carry goes to the quarantine, and to none of the sinks.
      if (encoded.oversized.length > 0) {
        const left = new Set(encoded.oversized.map((o) => o.row))
        for (const o of encoded.oversized)
          report.reject({
            record: frame.records[o.row] as number,
            rule: 'max_batch_bytes',
            reason: `the row encodes to ${o.bytes} bytes, more than a batch to the control plane may hold (${meta.maxBatchBytes} bytes)`,
          })
        frame = {
          columns: frame.columns,
          rows: frame.rows.filter((_, i) => !left.has(i)),
          records: frame.records.filter((_, i) => !left.has(i)),
        }
      }
    }
    compiled.pipeline.spec.sinks.forEach((_, index) => {
      const { impl, options } = compiled.sink(index)
      if (impl.delivery === 'local' && impl.encode && frame.rows.length > 0)
        sinkPayloads[index] = impl.encode(options, frame)
    })
  }
  const quarantined = quarantineRows(rejections, decoded)
  const types = frame.columns.map((c) => c.type)
  return {
    type: 'processed',
    batches,
    columns: frame.columns,
    recordCount: decoded.recordCount,
    rowsRead: decoded.recordCount,
    rowsPassed: frame.rows.length,
    rowsFiltered: filtered,
    quarantined: preview === undefined ? quarantined : quarantined.slice(0, preview),
    sinkPayloads,
    ...(profile ? { profile } : {}),
    ...(context.dedupe
      ? {
          // Rows an aggregate consumed count as passed: their keys are recorded with its partial.
          dedupeKeys: (context.aggregate?.consumed ?? frame.records).map(
            (r) => context.dedupe?.keyOf.get(r) ?? '',
          ),
        }
      : {}),
    ...(context.aggregate ? { aggregate: { ...context.aggregate.partial, sourceColumns } } : {}),
    ...(preview !== undefined
      ? {
          preview: frame.rows
            .slice(0, preview)
            .map((row) => row.map((v, i) => jsonValue(v, types[i] as Column['type']))),
        }
      : {}),
    ...(decoded.state !== undefined ? { decodeState: decoded.state } : {}),
  }
}

/**
 * A chunk whose rows pass untouched into sinks that take COPY text, written as COPY text from its
 * bytes without decoding them (see CompiledPipeline.copiesText); undefined to take the usual path.
 */
function copyThrough(compiled: CompiledPipeline, request: ProcessRequest): ProcessResult | undefined {
  const { meta } = request
  if (!compiled.copiesText || request.decoder || request.emitFrom || meta.preview !== undefined)
    return undefined
  const { spec } = compiled.pipeline
  const rows = compiled.source.copyText?.(
    spec.source,
    request.bytes,
    request.decodeState,
    meta.limits ?? DEFAULT_ROW_LIMITS,
  )
  if (!rows) return undefined
  return {
    type: 'processed',
    batches: [],
    columns: rows.columns,
    recordCount: rows.records,
    rowsRead: rows.records,
    rowsPassed: rows.records,
    rowsFiltered: 0,
    quarantined: [],
    sinkPayloads: spec.sinks.map((_, index) => {
      const { impl, options } = compiled.sink(index)
      return impl.encodeCopyText?.(options, rows.columns, rows.copy) ?? null
    }),
  }
}

function quarantineRows(
  rejections: Rejection[],
  decoded: { columns: Column[]; rows: unknown[][]; records: number[] },
): QuarantinedRow[] {
  if (rejections.length === 0) return []
  const byRecord = new Map<number, number>(decoded.records.map((record, i) => [record, i]))
  return rejections
    .sort((a, b) => a.record - b.record)
    .map((r) => {
      const at = byRecord.get(r.record)
      const row: Record<string, unknown> = {}
      if (at !== undefined)
        decoded.columns.forEach((c, i) => {
          row[c.name] = decoded.rows[at]![i]
        })
      else if (r.value !== undefined) row._raw = r.value
      return { ...r, row, columns: at === undefined ? [] : decoded.columns }
    })
}
