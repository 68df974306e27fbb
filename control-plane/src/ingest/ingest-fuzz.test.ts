// Fuzzing what agents publish to NATS, through the functions the consumers call on each message:
// random bytes and mutated valid encodings of data batches, run events and metric batches. A
// message is used or refused with a reason (InvalidBatchError → dead-letter stream,
// RejectedMessageError → terminated and counted); anything else would be retried forever and
// hold back the messages behind it. A batch that decodes is also written to the Parquet
// warehouse, which must take it or refuse it as a schema conflict (dead-lettered too).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, type MessageInitShape, type MessageShape, toBinary } from '@bufbuild/protobuf'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { createLogger } from '@outpost/agent'
import { CONSUMERS, METRICS, STREAMS } from '@outpost/shared'
import { type Column, encodeColumns, type Value } from '@outpost/shared/batch'
import {
  ColumnType,
  DataBatchSchema,
  MetricBatchSchema,
  MetricKind,
  RunEventSchema,
  RunStatus,
  SinkMode,
} from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout, variants } from '../../../test/helpers/fuzz.js'
import { startNats } from '../../../test/helpers/nats.js'
import { waitFor } from '../../../test/helpers/wait.js'
import { startTestControlPlane, testContext } from '../test-context.js'
import { ParquetWarehouse } from '../warehouse/parquet.js'
import { SchemaConflictError } from '../warehouse/types.js'
import { decodeBatch, InvalidBatchError } from './central.js'
import { RejectedMessageError } from './telemetry.js'

const AGENT = 'agt-a'
const PIPELINE = 'sales'
const DATA_SUBJECT = `outpost.agent.${AGENT}.data.${PIPELINE}`

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '\u0000', '../..', 'a/b', 'x'.repeat(300), '🚀', '\uD800', AGENT, PIPELINE),
)
const bigUint = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const bigInt = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })

const CELL: Record<Column['type'], fc.Arbitrary<Value>> = {
  string: fc.string({ maxLength: 8 }),
  int: fc.oneof(
    fc.integer(),
    bigInt.filter((v) => !Number.isSafeInteger(Number(v))),
  ),
  float: fc.double(),
  decimal: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  bool: fc.boolean(),
  timestamp: fc.integer({ min: -1e15, max: 1e15 }),
  date: fc.integer({ min: -100_000, max: 100_000 }),
  json: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  bytes: fc.uint8Array({ maxLength: 6 }),
}

const columnsAndRows = fc
  .uniqueArray(
    fc.tuple(
      fc.constantFrom('id', 'amount', 'note', 'when', 'flag', 'doc', 'raw', 'day', 'n'),
      fc.constantFrom(...(Object.keys(CELL) as Column['type'][])),
    ),
    { selector: ([name]) => name, minLength: 1, maxLength: 4 },
  )
  .chain((cols) =>
    fc.tuple(
      fc.constant(cols.map(([name, type]) => ({ name, type }) as Column)),
      fc.array(fc.tuple(...cols.map(([, type]) => fc.option(CELL[type], { freq: 4 }))), { maxLength: 6 }),
    ),
  )

const validBatch = fc.tuple(columnsAndRows, fc.nat({ max: 1000 })).map(([[columns, rows], seq]) =>
  create(DataBatchSchema, {
    batchId: `${AGENT}/${PIPELINE}/r1/${seq}`,
    agentId: AGENT,
    pipeline: PIPELINE,
    pipelineVersion: 1,
    runId: 'r1',
    seq: BigInt(seq),
    rowCount: rows.length,
    columns: encodeColumns({ columns, rows: rows as Value[][] }),
    targets: [{ table: 'sales', mode: SinkMode.APPEND, keys: [] }],
    createdAtMs: 1n,
  }),
)

type Batch = MessageShape<typeof DataBatchSchema>
const batchMutation: fc.Arbitrary<(m: Batch) => void> = fc.oneof(
  // A run id, and the batch id that goes with it: the id names the Parquet file.
  text.map((runId) => (m: Batch) => {
    m.runId = runId
    m.batchId = `${m.agentId}/${m.pipeline}/${runId}/${m.seq}`
  }),
  bigUint.map((seq) => (m: Batch) => {
    m.seq = seq
    m.batchId = `${m.agentId}/${m.pipeline}/${m.runId}/${seq}`
  }),
  text.map((v) => (m: Batch) => {
    m.batchId = v
  }),
  text.map((v) => (m: Batch) => {
    m.agentId = v
  }),
  fc.nat().map((n) => (m: Batch) => {
    m.rowCount = n % 2 === 0 ? n % 10 : n
  }),
  fc.tuple(fc.nat(), text).map(([i, name]) => (m: Batch) => {
    const c = m.columns[i % Math.max(1, m.columns.length)]
    if (c) c.name = name
  }),
  fc.tuple(fc.nat(), fc.integer({ min: -1, max: 20 })).map(([i, type]) => (m: Batch) => {
    const c = m.columns[i % Math.max(1, m.columns.length)]
    if (c) c.type = type as ColumnType
  }),
  fc
    .tuple(fc.nat(), fc.constantFrom('validity', 'values', 'offsets'), fc.uint8Array({ maxLength: 24 }))
    .map(([i, field, bytes]) => (m: Batch) => {
      const c = m.columns[i % Math.max(1, m.columns.length)]
      if (c) c[field as 'values'] = bytes
    }),
  fc.constant((m: Batch) => {
    m.columns.push(...m.columns)
  }),
  fc
    .tuple(
      text,
      fc.constantFrom(SinkMode.APPEND, SinkMode.UPSERT, SinkMode.UNSPECIFIED, 7 as SinkMode),
      fc.array(text, { maxLength: 2 }),
    )
    .map(([table, mode, keys]) => (m: Batch) => {
      m.targets = [{ $typeName: 'outpost.telemetry.v1.CentralTarget', table, mode, keys }]
    }),
  fc.constant((m: Batch) => {
    m.targets = []
  }),
)

const validRun = fc.constantFrom(RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED).map((status) =>
  create(RunEventSchema, {
    runId: 'r1',
    agentId: AGENT,
    pipeline: PIPELINE,
    pipelineVersion: 1,
    status,
    trigger: 'schedule',
    startedAtMs: 1000n,
    counts: { rowsRead: 5n, rowsWritten: 4n, batches: 1 },
    errors: [{ stage: 'source', code: 'source_failed', message: 'x' }],
    qualityJson: '{"columns":{}}',
  }),
)
type Run = MessageShape<typeof RunEventSchema>
const runMutation: fc.Arbitrary<(m: Run) => void> = fc.oneof(
  fc
    .tuple(fc.constantFrom('runId', 'agentId', 'pipeline', 'trigger', 'qualityJson'), text)
    .map(([field, v]) => (m: Run) => {
      m[field as 'runId'] = v
    }),
  fc.constantFrom('{', '[1,', 'null', '"x"', '1e400', '{"__proto__":{"x":1}}').map((q) => (m: Run) => {
    m.qualityJson = q
  }),
  fc.integer({ min: -1, max: 50 }).map((s) => (m: Run) => {
    m.status = s as RunStatus
  }),
  fc.tuple(bigInt, bigInt, bigUint).map(([started, finished, rows]) => (m: Run) => {
    m.startedAtMs = started
    m.finishedAtMs = finished
    if (m.counts) m.counts.rowsRead = rows
  }),
  fc.tuple(text, bigUint).map(([message, record]) => (m: Run) => {
    m.errors.push({
      $typeName: 'outpost.telemetry.v1.RunError',
      stage: message,
      code: message,
      message,
      record,
      column: message,
      source: '',
      retryable: true,
    })
  }),
)

const validMetrics = fc.double().map((value) =>
  create(MetricBatchSchema, {
    agentId: AGENT,
    collectedAtMs: BigInt(Date.UTC(2026, 0, 1)),
    metrics: [
      { name: METRICS.rowsRead.name, kind: MetricKind.COUNTER, value },
      { name: METRICS.rowsWritten.name, kind: MetricKind.COUNTER, value: 3 },
    ],
  }),
)
type Metrics = MessageShape<typeof MetricBatchSchema>
const metricsMutation: fc.Arbitrary<(m: Metrics) => void> = fc.oneof(
  text.map((v) => (m: Metrics) => {
    m.agentId = v
  }),
  bigInt.map((at) => (m: Metrics) => {
    m.collectedAtMs = at
  }),
  fc.tuple(fc.double(), fc.integer({ min: -1, max: 9 })).map(([value, kind]) => (m: Metrics) => {
    for (const metric of m.metrics) {
      metric.value = value
      metric.kind = kind as MetricKind
    }
  }),
)

const dataBatch = variants(DataBatchSchema, validBatch, batchMutation)
const telemetryMessage = fc.oneof(
  variants(RunEventSchema, validRun, runMutation).map((data) => ({
    subject: `outpost.agent.${AGENT}.run.${PIPELINE}`,
    data,
  })),
  variants(MetricBatchSchema, validMetrics, metricsMutation).map((data) => ({
    subject: `outpost.agent.${AGENT}.metrics`,
    data,
  })),
)

function expectReason(error: unknown, type: new (...args: never[]) => Error): void {
  expect(error, String(error)).toBeInstanceOf(type)
  expect((error as Error).message.trim()).not.toBe('')
}

describe('NATS messages under fuzzing', () => {
  let ctx: ReturnType<typeof testContext>
  let warehouseDir: string
  let warehouse: ParquetWarehouse
  beforeAll(() => {
    ctx = testContext()
    warehouseDir = mkdtempSync(join(tmpdir(), 'outpost-fuzz-wh-'))
    warehouse = new ParquetWarehouse(warehouseDir, createLogger({ level: 'error', write: () => {} }))
  })
  afterAll(async () => {
    await ctx.close()
    rmSync(warehouseDir, { recursive: true, force: true })
  })

  it(
    'decodes a data batch or refuses it with a reason; what decodes, the warehouse takes or refuses as a conflict',
    async () => {
      await fc.assert(
        fc.asyncProperty(dataBatch, async (data) => {
          let batch: ReturnType<typeof decodeBatch>
          try {
            batch = decodeBatch(DATA_SUBJECT, data)
          } catch (error) {
            expectReason(error, InvalidBatchError)
            return
          }
          try {
            await warehouse.write([batch])
          } catch (error) {
            expectReason(error, SchemaConflictError)
          }
        }),
        fuzzBudget(800, 3),
      )
    },
    fuzzTimeout(3),
  )

  it(
    'records a run event or metric batch, or refuses it with a reason',
    async () => {
      await fc.assert(
        fc.asyncProperty(telemetryMessage, async ({ subject, data }) => {
          try {
            await ctx.ingest.apply(subject, data)
          } catch (error) {
            expectReason(error, RejectedMessageError)
          }
        }),
        fuzzBudget(800, 3),
      )
    },
    fuzzTimeout(3),
  )
})

describe('NATS messages: counterexamples found by fuzzing', () => {
  const batch = (fields: MessageInitShape<typeof DataBatchSchema>) =>
    toBinary(
      DataBatchSchema,
      create(DataBatchSchema, {
        batchId: `${AGENT}/${PIPELINE}/r1/0`,
        agentId: AGENT,
        pipeline: PIPELINE,
        runId: 'r1',
        targets: [{ table: 'sales', mode: SinkMode.APPEND }],
        ...fields,
      }),
    )

  it('refuses a row count the columns do not carry before allocating a row (it ran out of memory)', () => {
    const started = performance.now()
    expect(() => decodeBatch(DATA_SUBJECT, batch({ rowCount: 4_294_967_295 }))).toThrow(
      new InvalidBatchError('batch claims 4294967295 rows but has no columns'),
    )
    const flag = { name: 'flag', type: ColumnType.BOOL, values: new Uint8Array() }
    expect(() => decodeBatch(DATA_SUBJECT, batch({ rowCount: 4_294_967_295, columns: [flag] }))).toThrow(
      'batch does not match its declared schema: column "flag": expected 536870912 bytes of bool values for 4294967295 rows, got 0',
    )
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('refuses a run id that cannot name a warehouse file (a NUL byte failed every retry)', () => {
    expect(() =>
      decodeBatch(DATA_SUBJECT, batch({ runId: '\u0000', batchId: `${AGENT}/${PIPELINE}/\u0000/0` })),
    ).toThrow(new InvalidBatchError('invalid run id "\\u0000"'))
  })

  it('refuses a run event whose quality_json is not JSON instead of retrying it forever', async () => {
    const ctx = testContext()
    try {
      const event = create(RunEventSchema, {
        runId: 'r1',
        agentId: AGENT,
        pipeline: PIPELINE,
        qualityJson: '{',
      })
      await expect(
        ctx.ingest.apply(`outpost.agent.${AGENT}.run.${PIPELINE}`, toBinary(RunEventSchema, event)),
      ).rejects.toThrow(RejectedMessageError)
      expect(await ctx.store.getRun('r1')).toBeUndefined()
    } finally {
      await ctx.close()
    }
  })
})

describe('NATS messages under fuzzing, through a control plane and a real nats-server', () => {
  it('settles every message: batches written or dead-lettered, telemetry recorded or counted, none redelivered', async () => {
    const nats = await startNats()
    const dir = mkdtempSync(join(tmpdir(), 'outpost-fuzz-cp-'))
    const cp = await startTestControlPlane(dir, createLogger({ level: 'error', write: () => {} }), nats.url)
    const nc = await connect({ servers: nats.url })
    try {
      const data = fc.sample(dataBatch, { numRuns: 60, seed: 7 })
      const telemetry = fc.sample(telemetryMessage, { numRuns: 60, seed: 7 })
      const refused = data.filter((d) => {
        try {
          decodeBatch(DATA_SUBJECT, d)
          return false
        } catch {
          return true
        }
      }).length
      expect(refused).toBeGreaterThan(10)
      const js = jetstream(nc)
      // The control plane creates the streams once it is connected.
      await waitFor('streams', () => js.publish(DATA_SUBJECT, data[0] as Uint8Array).then(() => true))
      for (const d of data.slice(1)) await js.publish(DATA_SUBJECT, d)
      for (const t of telemetry) await js.publish(t.subject, t.data)
      const jsm = await jetstreamManager(nc)
      const settled = async (stream: string, consumer: string) => {
        const info = await jsm.consumers.info(stream, consumer)
        return info.num_pending === 0 && info.num_ack_pending === 0 && info
      }
      const central = await waitFor('data settled', () => settled(STREAMS.data.name, CONSUMERS.data))
      const runs = await waitFor('telemetry settled', () => settled(STREAMS.telemetry.name, CONSUMERS.runs))
      // Nothing was naked for a retry: a refused message is dead-lettered or counted at once.
      expect(central.num_redelivered).toBe(0)
      expect(runs.num_redelivered).toBe(0)
      expect(cp.context.central.deadLettered).toBeGreaterThanOrEqual(refused)
      expect(cp.context.ingest.rejected + cp.context.ingest.processed).toBe(telemetry.length)
      expect((await jsm.streams.info(STREAMS.deadLetter.name)).state.messages).toBe(
        cp.context.central.deadLettered,
      )
    } finally {
      await nc.close()
      await cp.stop()
      await nats.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
