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
import type { CompiledCache } from './compiled.js'
import type { BatchMeta, ProcessRequest, ProcessResult, QuarantinedRow } from './messages.js'

export function batchId(meta: { agentId: string; pipeline: string; runId: string; seq: number }): string {
  return `${meta.agentId}/${meta.pipeline}/${meta.runId}/${meta.seq}`
}

/** The rows as DataBatch messages of at most `maxBytes` each (halving the rows until they fit). */
function encodeBatches(
  frame: Frame,
  targets: CentralTarget[],
  meta: BatchMeta,
  maxBytes: number,
): { bytes: Uint8Array; rows: number }[] {
  const encode = (rows: Frame['rows']) =>
    toBinary(
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
  const out: { bytes: Uint8Array; rows: number }[] = []
  const pending: Frame['rows'][] = [frame.rows]
  while (pending.length > 0) {
    const rows = pending.shift() as Frame['rows']
    const bytes = encode(rows)
    if (bytes.length <= maxBytes || rows.length === 1) {
      out.push({ bytes, rows: rows.length })
    } else {
      const parts = Math.ceil(bytes.length / maxBytes) + 1
      const size = Math.ceil(rows.length / parts)
      const split: Frame['rows'][] = []
      for (let i = 0; i < rows.length; i += size) split.push(rows.slice(i, i + size))
      pending.unshift(...split)
    }
  }
  return out
}

export async function processChunk(cache: CompiledCache, request: ProcessRequest): Promise<ProcessResult> {
  const compiled = cache.get(request.pipelineKey, request.specJson)
  const { meta } = request
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
  }
  if (compiled.dedupes) context.dedupe = { exclude: new Set(request.exclude), keyOf: new Map() }
  // Transforms may change cells in place; keep the rows as read for the quarantine.
  let frame: Frame = {
    columns: decoded.columns,
    rows: decoded.rows.map((r) => r.slice()),
    records: decoded.records,
  }
  // Input without a single column (an empty document) has nothing to transform, or to check.
  if (decoded.columns.length > 0 || decoded.rows.length > 0) {
    // The emit of an aggregate runs the steps after it over the run's groups.
    const chain = request.emitFrom
      ? compiled.chain(request.emitFrom).slice(compiled.aggregateIndex + 1)
      : compiled.chain(decoded.columns)
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
    compiled.pipeline.spec.sinks.forEach((sink, index) => {
      const { impl, options } = compiled.sink(index)
      if (impl.delivery === 'local' && impl.encode) sinkPayloads[index] = impl.encode(options, frame)
      if (sink.type === 'central') {
        targets.push(
          create(CentralTargetSchema, {
            table: sink.table,
            mode: sink.mode === 'upsert' ? SinkMode.UPSERT : SinkMode.APPEND,
            keys: sink.keys ?? [],
          }),
        )
      }
    })
    if (targets.length > 0) batches = encodeBatches(frame, targets, meta, meta.maxBatchBytes)
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
    ...(context.aggregate
      ? { aggregate: { ...context.aggregate.partial, sourceColumns: decoded.columns } }
      : {}),
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
