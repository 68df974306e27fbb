import { create, toBinary } from '@bufbuild/protobuf'
import { METRICS } from '@outpost/shared'
import {
  MetricBatchSchema,
  MetricKind,
  MetricSchema,
  RunEventSchema,
  RunStatus,
} from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { testContext } from '../test-context.js'
import { RejectedMessageError } from './telemetry.js'

describe('telemetry ingest', () => {
  let ctx: ReturnType<typeof testContext>
  beforeEach(() => {
    ctx = testContext()
  })
  afterEach(() => ctx.close())

  const runEvent = (agentId: string, status: RunStatus) =>
    toBinary(
      RunEventSchema,
      create(RunEventSchema, {
        runId: 'r1',
        agentId,
        pipeline: 'p',
        pipelineVersion: 1,
        status,
        startedAtMs: 1000n,
        counts: { rowsRead: 5n, rowsWritten: 4n },
      }),
    )

  it('records run events and keeps the final status', async () => {
    await ctx.ingest.apply('outpost.agent.agt-a.run.p', runEvent('agt-a', RunStatus.SUCCEEDED))
    await ctx.ingest.apply('outpost.agent.agt-a.run.p', runEvent('agt-a', RunStatus.RUNNING))
    expect(await ctx.store.getRun('r1')).toMatchObject({
      status: 'succeeded',
      counts: { rowsRead: 5, rowsWritten: 4 },
    })
  })

  it('rejects undecodable messages and messages that claim another agent', async () => {
    await expect(
      ctx.ingest.apply('outpost.agent.agt-a.run.p', new Uint8Array([0xff, 0xff, 0xff])),
    ).rejects.toThrow(RejectedMessageError)
    await expect(
      ctx.ingest.apply('outpost.agent.agt-b.run.p', runEvent('agt-a', RunStatus.SUCCEEDED)),
    ).rejects.toThrow('run event of agt-a published under agt-b')
    await expect(
      ctx.ingest.apply('outpost.agent.agt-a.run.other', runEvent('agt-a', RunStatus.SUCCEEDED)),
    ).rejects.toThrow('published under other')
    await expect(ctx.ingest.apply('somewhere.else', new Uint8Array())).rejects.toThrow('unexpected subject')
    expect(await ctx.store.getRun('r1')).toBeUndefined()
  })

  it('adds row counters to the throughput buckets', async () => {
    const at = Date.now()
    const batch = create(MetricBatchSchema, {
      agentId: 'agt-a',
      collectedAtMs: BigInt(at),
      metrics: [
        create(MetricSchema, { name: METRICS.rowsRead.name, kind: MetricKind.COUNTER, value: 100 }),
        create(MetricSchema, { name: METRICS.rowsWritten.name, kind: MetricKind.COUNTER, value: 90 }),
        create(MetricSchema, { name: METRICS.rowsWritten.name, kind: MetricKind.COUNTER, value: -5 }),
        create(MetricSchema, { name: METRICS.outboxBatches.name, kind: MetricKind.GAUGE, value: 3 }),
      ],
    })
    await ctx.ingest.apply('outpost.agent.agt-a.metrics', toBinary(MetricBatchSchema, batch))
    expect(await ctx.store.throughput(at - 20_000)).toEqual([
      { t: at - (at % 10_000), rowsRead: 100, rowsWritten: 90 },
    ])
    // The same batch, per agent, with its outbox gauges, for the console's agent charts.
    expect(await ctx.store.agentSeries('agt-a', at - 20_000)).toEqual([
      { t: at - (at % 10_000), rowsRead: 100, rowsWritten: 90, outboxBatches: 3 },
    ])
  })
})
