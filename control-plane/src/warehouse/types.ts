/**
 * The central warehouse the control plane writes `central` sinks into: PostgreSQL when
 * configured, else Parquet files in the data directory. Every write is idempotent per batch id
 * and all-or-nothing for the batches it is given.
 */
import type { Column, Value } from '@outpost/shared/batch'
import type { Column as WireColumn } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'

export interface WarehouseTarget {
  table: string
  mode: 'append' | 'upsert'
  keys: string[]
}

export interface WarehouseBatch {
  /** `<agent>/<pipeline>/<run>/<seq>`; the ledger key. */
  id: string
  agentId: string
  pipeline: string
  columns: Column[]
  rowCount: number
  /** The columns as they came over the wire (checked), for writers that load from the bytes. */
  wire: readonly WireColumn[]
  /** The rows as values, decoded on first use. */
  readonly rows: Value[][]
  targets: WarehouseTarget[]
}

export interface Warehouse {
  readonly kind: 'postgres' | 'parquet'
  readonly supportsUpsert: boolean
  /** Writes the batches not written before, all in one transaction; returns how many were new. */
  write(batches: WarehouseBatch[]): Promise<number>
  /** Rows in a table (for tests and the API). */
  count(table: string): Promise<number>
  close(): Promise<void>
}

export { SchemaConflictError } from '@outpost/agent/db'
