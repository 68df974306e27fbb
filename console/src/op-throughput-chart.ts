import { css, html, LitElement, unsafeCSS } from 'lit'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css'
import type { ThroughputPoint } from './api.js'
import { baseStyles } from './styles.js'

/** Rows per second across the fleet, from the control plane's 10 s buckets. */
export class OpThroughputChart extends LitElement {
  static override styles = [
    baseStyles,
    unsafeCSS(uplotCss),
    css`
      .plot {
        min-height: 220px;
      }
    `,
  ]
  static override properties = { points: { attribute: false }, bucketMs: { type: Number } }

  declare points: ThroughputPoint[]
  declare bucketMs: number
  private plot: uPlot | undefined
  private resizeObserver: ResizeObserver | undefined

  constructor() {
    super()
    this.points = []
    this.bucketMs = 10_000
  }

  private series(): [number[], number[], number[]] {
    const xs: number[] = []
    const read: number[] = []
    const written: number[] = []
    const byT = new Map(this.points.map((p) => [p.t, p]))
    const now = Date.now()
    const end = now - (now % this.bucketMs)
    // A fixed 15-minute window with zeroes where nothing ran, so the chart moves with time.
    for (let t = end - 15 * 60_000; t <= end; t += this.bucketMs) {
      const p = byT.get(t)
      xs.push(t / 1000)
      read.push(p ? p.rowsRead / (this.bucketMs / 1000) : 0)
      written.push(p ? p.rowsWritten / (this.bucketMs / 1000) : 0)
    }
    return [xs, read, written]
  }

  override render() {
    const total = this.points.reduce((n, p) => n + p.rowsWritten, 0)
    return html`<div class="card">
      <h2 id="chart-title">Rows per second, whole fleet</h2>
      <p class="muted" data-testid="throughput-total">${total.toLocaleString()} rows written in the last 15 minutes</p>
      <div class="plot" role="img" aria-labelledby="chart-title"></div>
    </div>`
  }

  override updated(): void {
    const container = this.renderRoot.querySelector('.plot') as HTMLElement | null
    if (!container) return
    const data = this.series()
    if (!this.plot) {
      this.plot = new uPlot(
        {
          width: Math.max(300, container.clientWidth),
          height: 220,
          series: [
            {},
            { label: 'read', stroke: '#2f6fde', width: 2 },
            { label: 'written', stroke: '#1a9b5c', width: 2 },
          ],
          axes: [{}, { label: 'rows/s' }],
          scales: { x: { time: true } },
        },
        data,
        container,
      )
      this.resizeObserver = new ResizeObserver(() =>
        this.plot?.setSize({ width: Math.max(300, container.clientWidth), height: 220 }),
      )
      this.resizeObserver.observe(container)
    } else {
      this.plot.setData(data)
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.resizeObserver?.disconnect()
    this.plot?.destroy()
    this.plot = undefined
  }
}

customElements.define('op-throughput-chart', OpThroughputChart)
