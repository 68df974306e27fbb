import type { ComponentSpec } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import type * as z from 'zod'
import type { FileRoots } from '../file-roots.js'
import type { Logger } from '../log.js'
import type { ReplayOrigin } from '../quarantine/quarantine.js'
import type { CursorKey } from '../state/store.js'
import type { Rejection } from '../transforms/types.js'
import type { RowLimits } from '../workers/row-limits.js'

export interface CursorWrite {
  key: CursorKey
  /** undefined deletes the key. */
  value: unknown
}

/** A unit of source data for the worker pool, with the cursor it advances to once committed. */
export interface SourceChunk {
  /** Bytes for the worker's decoder; transferred, not copied. */
  bytes: Uint8Array
  /** Source-specific decode state (JSON-safe), e.g. the CSV header and whether this is the first chunk. */
  decodeState: unknown
  /** What the rows came from, e.g. a file path; used in errors and quarantine entries. */
  label: string
  bytesRead: number
  /** Record count of `label` before this chunk; set on a label's first chunk (from the cursor on resume). */
  recordBase?: number
  /** The runner finishes this chunk and calls `observe` before pulling the next one. */
  barrier?: boolean
  /** For the emit of an aggregate: the partials it merges (removed at its commit), and the columns to bind from. */
  aggregate?: { keys: [string, string, number][]; sourceColumns: Column[] }
  /** For a replay: the quarantine entries this chunk's rows came from (settled at its commit). */
  replay?: ReplayOrigin
  /** Cursor writes that commit in the same transaction as this chunk's batch. */
  cursor(after: { records: number; decoded: DecodedSummary }): CursorWrite[]
}

export interface DecodedSummary {
  records: number
  /** Decode state discovered in this chunk (the CSV header), handed to later chunks. */
  state?: unknown
}

export interface SourceReader {
  chunks(signal: AbortSignal): AsyncIterable<SourceChunk>
  /** Called in order after each chunk is decoded. */
  observe?(chunk: SourceChunk, decoded: DecodedSummary): void
  close(): Promise<void>
}

export interface SkippedInput {
  /** The file or item left out. */
  source: string
  /** A stable code, e.g. outside_file_roots. */
  code: string
  reason: string
}

export interface CursorAccess {
  get(key: CursorKey): unknown
}

export interface SourceContext {
  pipeline: string
  cursors: CursorAccess
  log: Logger
  /** Target size of a chunk in bytes. */
  chunkBytes: number
  /** The agent's file_roots, when set: file sources read only inside them. */
  fileRoots?: FileRoots | undefined
  /** A file (or item) the source left out, and why; the run reports it and goes on. */
  skipped?: ((skip: SkippedInput) => void) | undefined
}

/** What a decoder makes of one chunk, in the worker. */
export interface DecodedRows {
  columns: Column[]
  /** The rows as read (cells as text or typed values), one array per record. */
  rows: Value[][]
  /** Index of each row among the chunk's records (rows rejected while decoding leave gaps). */
  records: number[]
  rejections: Rejection[]
  /** Records in the chunk, including rejected ones. */
  recordCount: number
  state?: unknown
}

export interface SourceImpl<Options> {
  spec: ComponentSpec<string, z.ZodRawShape>
  open(options: Options, context: SourceContext): SourceReader
  /** Test the connection without reading data; resolves with what was found. */
  check?(options: Options, context: SourceContext): Promise<string>
  /** Worker side: the bytes of one chunk to rows. */
  decode(options: Options, bytes: Uint8Array, decodeState: unknown): DecodedRows | Promise<DecodedRows>
  /**
   * Worker side, for a pipeline without transforms whose sinks all take COPY text: the chunk's
   * rows straight as COPY text lines, exactly what decoding them and writing them with copyText
   * would give; undefined whenever decode must run (a row to quarantine, an unusual chunk).
   */
  copyText?(
    options: Options,
    bytes: Uint8Array,
    decodeState: unknown,
    limits: RowLimits,
  ): CopiedRows | undefined
}

export interface CopiedRows {
  /** The columns, all of them strings. */
  columns: Column[]
  /** One COPY text line per record. */
  copy: Uint8Array
  /** Records in the chunk: every one of them a row. */
  records: number
}

export function defineSource<Options>(impl: SourceImpl<Options>): SourceImpl<Options> {
  return impl
}
