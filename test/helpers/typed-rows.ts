/**
 * Rows of the benchmark's ten typed columns made in memory, for what starts from batches rather than
 * a CSV (the central loader benchmark, the backlog test): a batch of ~7,700 is ~0.95 MiB encoded.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import { type Column, encodeColumns, type Value } from '@outpost/shared/batch'
import { CentralTargetSchema, DataBatchSchema } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'

export const TYPED_COLUMNS: Column[] = [
  { name: 'id', type: 'int' },
  { name: 'created_at', type: 'timestamp' },
  { name: 'customer', type: 'string' },
  { name: 'email', type: 'string' },
  { name: 'amount', type: 'decimal' },
  { name: 'active', type: 'bool' },
  { name: 'note', type: 'string' },
  { name: 'attrs', type: 'json' },
  { name: 'qty', type: 'int' },
  { name: 'score', type: 'float' },
]

/** `count` rows with ids from `from`. */
export function typedRows(from: number, count: number): Value[][] {
  const rows: Value[][] = new Array(count)
  for (let i = 0; i < count; i++) {
    const id = from + i
    rows[i] = [
      id,
      1_735_689_600_000_000 + id * 1_000_003,
      id % 7 === 0 ? 'Smith, Jr. Kofi' : 'Anna Müller',
      `anna.${id}@example.com`,
      `${(id % 200_000) / 100}`,
      id % 3 === 0,
      id % 5 === 0 ? null : `note ${id % 1000}`,
      `{"tier":${id % 4},"tags":["a","b"]}`,
      id % 50,
      (id % 10_000) / 7,
    ]
  }
  return rows
}

/**
 * A DataBatch of `count` typed rows as an agent would publish it (batch `seq` of run `run1` of
 * `agentId`/`pipeline`, for `table`), with its id for Nats-Msg-Id.
 */
export function typedBatch(
  agentId: string,
  pipeline: string,
  table: string,
  seq: number,
  from: number,
  count: number,
): { id: string; bytes: Uint8Array } {
  const rows = typedRows(from, count)
  const id = `${agentId}/${pipeline}/run1/${seq}`
  const message = create(DataBatchSchema, {
    batchId: id,
    agentId,
    pipeline,
    runId: 'run1',
    seq: BigInt(seq),
    rowCount: rows.length,
    columns: encodeColumns({ columns: TYPED_COLUMNS, rows }),
    targets: [create(CentralTargetSchema, { table })],
  })
  return { id, bytes: toBinary(DataBatchSchema, message) }
}
