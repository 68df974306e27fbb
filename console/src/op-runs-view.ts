import { html, LitElement, type PropertyValues } from 'lit'
import type { ApiClient, Run } from './api.js'
import { baseStyles, formStyles } from './styles.js'
import './op-runs-table.js'

const STATUSES = ['running', 'succeeded', 'failed', 'cancelled']

/** Runs across the fleet (#/runs), newest first, by status; each opens its detail. */
export class OpRunsView extends LitElement {
  static override styles = [baseStyles, formStyles]
  static override properties = {
    api: { attribute: false },
    liveRuns: { attribute: false },
    now: { type: Number },
    status: { state: true },
    runs: { state: true },
    error: { state: true },
  }

  declare api: ApiClient
  declare liveRuns: Run[]
  declare now: number
  declare status: string
  declare runs: Run[]
  declare error: string

  constructor() {
    super()
    this.liveRuns = []
    this.now = Date.now()
    this.status = ''
    this.runs = []
    this.error = ''
  }

  override connectedCallback(): void {
    super.connectedCallback()
    void this.load()
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('liveRuns') && this.runs.length > 0) {
      const byId = new Map(this.runs.map((r) => [r.id, r]))
      for (const r of this.liveRuns) if (!this.status || r.status === this.status) byId.set(r.id, r)
      this.runs = [...byId.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, 200)
    }
  }

  private async load(): Promise<void> {
    try {
      this.runs = await this.api.runs(200, this.status || undefined)
      this.error = ''
    } catch (error) {
      this.error = (error as Error).message
    }
  }

  override render() {
    return html`<nav><a href="#/">← Overview</a></nav>
      <section class="card" aria-labelledby="all-runs-title">
        <h2 id="all-runs-title">Runs</h2>
        <label>Status
          <select aria-label="Filter runs by status" @change=${(e: Event) => {
            this.status = (e.target as HTMLSelectElement).value
            void this.load()
          }}>
            <option value="">all</option>
            ${STATUSES.map((s) => html`<option value=${s} ?selected=${s === this.status}>${s}</option>`)}
          </select>
        </label>
        ${this.error ? html`<p role="alert">Cannot load runs: ${this.error}</p>` : ''}
        <op-runs-table .runs=${this.runs} .now=${this.now} .limit=${200}></op-runs-table>
      </section>`
  }
}

customElements.define('op-runs-view', OpRunsView)
