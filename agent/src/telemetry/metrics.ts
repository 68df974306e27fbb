/**
 * Counters and gauges from the fixed vocabulary in shared/metrics.ts. Counter increases are sent
 * to the control plane as deltas in a MetricBatch through the outbox, so none is lost offline.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import { METRICS, type MetricDefinition, subjects } from '@outpost/shared'
import {
  MetricBatchSchema,
  MetricKind,
  MetricSchema,
} from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import { NATS_LANE, type PendingAppend } from '../outbox/outbox.js'
import type { PromMetrics } from './prometheus.js'

interface Sample {
  def: MetricDefinition
  labels: Record<string, string>
  value: number
}

function keyOf(def: MetricDefinition, labels: Record<string, string>): string {
  return `${def.name}\u0000${Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`
}

export class AgentMetrics {
  private readonly deltas = new Map<string, Sample>()
  private readonly totals = new Map<string, Sample>()
  private seq = 0
  private lastFlush = Date.now()
  private lastGauges = ''

  /** The same counters for Prometheus, when the agent serves /metrics locally. */
  private prometheus: PromMetrics | undefined

  constructor(private readonly agentId: () => string) {}

  /** Counts from now on also go to this registry (counts so far are added first). */
  exposeTo(prometheus: PromMetrics): void {
    for (const s of this.totals.values()) prometheus.inc(s.def, s.labels, s.value)
    this.prometheus = prometheus
  }

  inc(def: MetricDefinition, labels: Record<string, string>, value = 1): void {
    if (value === 0) return
    this.prometheus?.inc(def, labels, value)
    const key = keyOf(def, labels)
    for (const map of [this.deltas, this.totals]) {
      const s = map.get(key)
      if (s) s.value += value
      else map.set(key, { def, labels, value })
    }
  }

  /** A histogram observation; only the local Prometheus endpoint carries histograms. */
  observe(def: MetricDefinition, labels: Record<string, string>, value: number): void {
    this.prometheus?.observe(def, labels, value)
  }

  /** Totals since start, for local status. */
  total(def: MetricDefinition, labels: Record<string, string>): number {
    return this.totals.get(keyOf(def, labels))?.value ?? 0
  }

  /** A MetricBatch for the outbox, or undefined when nothing changed since the last one. */
  flush(gauges: { def: MetricDefinition; value: number }[]): PendingAppend | undefined {
    const now = Date.now()
    const gaugeKey = gauges.map((g) => `${g.def.name}=${g.value}`).join(',')
    if (this.deltas.size === 0 && gaugeKey === this.lastGauges) return undefined
    this.lastGauges = gaugeKey
    const agentId = this.agentId()
    const metrics = [
      ...[...this.deltas.values()].map((s) =>
        create(MetricSchema, {
          name: s.def.name,
          labels: s.labels,
          kind: MetricKind.COUNTER,
          value: s.value,
        }),
      ),
      ...gauges.map((g) =>
        create(MetricSchema, { name: g.def.name, labels: {}, kind: MetricKind.GAUGE, value: g.value }),
      ),
    ]
    this.deltas.clear()
    const seq = ++this.seq
    const batch = create(MetricBatchSchema, {
      agentId,
      seq: BigInt(seq),
      collectedAtMs: BigInt(now),
      intervalMs: BigInt(now - this.lastFlush),
      metrics,
    })
    this.lastFlush = now
    return {
      lane: NATS_LANE,
      header: {
        id: `${agentId}/metrics/${now}/${seq}`,
        kind: 'metrics',
        createdAt: now,
        subject: subjects.metrics(agentId),
      },
      payload: toBinary(MetricBatchSchema, batch),
    }
  }
}

export { METRICS }
