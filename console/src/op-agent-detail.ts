/**
 * One agent (#/agents/:id): health, what it runs against what it should, its rows and outbox over
 * the last 15 minutes, recent runs, its state timeline (online, degraded and why, offline, revoked),
 * its history (alerts and audit entries), probes at the site,
 * labels and revocation. Controls follow the role: probes for operators, labels and revoke for admins.
 */
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import {
  type Agent,
  type AgentSample,
  type AgentStateChange,
  type Alert,
  type ApiClient,
  type AuditEntry,
  formatSpan,
  type PipelineSummary,
  type Principal,
  type ProbeKind,
  type Run,
  timeAgo,
} from './api.js'
import { ROW_SERIES, rowsPerSecond } from './op-throughput-chart.js'
import { OUTBOX_SERIES, outboxSeries } from './outbox-series.js'
import { baseStyles, detailStyles, formStyles } from './styles.js'
import './op-runs-table.js'
import './op-series-chart.js'

const METRICS_REFRESH_MS = 10_000

/** "region=eu, tier=gold" → labels; throws naming the part that is not key=value. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!part) continue
    const eq = part.indexOf('=')
    if (eq <= 0) throw new Error(`"${part}" is not key=value`)
    labels[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return labels
}

const formatLabels = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ')

export class OpAgentDetail extends LitElement {
  static override styles = [
    baseStyles,
    formStyles,
    detailStyles,
    css`
      .charts {
        display: grid;
        grid-template-columns: minmax(0, 1fr);
        gap: 0.5rem;
        --chart-height: 160px;
      }
      @media (min-width: 1100px) {
        .charts {
          grid-template-columns: repeat(3, minmax(0, 1fr));
        }
      }
      form.inline {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: end;
      }
      form.inline label {
        display: grid;
        gap: 0.15rem;
        font-size: 0.85rem;
      }
      pre {
        white-space: pre-wrap;
        overflow-wrap: anywhere;
        font-size: 0.8rem;
        max-height: 20rem;
        overflow: auto;
        background: #f6f7f9;
        padding: 0.5rem;
      }
      dialog {
        max-width: min(30rem, 90vw);
        border: 1px solid #9aa3ad;
        border-radius: 8px;
      }
      .danger {
        border-color: #b42318;
        color: #8a1c17;
      }
    `,
  ]
  static override properties = {
    api: { attribute: false },
    agentId: { type: String },
    agent: { attribute: false },
    pipelines: { attribute: false },
    liveRuns: { attribute: false },
    principal: { attribute: false },
    now: { type: Number },
    samples: { state: true },
    bucketMs: { state: true },
    runs: { state: true },
    history: { state: true },
    states: { state: true },
    alerts: { state: true },
    error: { state: true },
    labelsError: { state: true },
    probeResult: { state: true },
    probing: { state: true },
    notice: { state: true },
  }

  declare api: ApiClient
  declare agentId: string
  /** The agent as the live stream last saw it. */
  declare agent: Agent | undefined
  declare pipelines: PipelineSummary[]
  declare liveRuns: Run[]
  declare principal: Principal
  declare now: number
  declare samples: AgentSample[]
  declare bucketMs: number
  declare runs: Run[]
  declare history: AuditEntry[]
  /** State changes, newest first. */
  declare states: AgentStateChange[]
  declare alerts: Alert[]
  declare error: string
  declare labelsError: string
  declare probeResult: { ok: boolean; error?: string; result?: unknown } | undefined
  declare probing: boolean
  declare notice: string
  private timer: number | undefined
  private statesRetry: number | undefined

  constructor() {
    super()
    this.agentId = ''
    this.agent = undefined
    this.pipelines = []
    this.liveRuns = []
    this.now = Date.now()
    this.samples = []
    this.bucketMs = 10_000
    this.runs = []
    this.history = []
    this.states = []
    this.alerts = []
    this.error = ''
    this.labelsError = ''
    this.probeResult = undefined
    this.probing = false
    this.notice = ''
  }

  override connectedCallback(): void {
    super.connectedCallback()
    this.timer = window.setInterval(() => {
      void this.loadMetrics()
      void this.loadStates()
    }, METRICS_REFRESH_MS)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    window.clearInterval(this.timer)
    window.clearTimeout(this.statesRetry)
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('agentId') && this.agentId) void this.load()
    // The live stream says the state changed: the timeline follows.
    else if (changed.has('agent') && this.agent && this.agent.state !== this.states[0]?.state)
      void this.loadStates()
    // A run the live stream reports for this agent joins the list at once.
    if (changed.has('liveRuns')) {
      const mine = this.liveRuns.filter((r) => r.agentId === this.agentId)
      if (mine.length > 0) {
        const byId = new Map(this.runs.map((r) => [r.id, r]))
        for (const r of mine) byId.set(r.id, r)
        this.runs = [...byId.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, 20)
      }
    }
  }

  private async load(): Promise<void> {
    const id = this.agentId
    try {
      const [agent, runs, history, alerts, states] = await Promise.all([
        this.api.agent(id),
        this.api.agentRuns(id),
        this.api.agentHistory(id),
        this.api.agentAlerts(id),
        this.api.agentStates(id),
      ])
      if (id !== this.agentId) return
      this.agent ??= agent
      this.runs = runs
      this.history = history
      this.states = states
      this.alerts = alerts
      this.error = ''
      await this.loadMetrics()
    } catch (error) {
      this.error = (error as Error).message
    }
  }

  private async loadMetrics(): Promise<void> {
    if (!this.agentId) return
    try {
      const metrics = await this.api.agentMetrics(this.agentId)
      this.samples = metrics.points
      this.bucketMs = metrics.bucketMs
    } catch {
      // The next refresh tries again; the rest of the page stays.
    }
  }

  /**
   * Reloads the state timeline. The change is recorded as it is announced, so a read right after
   * the announcement may not have it yet: then it asks again shortly, a few times.
   */
  private async loadStates(attempt = 0): Promise<void> {
    const id = this.agentId
    if (!id) return
    window.clearTimeout(this.statesRetry)
    try {
      const states = await this.api.agentStates(id)
      if (id !== this.agentId) return
      this.states = states
      if (this.agent && states[0]?.state !== this.agent.state && attempt < 5)
        this.statesRetry = window.setTimeout(() => void this.loadStates(attempt + 1), 1000)
    } catch {
      // The next refresh tries again.
    }
  }

  private async saveLabels(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    const input = (event.target as HTMLFormElement).elements.namedItem('labels') as HTMLInputElement
    try {
      const updated = await this.api.setLabels(this.agentId, parseLabels(input.value))
      this.agent = updated
      this.labelsError = ''
      this.notice = `Labels saved: ${formatLabels(updated.labels) || 'none'}`
      this.history = await this.api.agentHistory(this.agentId)
    } catch (error) {
      this.labelsError = (error as Error).message
    }
  }

  private async runProbe(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    const form = (event.target as HTMLFormElement).elements
    const value = (name: string) => (form.namedItem(name) as HTMLInputElement | HTMLSelectElement).value
    this.probing = true
    this.probeResult = undefined
    try {
      const pipeline = await this.api.pipeline(value('probe-pipeline'))
      this.probeResult = await this.api.probe(this.agentId, {
        kind: value('probe-kind') as ProbeKind,
        spec: pipeline.spec,
        target: value('probe-target') || 'source',
        limit: Number(value('probe-limit')) || 20,
      })
    } catch (error) {
      this.probeResult = { ok: false, error: (error as Error).message }
    } finally {
      this.probing = false
    }
  }

  private dialog(): HTMLDialogElement | null {
    return this.renderRoot.querySelector('dialog#revoke-dialog')
  }

  private async confirmRevoke(): Promise<void> {
    this.dialog()?.close()
    try {
      this.agent = await this.api.revoke(this.agentId)
      this.notice = 'Agent revoked: its stream is closed and its credential refused.'
      this.history = await this.api.agentHistory(this.agentId)
    } catch (error) {
      this.notice = `Revoke failed: ${(error as Error).message}`
    }
  }

  private renderHealth(a: Agent) {
    const s = a.status
    return html`<section class="card" aria-labelledby="health-title">
      <h2 id="health-title">Health</h2>
      <dl>
        <dt>State</dt>
        <dd><span class="badge ${a.state}" data-testid="detail-state">${a.state}</span>
          ${a.degradedReasons?.length ? html`<span class="muted">${a.degradedReasons.join('; ')}</span>` : nothing}</dd>
        <dt>Last seen</dt>
        <dd>${timeAgo(a.lastSeenAt, this.now)}${a.connected ? ' (connected)' : ''}</dd>
        <dt>Version</dt>
        <dd>${a.agentVersion || '-'}</dd>
        ${a.host ? html`<dt>Host</dt><dd>${a.host.hostname} (${a.host.os}/${a.host.arch})</dd>` : nothing}
        <dt>Outbox</dt>
        <dd data-testid="detail-outbox">${s ? `${s.outboxBatches} batches waiting, oldest ${Math.round(s.outboxOldestAgeMs / 1000)} s` : 'not reported yet'}</dd>
        <dt>Runs active</dt>
        <dd>${s?.runsActive ?? 0}</dd>
        <dt>NATS</dt>
        <dd>${s ? (s.natsConnected ? 'connected' : 'disconnected') : '-'}</dd>
        <dt>Labels</dt>
        <dd data-testid="detail-labels">${formatLabels(a.labels) || 'none'}</dd>
      </dl>
    </section>`
  }

  private renderPipelines(a: Agent) {
    const rows = new Map<string, { desired?: number; applied?: number; state: string; error?: string }>()
    for (const p of a.applied)
      rows.set(p.name, {
        desired: p.version,
        applied: p.version,
        state: p.state === 'failed' ? 'failed' : 'in sync',
        ...(p.error ? { error: p.error } : {}),
      })
    for (const d of a.drift) {
      const applied = d.applied?.version
      rows.set(d.pipeline, {
        ...(d.desired ? { desired: d.desired.version } : {}),
        ...(applied !== undefined ? { applied } : {}),
        state: !d.desired ? 'to remove' : d.applied?.state === 'failed' ? 'failed' : 'drift',
        ...(d.applied?.error ? { error: d.applied.error } : {}),
      })
    }
    return html`<section class="card" aria-labelledby="applied-title">
      <h2 id="applied-title">Pipelines: desired and applied</h2>
      <table data-testid="detail-pipelines">
        <thead><tr><th scope="col">Pipeline</th><th scope="col">Desired</th><th scope="col">Applied</th><th scope="col">Status</th></tr></thead>
        <tbody>
          ${
            rows.size === 0
              ? html`<tr><td colspan="4" class="muted">No pipeline is meant for this agent.</td></tr>`
              : [...rows].map(
                  ([name, r]) => html`<tr data-pipeline=${name}>
                    <td>${name}</td>
                    <td>${r.desired === undefined ? '-' : `v${r.desired}`}</td>
                    <td>${r.applied === undefined ? 'not yet' : `v${r.applied}`}</td>
                    <td><span class="badge ${r.state === 'in sync' ? 'online' : r.state === 'failed' ? 'failed' : 'degraded'}">${r.state}</span>
                      ${r.error ? html`<br /><span class="muted">${r.error}</span>` : nothing}</td>
                  </tr>`,
                )
          }
        </tbody>
      </table>
    </section>`
  }

  private renderCharts() {
    const rows = rowsPerSecond(this.samples, this.bucketMs, 15, this.now)
    const [xs, batches, ageSeconds] = outboxSeries(this.samples, this.bucketMs, 15, this.now)
    const written = this.samples.reduce((n, p) => n + p.rowsWritten, 0)
    return html`<section class="card" aria-labelledby="charts-title">
      <h2 id="charts-title">Last 15 minutes</h2>
      <p class="muted" data-testid="detail-rows-total">${written.toLocaleString()} rows written</p>
      <div class="charts">
        <op-series-chart label="Rows per second read and written by this agent" unit="rows/s" .height=${160}
          .series=${ROW_SERIES} .data=${rows}></op-series-chart>
        <op-series-chart label="Batches waiting in this agent's outbox" unit="batches" .height=${160}
          .series=${[OUTBOX_SERIES[0]]} .data=${[xs, batches]}></op-series-chart>
        <op-series-chart label="Age of the oldest unacknowledged batch, seconds" unit="seconds" .height=${160}
          .series=${[OUTBOX_SERIES[1]]} .data=${[xs, ageSeconds]}></op-series-chart>
      </div>
    </section>`
  }

  private renderStates() {
    return html`<section class="card" aria-labelledby="states-title">
      <h2 id="states-title">State timeline</h2>
      ${
        this.states.length === 0
          ? html`<p class="muted">No state change recorded yet.</p>`
          : html`<table data-testid="detail-states">
              <thead><tr><th scope="col">State</th><th scope="col">Since</th><th scope="col">For</th><th scope="col">Why</th></tr></thead>
              <tbody>
                ${this.states.map(
                  (e) => html`<tr data-state=${e.state}>
                    <td><span class="badge ${e.state}">${e.state}</span></td>
                    <td><time datetime=${new Date(e.at).toISOString()} title=${new Date(e.at).toLocaleString()}>${timeAgo(e.at, this.now)}</time></td>
                    <td>${formatSpan(e.until === undefined ? Math.max(e.durationMs, this.now - e.at) : e.durationMs)}${e.until === undefined ? ' so far' : ''}</td>
                    <td>${e.reasons.length > 0 ? e.reasons.join('; ') : html`<span class="muted">-</span>`}</td>
                  </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>`
  }

  private renderHistory() {
    const entries = [
      ...this.alerts.map((a) => ({
        at: a.firedAt,
        what: html`<span class="badge ${a.severity === 'critical' ? 'failed' : 'degraded'}">${a.state}</span> ${a.summary}`,
      })),
      ...this.history.map((h) => ({ at: h.at, what: html`<code>${h.action}</code> by ${h.actor}` })),
    ].sort((x, y) => y.at - x.at)
    return html`<section class="card" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      ${
        entries.length === 0
          ? html`<p class="muted">No alerts or changes recorded for this agent.</p>`
          : html`<ul data-testid="detail-history">
              ${entries.slice(0, 30).map((e) => html`<li>${timeAgo(e.at, this.now)}: ${e.what}</li>`)}
            </ul>`
      }
    </section>`
  }

  private renderProbe(a: Agent) {
    const names = a.applied.map((p) => p.name)
    const choices = names.length > 0 ? names : this.pipelines.map((p) => p.name)
    const r = this.probeResult
    const result = r?.result as
      | { message?: string; columns?: { name: string; type: string }[]; rows?: unknown[][] }
      | undefined
    return html`<section class="card" aria-labelledby="probe-title">
      <h2 id="probe-title">Probe at the site</h2>
      <p class="muted">Runs at the agent: test a connection, preview rows after the transforms, or infer the schema. Nothing is written.</p>
      <form class="inline" @submit=${this.runProbe}>
        <label>Pipeline
          <select name="probe-pipeline" aria-label="Pipeline to probe" required>
            ${choices.map((n) => html`<option value=${n}>${n}</option>`)}
          </select>
        </label>
        <label>Probe
          <select name="probe-kind" aria-label="Probe kind">
            <option value="test_connection">test connection</option>
            <option value="preview">preview rows</option>
            <option value="schema">schema</option>
          </select>
        </label>
        <label>Target <input name="probe-target" aria-label="Probe target" value="source" size="9" /></label>
        <label>Rows <input name="probe-limit" aria-label="Rows to preview" type="number" min="1" max="1000" value="20" size="4" /></label>
        <button type="submit" ?disabled=${this.probing || choices.length === 0}>${this.probing ? 'Probing…' : 'Run probe'}</button>
      </form>
      <div data-testid="probe-result" role="status">
        ${
          !r
            ? nothing
            : !r.ok
              ? html`<p role="alert">Probe failed: ${r.error}</p>`
              : html`${result?.message ? html`<p>${result.message}</p>` : nothing}
                ${
                  result?.columns && result.rows
                    ? html`<table>
                        <thead><tr>${result.columns.map((c) => html`<th scope="col">${c.name} <span class="muted">${c.type}</span></th>`)}</tr></thead>
                        <tbody>${result.rows.map((row) => html`<tr>${row.map((v) => html`<td>${v === null ? '∅' : String(v)}</td>`)}</tr>`)}</tbody>
                      </table>`
                    : result?.columns
                      ? html`<p>${result.columns.map((c) => `${c.name} (${c.type})`).join(', ')}</p>`
                      : nothing
                }`
        }
      </div>
    </section>`
  }

  private renderAdmin(a: Agent) {
    return html`<section class="card" aria-labelledby="admin-title">
      <h2 id="admin-title">Labels and access</h2>
      <form class="inline" @submit=${this.saveLabels}>
        <label>Labels (key=value, comma-separated)
          <input name="labels" size="40" .value=${formatLabels(a.labels)} aria-describedby="labels-error" />
        </label>
        <button type="submit">Save labels</button>
      </form>
      <p id="labels-error" role=${this.labelsError ? 'alert' : nothing}>${this.labelsError}</p>
      ${
        a.state === 'revoked'
          ? html`<p class="muted">Revoked ${timeAgo(a.revokedAt, this.now)}.</p>`
          : html`<button type="button" class="danger" @click=${() => this.dialog()?.showModal()}>Revoke agent…</button>`
      }
      <dialog id="revoke-dialog" aria-labelledby="revoke-title">
        <h2 id="revoke-title">Revoke ${a.name}?</h2>
        <p>Its stream closes at once and its credential is refused from then on. It has to be enrolled again to come back.</p>
        <button type="button" class="danger" @click=${() => void this.confirmRevoke()}>Revoke</button>
        <button type="button" @click=${() => this.dialog()?.close()} autofocus>Cancel</button>
      </dialog>
    </section>`
  }

  override render() {
    const a = this.agent
    const role = this.principal.role
    return html`<nav><a href="#/">← All agents</a></nav>
      ${this.error ? html`<div class="card" role="alert">Cannot load agent ${this.agentId}: ${this.error}</div>` : nothing}
      ${
        !a
          ? this.error
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : html`<h1 data-testid="detail-title">${a.name} <span class="muted"><code>${a.id}</code></span></h1>
            ${this.notice ? html`<p role="status" data-testid="detail-notice">${this.notice}</p>` : nothing}
            ${this.renderHealth(a)}
            ${this.renderPipelines(a)}
            ${this.renderCharts()}
            <section class="card" aria-labelledby="agent-runs-title">
              <h2 id="agent-runs-title">Recent runs</h2>
              <op-runs-table .runs=${this.runs} .now=${this.now}></op-runs-table>
            </section>
            ${this.renderStates()}
            ${this.renderHistory()}
            ${role !== 'viewer' && a.state !== 'revoked' ? this.renderProbe(a) : nothing}
            ${role === 'admin' ? this.renderAdmin(a) : nothing}`
      }`
  }
}

customElements.define('op-agent-detail', OpAgentDetail)
