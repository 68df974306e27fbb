/** Messages between the main thread and the worker pool: tagged unions, bytes transferred. */
import type { SerializedError } from '@outpost/shared'
import type { Column } from '@outpost/shared/batch'
import type { AggregatePartial } from '../transforms/aggregate-state.js'
import type { Rejection } from '../transforms/types.js'
import type { BatchProfile } from '../validate/profile.js'
import type { RowLimits } from './row-limits.js'

export interface BatchMeta {
  agentId: string
  pipeline: string
  version: number
  runId: string
  nowMs: number
  /** Largest encoded DataBatch (NATS refuses messages over its max_payload, 1 MiB by default). */
  maxBatchBytes: number
  /** What the chunk came from (a file path, a table), for add_metadata. */
  source?: string
  /** For probes: return up to this many transformed rows as JSON values, and encode nothing. */
  preview?: number
  /** Limits on the decoded rows (default DEFAULT_ROW_LIMITS). */
  limits?: RowLimits
  /** The agent's file_roots: files a step reads (a lookup CSV) must be inside one. */
  fileRoots?: string[]
}

export interface ProcessRequest {
  type: 'process'
  /** Compiled pipelines are cached under this key (pipeline name and spec hash). */
  pipelineKey: string
  specJson: string
  bytes: Uint8Array
  decodeState: unknown
  /** `replay`: the bytes are quarantined rows (quarantine/codec.ts), not source data. */
  decoder?: 'replay'
  /**
   * aggregate: the bytes are the run's groups (quarantine/codec.ts encoding); run only the steps
   * after the aggregate, bound from these source columns.
   */
  emitFrom?: Column[]
  /** dedupe: keys seen before this chunk; rows with them are dropped. */
  exclude?: string[]
  meta: BatchMeta
}

export interface QuarantinedRow extends Rejection {
  /** The source row, column name → value as read. */
  row: Record<string, unknown>
  /** The columns of the row as read, with their types. */
  columns: Column[]
}

export interface ProcessResult {
  type: 'processed'
  /**
   * For central sinks: the rows as telemetry.v1.DataBatch messages, each at most maxBatchBytes,
   * without batch_id and seq (the main thread appends those at commit). Empty otherwise.
   */
  batches: { bytes: Uint8Array; rows: number }[]
  columns: Column[]
  recordCount: number
  rowsRead: number
  rowsPassed: number
  rowsFiltered: number
  quarantined: QuarantinedRow[]
  decodeState?: unknown
  /** Per sink: the bytes its `encode` made of the rows, or null when it takes the DataBatch. */
  sinkPayloads: (Uint8Array | null)[]
  /** With a validate section: the batch's column profile, for the run's quality report. */
  profile?: BatchProfile
  /** Set by the pool: why the threads that died processing this chunk before it succeeded died. */
  workerCrashes?: string[]
  /** aggregate: this chunk's contribution to the run's groups (instead of rows). */
  aggregate?: AggregatePartial
  /** dedupe: the key of every row that passed, in order, to record with the batch. */
  dedupeKeys?: string[]
  /** With meta.preview: the first rows after the transforms, as JSON values. */
  preview?: unknown[][]
}

export type WorkerRequest = ProcessRequest
export type WorkerResponse = ProcessResult | { type: 'error'; error: SerializedError }
