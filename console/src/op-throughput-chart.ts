import { html, LitElement } from 'lit'
import type { ThroughputPoint } from './api.js'
import { baseStyles } from './styles.js'
import './op-series-chart.js'

/**
 * Rows per second in a fixed window ending now, with zeroes where nothing ran, so the chart moves
 * with time. Buckets are `bucketMs` long, keyed by their start.
 */
export function rowsPerSecond(
  points: ThroughputPoint[],
  bucketMs: number,
  minutes = 15,
  now = Date.now(),
): [number[], number[], number[]] {
  const xs: number[] = []
  const read: number[] = []
  const written: number[] = []
  const byT = new Map(points.map((p) => [p.t, p]))
  const end = now - (now % bucketMs)
  for (let t = end - minutes * 60_000; t <= end; t += bucketMs) {
    const p = byT.get(t)
    xs.push(t / 1000)
    read.push(p ? p.rowsRead / (bucketMs / 1000) : 0)
    written.push(p ? p.rowsWritten / (bucketMs / 1000) : 0)
  }
  return [xs, read, written]
}

export const ROW_SERIES = [
  { label: 'read', stroke: '#2f6fde' },
  { label: 'written', stroke: '#1a9b5c' },
]

/** Rows per second across the fleet, from the control plane's 10 s buckets. */
export class OpThroughputChart extends LitElement {
  static override styles = [baseStyles]
  static override properties = { points: { attribute: false }, bucketMs: { type: Number } }

  declare points: ThroughputPoint[]
  declare bucketMs: number

  constructor() {
    super()
    this.points = []
    this.bucketMs = 10_000
  }

  override render() {
    const total = this.points.reduce((n, p) => n + p.rowsWritten, 0)
    return html`<div class="card">
      <h2 id="chart-title">Rows per second, whole fleet</h2>
      <p class="muted" data-testid="throughput-total">${total.toLocaleString()} rows written in the last 15 minutes</p>
      <op-series-chart
        label="Rows per second read and written by the whole fleet, last 15 minutes"
        unit="rows/s"
        .series=${ROW_SERIES}
        .data=${rowsPerSecond(this.points, this.bucketMs)}
      ></op-series-chart>
    </div>`
  }
}

customElements.define('op-throughput-chart', OpThroughputChart)
