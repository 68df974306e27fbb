/**
 * Consumes run events and metric batches from JetStream (a durable consumer) and records them.
 * A message is acknowledged only after the store has committed it; one that does not decode, or
 * claims to be from another agent than its subject says, is terminated and counted, never retried.
 */
import { fromBinary } from '@bufbuild/protobuf'
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import type { Logger } from '@outpost/agent'
import { CONSUMERS, METRICS, parseSubject, STREAMS } from '@outpost/shared'
import {
  MetricBatchSchema,
  MetricKind,
  type RunEvent,
  RunEventSchema,
  RunStatus,
} from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import type { EventBus } from '../events.js'
import { ensureConsumer, type NatsLink } from '../nats/link.js'
import type { RunRecord, RunStatusName, Store } from '../store/types.js'

export const THROUGHPUT_BUCKET_MS = 10_000

const STATUS: Record<RunStatus, RunStatusName> = {
  [RunStatus.UNSPECIFIED]: 'running',
  [RunStatus.RUNNING]: 'running',
  [RunStatus.SUCCEEDED]: 'succeeded',
  [RunStatus.FAILED]: 'failed',
  [RunStatus.CANCELLED]: 'cancelled',
}

export function runRecord(event: RunEvent, quality?: unknown): RunRecord {
  const c = event.counts
  return {
    id: event.runId,
    agentId: event.agentId,
    pipeline: event.pipeline,
    version: event.pipelineVersion,
    status: STATUS[event.status] ?? 'running',
    trigger: event.trigger,
    startedAt: Number(event.startedAtMs),
    ...(event.finishedAtMs ? { finishedAt: Number(event.finishedAtMs) } : {}),
    counts: {
      rowsRead: Number(c?.rowsRead ?? 0n),
      rowsWritten: Number(c?.rowsWritten ?? 0n),
      rowsQuarantined: Number(c?.rowsQuarantined ?? 0n),
      rowsFiltered: Number(c?.rowsFiltered ?? 0n),
      rowsDropped: Number(c?.rowsDropped ?? 0n),
      bytesRead: Number(c?.bytesRead ?? 0n),
      batches: c?.batches ?? 0,
    },
    errors: event.errors.map((e) => ({
      stage: e.stage,
      code: e.code,
      message: e.message,
      ...(e.record ? { record: Number(e.record) } : {}),
      ...(e.column ? { column: e.column } : {}),
      ...(e.source ? { source: e.source } : {}),
      ...(e.retryable ? { retryable: true } : {}),
    })),
    errorsTotal: event.errorsTotal,
    ...(quality !== undefined ? { quality } : {}),
    updatedAt: Date.now(),
  }
}

export class RejectedMessageError extends Error {
  override name = 'RejectedMessageError'
}

export class TelemetryIngest {
  rejected = 0
  processed = 0
  private stopped = false
  private messages: { stop(): void } | undefined

  constructor(
    private readonly link: NatsLink,
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.run().catch((error) =>
      this.log.error('telemetry ingest stopped', { error: (error as Error).message }),
    )
  }

  private async run(): Promise<void> {
    const nc = await this.link.whenReady()
    const jsm = await jetstreamManager(nc)
    await ensureConsumer(jsm, STREAMS.telemetry.name, {
      durable_name: CONSUMERS.runs,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      max_ack_pending: 4096,
    })
    const consumer = await jetstream(nc).consumers.get(STREAMS.telemetry.name, CONSUMERS.runs)
    while (!this.stopped) {
      const messages = await consumer.consume({ max_messages: 500 })
      this.messages = messages
      for await (const m of messages) await this.handle(m)
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000))
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    try {
      await this.apply(m.subject, m.data)
      this.processed++
      m.ack()
    } catch (error) {
      if (error instanceof RejectedMessageError) {
        this.rejected++
        this.log.throttled('ingest-reject', 60_000, 'warn', 'telemetry message rejected', {
          subject: m.subject,
          error: error.message,
          rejected: this.rejected,
        })
        m.term()
      } else {
        this.log.throttled(
          'ingest-fail',
          60_000,
          'error',
          'recording telemetry failed; will be redelivered',
          { error: (error as Error).message },
        )
        m.nak(5000)
      }
    }
  }

  /** Records one message; throws RejectedMessageError for messages that must not be retried. */
  async apply(subject: string, data: Uint8Array): Promise<void> {
    const parsed = parseSubject(subject)
    if (!parsed || parsed.kind === 'data') throw new RejectedMessageError(`unexpected subject ${subject}`)
    if (parsed.kind === 'run') {
      let event: RunEvent
      try {
        event = fromBinary(RunEventSchema, data)
      } catch (error) {
        throw new RejectedMessageError(`run event does not decode: ${(error as Error).message}`)
      }
      if (event.agentId !== parsed.agentId)
        throw new RejectedMessageError(`run event of ${event.agentId} published under ${parsed.agentId}`)
      if (event.pipeline !== parsed.pipeline)
        throw new RejectedMessageError(
          `run event of pipeline ${event.pipeline} published under ${parsed.pipeline}`,
        )
      if (!event.runId) throw new RejectedMessageError('run event without a run id')
      let quality: unknown
      try {
        quality = event.qualityJson ? JSON.parse(event.qualityJson) : undefined
      } catch (error) {
        throw new RejectedMessageError(`run event quality_json is not JSON: ${(error as Error).message}`)
      }
      const run = await this.store.recordRun(runRecord(event, quality))
      this.events.emit('run', run)
      return
    }
    let batch: ReturnType<typeof fromBinary<typeof MetricBatchSchema>>
    try {
      batch = fromBinary(MetricBatchSchema, data)
    } catch (error) {
      throw new RejectedMessageError(`metric batch does not decode: ${(error as Error).message}`)
    }
    if (batch.agentId !== parsed.agentId)
      throw new RejectedMessageError(`metrics of ${batch.agentId} published under ${parsed.agentId}`)
    let read = 0
    let written = 0
    let outboxBatches: number | undefined
    let outboxOldestAgeMs: number | undefined
    for (const metric of batch.metrics) {
      if (!Number.isFinite(metric.value) || metric.value < 0) continue
      if (metric.kind === MetricKind.GAUGE) {
        if (metric.name === METRICS.outboxBatches.name) outboxBatches = metric.value
        else if (metric.name === METRICS.outboxOldestAge.name) outboxOldestAgeMs = metric.value * 1000
        continue
      }
      if (metric.kind !== MetricKind.COUNTER) continue
      if (metric.name === METRICS.rowsRead.name) read += metric.value
      else if (metric.name === METRICS.rowsWritten.name) written += metric.value
    }
    const at = Number(batch.collectedAtMs)
    const bucket = at - (at % THROUGHPUT_BUCKET_MS)
    if (read > 0 || written > 0) {
      await this.store.addThroughput(bucket, read, written)
      this.events.emit('throughput', { t: bucket, rowsRead: read, rowsWritten: written })
    }
    if (read > 0 || written > 0 || outboxBatches !== undefined || outboxOldestAgeMs !== undefined)
      await this.store.addAgentSample(batch.agentId, {
        t: bucket,
        rowsRead: read,
        rowsWritten: written,
        ...(outboxBatches === undefined ? {} : { outboxBatches }),
        ...(outboxOldestAgeMs === undefined ? {} : { outboxOldestAgeMs }),
      })
  }

  stop(): void {
    this.stopped = true
    this.messages?.stop()
  }
}
