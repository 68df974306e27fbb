import { html, LitElement } from 'lit'
import { formatSchedule, type PipelineSummary, type Run } from './api.js'
import { baseStyles } from './styles.js'
import './op-runs-table.js'

/** Pipelines with their latest version, and the most recent runs across the fleet. */
export class OpPipelinesView extends LitElement {
  static override styles = [baseStyles]
  static override properties = {
    pipelines: { attribute: false },
    runs: { attribute: false },
    now: { type: Number },
  }

  declare pipelines: PipelineSummary[]
  declare runs: Run[]
  declare now: number

  constructor() {
    super()
    this.pipelines = []
    this.runs = []
    this.now = Date.now()
  }

  override render() {
    return html`<section class="card" aria-labelledby="pipelines-title">
        <h2 id="pipelines-title">Pipelines</h2>
        <table>
          <thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">Schedule</th><th scope="col">Source → sinks</th></tr></thead>
          <tbody>
            ${this.pipelines.map(
              (p) => html`<tr data-pipeline=${p.name}>
                <td><strong>${p.name}</strong>${p.description ? html`<br /><span class="muted">${p.description}</span>` : ''}</td>
                <td>v${p.version}</td>
                <td>${formatSchedule(p.schedule)}</td>
                <td>${p.source ?? '?'} → ${p.sinks.join(', ')}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </section>
      <section class="card" aria-labelledby="runs-title">
        <h2 id="runs-title">Recent runs</h2>
        <op-runs-table .runs=${this.runs} .now=${this.now}></op-runs-table>
        <p><a href="#/runs">All runs</a></p>
      </section>`
  }
}

customElements.define('op-pipelines-view', OpPipelinesView)
