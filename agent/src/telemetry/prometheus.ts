/**
 * Prometheus exposition of the fixed metric vocabulary (shared/metrics.ts): a prom-client registry
 * with the process metrics, a counter per counter definition and a gauge per gauge definition whose
 * value is read when scraped. Used by the agent's local port and by the control plane's /metrics.
 */
import type { MetricDefinition } from '@outpost/shared'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export type GaugeReader = () =>
  | { labels?: Record<string, string>; value: number }[]
  | Promise<{ labels?: Record<string, string>; value: number }[]>

export class PromMetrics {
  readonly registry = new Registry()
  private readonly counters = new Map<string, Counter>()

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  /** Adds to a counter of the vocabulary (created on first use). */
  inc(def: MetricDefinition, labels: Record<string, string>, value: number): void {
    let counter = this.counters.get(def.name)
    if (!counter) {
      counter = new Counter({
        name: def.name,
        help: def.help,
        labelNames: [...def.labels],
        registers: [this.registry],
      })
      this.counters.set(def.name, counter)
    }
    counter.inc(labels, value)
  }

  private readonly histograms = new Map<string, Histogram>()

  /** Records one observation of a histogram of the vocabulary (seconds). */
  observe(def: MetricDefinition, labels: Record<string, string>, value: number): void {
    let h = this.histograms.get(def.name)
    if (!h) {
      h = new Histogram({
        name: def.name,
        help: def.help,
        labelNames: [...def.labels],
        buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
        registers: [this.registry],
      })
      this.histograms.set(def.name, h)
    }
    h.observe(labels, value)
  }

  /** A gauge of the vocabulary whose values are read at scrape time. */
  gauge(def: MetricDefinition, read: GaugeReader): void {
    new Gauge({
      name: def.name,
      help: def.help,
      labelNames: [...def.labels],
      registers: [this.registry],
      async collect() {
        this.reset()
        for (const sample of await read()) {
          if (sample.labels) this.set(sample.labels, sample.value)
          else this.set(sample.value)
        }
      },
    })
  }

  metrics(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
