/**
 * Quarantined rows on their way back through the worker pool for a replay: encoded in the main
 * thread as one columnar DataBatch (bytes, transferred), decoded in the worker like any source chunk.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { type Column, decodeColumns, encodeColumns, type Value } from '@outpost/shared/batch'
import { DataBatchSchema } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import type { DecodedRows } from '../sources/types.js'

export function encodeReplayChunk(columns: Column[], rows: Value[][]): Uint8Array {
  return toBinary(
    DataBatchSchema,
    create(DataBatchSchema, { rowCount: rows.length, columns: encodeColumns({ columns, rows }) }),
  )
}

export function decodeReplayChunk(bytes: Uint8Array): DecodedRows {
  const batch = fromBinary(DataBatchSchema, bytes)
  const { columns, rows } = decodeColumns(batch.columns, batch.rowCount)
  return { columns, rows, records: rows.map((_, i) => i), rejections: [], recordCount: rows.length }
}
