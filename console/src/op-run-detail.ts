/**
 * One run (#/runs/:id): counts, duration, errors, the quality report and, for operators, a sample
 * of the rows it quarantined at the site and a replay of them through the current version.
 */
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import {
  type ApiClient,
  formatDuration,
  type Principal,
  type QualityReport,
  type QuarantineAnswer,
  type Run,
  timeAgo,
} from './api.js'
import { baseStyles, detailStyles } from './styles.js'

const percent = (x: number) => `${(100 * x).toFixed(1)}%`

export class OpRunDetail extends LitElement {
  static override styles = [
    baseStyles,
    detailStyles,
    css`
      td code {
        overflow-wrap: anywhere;
      }
    `,
  ]
  static override properties = {
    api: { attribute: false },
    runId: { type: String },
    liveRuns: { attribute: false },
    principal: { attribute: false },
    now: { type: Number },
    run: { state: true },
    quarantine: { state: true },
    error: { state: true },
    replayResult: { state: true },
    replaying: { state: true },
  }

  declare api: ApiClient
  declare runId: string
  declare liveRuns: Run[]
  declare principal: Principal
  declare now: number
  declare run: Run | undefined
  declare quarantine: QuarantineAnswer[] | string | undefined
  declare error: string
  declare replayResult: string
  declare replaying: boolean

  constructor() {
    super()
    this.runId = ''
    this.liveRuns = []
    this.now = Date.now()
    this.run = undefined
    this.quarantine = undefined
    this.error = ''
    this.replayResult = ''
    this.replaying = false
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('runId') && this.runId) void this.load()
    else if (changed.has('liveRuns')) {
      // A running run's counts move with the live stream; once it ends, its quarantine is asked for.
      const live = this.liveRuns.find((r) => r.id === this.runId)
      if (!live || live === this.run) return
      if (this.run && live.status !== this.run.status) void this.load()
      else this.run = live
    }
  }

  private async load(): Promise<void> {
    try {
      this.run = await this.api.run(this.runId)
      this.error = ''
    } catch (error) {
      this.error = (error as Error).message
      return
    }
    if (this.principal.role !== 'viewer' && this.run.counts.rowsQuarantined > 0) await this.loadQuarantine()
  }

  private async loadQuarantine(): Promise<void> {
    if (!this.run) return
    try {
      this.quarantine = (await this.api.quarantine(this.run.pipeline, this.run.id)).items.filter(
        (i) => i.agentId === this.run?.agentId,
      )
    } catch (error) {
      this.quarantine = (error as Error).message
    }
  }

  private async replay(): Promise<void> {
    if (!this.run) return
    this.replaying = true
    try {
      const answer = await this.api.replay(this.run.pipeline, { run: this.run.id, agent: this.run.agentId })
      this.replayResult = answer.items
        .map((i) =>
          i.ok
            ? `replayed ${i.replayed ?? 0} rows: ${i.written ?? 0} written, ${i.left ?? 0} left in quarantine`
            : `replay failed: ${i.error}`,
        )
        .join('; ')
      await this.loadQuarantine()
    } catch (error) {
      this.replayResult = `replay failed: ${(error as Error).message}`
    } finally {
      this.replaying = false
    }
  }

  private renderQuality(q: QualityReport) {
    return html`<section class="card" aria-labelledby="quality-title">
      <h2 id="quality-title">Quality: <span class="badge ${q.status === 'ok' ? 'online' : q.status === 'warn' ? 'degraded' : 'failed'}" data-testid="quality-status">${q.status}</span></h2>
      <p class="muted">${q.rows} rows checked</p>
      <table data-testid="quality-columns">
        <thead><tr><th scope="col">Column</th><th scope="col">Type</th><th scope="col">Complete</th><th scope="col">Unique</th><th scope="col">Valid</th><th scope="col">Min / max / mean</th></tr></thead>
        <tbody>
          ${q.columns.map(
            (c) => html`<tr>
              <td>${c.name}</td><td>${c.type}</td><td>${percent(c.completeness)}</td>
              <td>${percent(c.uniqueness)}${c.distinctExact ? '' : '~'}</td><td>${percent(c.validity)}</td>
              <td>${c.min === undefined ? '-' : `${c.min} / ${c.max} / ${Number(c.mean?.toFixed(3))}`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${
        q.rules.length
          ? html`<table data-testid="quality-rules">
              <thead><tr><th scope="col">Rule</th><th scope="col">Severity</th><th scope="col">Rows failed</th></tr></thead>
              <tbody>${q.rules.map((r) => html`<tr><td>${r.name}</td><td>${r.severity}</td><td>${r.failed}</td></tr>`)}</tbody>
            </table>`
          : nothing
      }
      ${q.breaches.length ? html`<ul>${q.breaches.map((b) => html`<li>${b.level}: ${b.metric} of ${b.column} is ${percent(b.value)}, below ${percent(b.limit)}</li>`)}</ul>` : nothing}
    </section>`
  }

  private renderQuarantine(run: Run) {
    const q = this.quarantine
    const entries = Array.isArray(q) ? q.flatMap((a) => a.entries ?? []) : []
    const total = Array.isArray(q) ? q.reduce((n, a) => n + (a.total ?? 0), 0) : 0
    return html`<section class="card" aria-labelledby="quarantine-title">
      <h2 id="quarantine-title">Quarantined rows</h2>
      ${
        typeof q === 'string'
          ? html`<p role="alert">Cannot list the quarantine: ${q}</p>`
          : q === undefined
            ? html`<p class="muted">Asking the agent…</p>`
            : html`<p data-testid="quarantine-total">${total} rows of this run are in the agent's quarantine${entries.length < total ? ` (first ${entries.length} shown)` : ''}.</p>
              ${
                entries.length
                  ? html`<table data-testid="quarantine-rows">
                      <thead><tr><th scope="col">Source</th><th scope="col">Rule</th><th scope="col">Reason</th><th scope="col">Row</th></tr></thead>
                      <tbody>${entries.map((e) => html`<tr><td>${e.source}:${e.record}</td><td>${e.rule}</td><td>${e.reason}</td><td><code>${JSON.stringify(e.row)}</code></td></tr>`)}</tbody>
                    </table>`
                  : nothing
              }`
      }
      <p>
        <button type="button" ?disabled=${this.replaying} @click=${() => void this.replay()}>${this.replaying ? 'Replaying…' : `Replay this run's rows through ${run.pipeline}'s current version`}</button>
      </p>
      <p role="status" data-testid="replay-result">${this.replayResult}</p>
    </section>`
  }

  override render() {
    const r = this.run
    return html`<nav><a href="#/runs">← All runs</a>${r ? html` · <a href="#/agents/${encodeURIComponent(r.agentId)}">Agent ${r.agentId}</a>` : nothing}</nav>
      ${this.error ? html`<div class="card" role="alert">Cannot load run ${this.runId}: ${this.error}</div>` : nothing}
      ${
        !r
          ? nothing
          : html`<h1 data-testid="run-title">Run of ${r.pipeline}@${r.version}</h1>
            <section class="card" aria-labelledby="run-summary-title">
              <h2 id="run-summary-title">Summary</h2>
              <dl>
                <dt>Status</dt><dd><span class="badge ${r.status}" data-testid="run-status">${r.status}</span>${r.trigger ? ` (trigger ${r.trigger})` : ''}</dd>
                <dt>Run</dt><dd><code>${r.id}</code></dd>
                <dt>Started</dt><dd>${new Date(r.startedAt).toLocaleString()} (${timeAgo(r.startedAt, this.now)})</dd>
                <dt>Duration</dt><dd data-testid="run-duration">${formatDuration(r, this.now)}</dd>
                <dt>Rows</dt>
                <dd data-testid="run-counts">${r.counts.rowsRead} read, ${r.counts.rowsWritten} written, ${r.counts.rowsQuarantined} quarantined, ${r.counts.rowsFiltered} filtered, ${r.counts.rowsDropped ?? 0} dropped</dd>
                ${r.counts.bytesRead ? html`<dt>Bytes read</dt><dd>${r.counts.bytesRead.toLocaleString()}</dd>` : nothing}
              </dl>
              ${
                r.errors.length
                  ? html`<h3>Errors${r.errorsTotal && r.errorsTotal > r.errors.length ? ` (first ${r.errors.length} of ${r.errorsTotal})` : ''}</h3>
                    <ul>${r.errors.map((e) => html`<li>${e.stage ? `${e.stage}: ` : ''}${e.message}</li>`)}</ul>`
                  : nothing
              }
            </section>
            ${r.quality ? this.renderQuality(r.quality) : nothing}
            ${r.counts.rowsQuarantined > 0 && this.principal.role !== 'viewer' ? this.renderQuarantine(r) : nothing}`
      }`
  }
}

customElements.define('op-run-detail', OpRunDetail)
