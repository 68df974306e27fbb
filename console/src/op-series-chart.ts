import { css, html, LitElement, unsafeCSS } from 'lit'
import uPlot from 'uplot'
import uplotCss from 'uplot/dist/uPlot.min.css'
import { baseStyles } from './styles.js'

export interface ChartSeries {
  label: string
  stroke: string
}

/** A uPlot time series: x in seconds since the epoch, one y array per series; resizes with its box. */
export class OpSeriesChart extends LitElement {
  static override styles = [
    baseStyles,
    unsafeCSS(uplotCss),
    css`
      .plot {
        min-height: var(--chart-height, 220px);
      }
    `,
  ]
  static override properties = {
    label: { type: String },
    unit: { type: String },
    series: { attribute: false },
    data: { attribute: false },
    height: { type: Number },
  }

  declare label: string
  declare unit: string
  declare series: ChartSeries[]
  declare data: number[][]
  declare height: number
  private plot: uPlot | undefined
  private resizeObserver: ResizeObserver | undefined

  constructor() {
    super()
    this.label = ''
    this.unit = ''
    this.series = []
    this.data = [[]]
    this.height = 220
  }

  override render() {
    return html`<div class="plot" role="img" aria-label=${this.label}></div>`
  }

  override updated(): void {
    const container = this.renderRoot.querySelector('.plot') as HTMLElement | null
    if (!container) return
    const data = this.data as uPlot.AlignedData
    if (this.plot) {
      this.plot.setData(data)
      return
    }
    const width = () => Math.max(240, container.clientWidth)
    this.plot = new uPlot(
      {
        width: width(),
        height: this.height,
        series: [{}, ...this.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }))],
        axes: [{}, { label: this.unit }],
        scales: { x: { time: true } },
      },
      data,
      container,
    )
    this.resizeObserver = new ResizeObserver(() =>
      this.plot?.setSize({ width: width(), height: this.height }),
    )
    this.resizeObserver.observe(container)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.resizeObserver?.disconnect()
    this.plot?.destroy()
    this.plot = undefined
  }
}

customElements.define('op-series-chart', OpSeriesChart)
