import { html, LitElement } from 'lit'
import { formatDuration, type Run, timeAgo } from './api.js'
import { baseStyles } from './styles.js'

/** Runs, newest first; each links to its detail (#/runs/:id). */
export class OpRunsTable extends LitElement {
  static override styles = [baseStyles]
  static override properties = { runs: { attribute: false }, now: { type: Number }, limit: { type: Number } }

  declare runs: Run[]
  declare now: number
  declare limit: number

  constructor() {
    super()
    this.runs = []
    this.now = Date.now()
    this.limit = 20
  }

  override render() {
    return html`<table>
      <thead><tr><th scope="col">Pipeline</th><th scope="col">Status</th><th scope="col">Rows read / written / quarantined</th><th scope="col">Started</th><th scope="col">Duration</th></tr></thead>
      <tbody>
        ${
          this.runs.length === 0
            ? html`<tr><td colspan="5" class="muted">No runs yet.</td></tr>`
            : this.runs.slice(0, this.limit).map(
                (r) => html`<tr data-run=${r.id}>
                  <td><a href="#/runs/${encodeURIComponent(r.id)}" aria-label="Run ${r.id}: ${r.pipeline}@${r.version}, ${r.status}">${r.pipeline}@${r.version}</a><br /><span class="muted"><code>${r.agentId}</code></span></td>
                  <td><span class="badge ${r.status}">${r.status}</span>${r.errors[0] ? html`<br /><span class="muted">${r.errors[0].message}</span>` : ''}</td>
                  <td>${r.counts.rowsRead} / ${r.counts.rowsWritten} / ${r.counts.rowsQuarantined}</td>
                  <td>${timeAgo(r.startedAt, this.now)}</td>
                  <td>${formatDuration(r)}</td>
                </tr>`,
              )
        }
      </tbody>
    </table>`
  }
}

customElements.define('op-runs-table', OpRunsTable)
