/**
 * The agents table: counts by state, filter by state, free-text search, sort by column, group by a
 * label key. Only one page of rows is in the DOM, so 10,000 agents stay responsive; the filtered
 * and sorted list is recomputed only when the agents or the controls change.
 */
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { repeat } from 'lit/directives/repeat.js'
import { type Agent, timeAgo } from './api.js'
import { baseStyles, formStyles } from './styles.js'

const STATES = ['online', 'degraded', 'offline', 'revoked'] as const
type SortKey = 'name' | 'state' | 'lastSeen' | 'version'
const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'state', label: 'State' },
  { key: 'lastSeen', label: 'Last seen' },
  { key: 'version', label: 'Version' },
]
export const PAGE_SIZE = 50
const NO_LABEL = '(no value)'

type Row = { kind: 'agent'; agent: Agent } | { kind: 'group'; key: string; value: string; count: number }

const compare: Record<SortKey, (a: Agent, b: Agent) => number> = {
  name: (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
  state: (a, b) => STATES.indexOf(a.state) - STATES.indexOf(b.state),
  lastSeen: (a, b) => (a.lastSeenAt ?? 0) - (b.lastSeenAt ?? 0),
  version: (a, b) => a.agentVersion.localeCompare(b.agentVersion, undefined, { numeric: true }),
}

function matchesQuery(agent: Agent, query: string): boolean {
  if (!query) return true
  if (agent.name.toLowerCase().includes(query) || agent.id.toLowerCase().includes(query)) return true
  for (const [k, v] of Object.entries(agent.labels))
    if (`${k}=${v}`.toLowerCase().includes(query)) return true
  return false
}

export class OpFleetView extends LitElement {
  static override styles = [
    baseStyles,
    formStyles,
    css`
      .controls {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem 1rem;
        align-items: end;
        margin-bottom: 0.75rem;
      }
      .controls label {
        display: grid;
        gap: 0.15rem;
        font-size: 0.85rem;
      }
      th button {
        border: none;
        background: none;
        padding: 0;
        margin: 0;
        font-weight: 600;
        color: inherit;
      }
      tr.group th {
        background: #eef1f5;
        color: #1b1f24;
      }
      .pager {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        margin-top: 0.5rem;
      }
      .labels {
        overflow-wrap: anywhere;
      }
      /* Narrow screens: each agent reads as a small block; the sort buttons wrap in a row. */
      @media (max-width: 640px) {
        table,
        tbody,
        tr,
        td,
        tr.group th {
          display: block;
        }
        thead tr {
          display: flex;
          flex-wrap: wrap;
        }
        thead th {
          border: none;
        }
        thead th:last-child {
          display: none;
        }
        tbody tr {
          border-bottom: 1px solid #e3e6ea;
          padding: 0.35rem 0;
        }
        td {
          border: none;
          padding: 0.1rem 0.6rem;
        }
      }
    `,
  ]
  static override properties = {
    agents: { attribute: false },
    now: { type: Number },
    stateFilter: { state: true },
    query: { state: true },
    sortKey: { state: true },
    sortAscending: { state: true },
    groupKey: { state: true },
    page: { state: true },
  }

  declare agents: Agent[]
  declare now: number
  declare stateFilter: string
  declare query: string
  declare sortKey: SortKey
  declare sortAscending: boolean
  declare groupKey: string
  declare page: number
  private rows: Row[] = []
  private matching = 0
  private labelKeys: string[] = []
  private counts = { online: 0, degraded: 0, offline: 0, revoked: 0 }

  constructor() {
    super()
    this.agents = []
    this.now = Date.now()
    this.stateFilter = ''
    this.query = ''
    this.sortKey = 'name'
    this.sortAscending = true
    this.groupKey = ''
    this.page = 0
  }

  override willUpdate(changed: PropertyValues<this>): void {
    // `now` ticks every few seconds: it changes "last seen", not which rows are shown.
    if ([...changed.keys()].every((k) => k === 'now')) return
    if (changed.has('agents')) {
      const counts = { online: 0, degraded: 0, offline: 0, revoked: 0 }
      const keys = new Set<string>()
      for (const a of this.agents) {
        counts[a.state]++
        for (const k of Object.keys(a.labels)) keys.add(k)
      }
      this.counts = counts
      this.labelKeys = [...keys].sort()
    }
    const query = this.query.trim().toLowerCase()
    const selected = this.agents.filter(
      (a) => (!this.stateFilter || a.state === this.stateFilter) && matchesQuery(a, query),
    )
    const direction = this.sortAscending ? 1 : -1
    const byColumn = compare[this.sortKey]
    const group = this.groupKey
    const groupOf = (a: Agent) => a.labels[group] ?? NO_LABEL
    selected.sort(
      (a, b) =>
        (group ? groupOf(a).localeCompare(groupOf(b)) : 0) ||
        direction * byColumn(a, b) ||
        compare.name(a, b),
    )
    this.matching = selected.length
    const pages = Math.max(1, Math.ceil(selected.length / PAGE_SIZE))
    if (this.page >= pages) this.page = pages - 1
    const groupSizes = new Map<string, number>()
    if (group) for (const a of selected) groupSizes.set(groupOf(a), (groupSizes.get(groupOf(a)) ?? 0) + 1)
    const rows: Row[] = []
    let current: string | undefined
    for (const agent of selected.slice(this.page * PAGE_SIZE, (this.page + 1) * PAGE_SIZE)) {
      if (group && groupOf(agent) !== current) {
        current = groupOf(agent)
        rows.push({ kind: 'group', key: group, value: current, count: groupSizes.get(current) ?? 0 })
      }
      rows.push({ kind: 'agent', agent })
    }
    this.rows = rows
  }

  private sortBy(key: SortKey): void {
    if (this.sortKey === key) this.sortAscending = !this.sortAscending
    else {
      this.sortKey = key
      this.sortAscending = true
    }
  }

  private renderAgent(a: Agent) {
    const labels = Object.entries(a.labels)
    return html`<tr data-agent-id=${a.id}>
      <td>
        <a href="#/agents/${encodeURIComponent(a.id)}"><strong>${a.name}</strong></a><br />
        <span class="muted"><code>${a.id}</code></span>
        ${labels.length ? html`<br /><span class="muted labels">${labels.map(([k, v]) => `${k}=${v}`).join(', ')}</span>` : nothing}
      </td>
      <td><span class="badge ${a.state}" data-testid="agent-state">${a.state}</span></td>
      <td>${timeAgo(a.lastSeenAt, this.now)}</td>
      <td>${a.agentVersion || '-'}</td>
      <td>
        ${a.applied.map(
          (p) =>
            html`<span class="badge ${p.state === 'failed' ? 'failed' : 'online'}" title=${p.error ?? ''}>${p.name}@${p.version}</span> `,
        )}
        ${a.drift.length > 0 ? html`<br /><span class="muted">drift: ${a.drift.map((d) => `${d.pipeline} → v${d.desired?.version ?? 'removed'}`).join(', ')}</span>` : nothing}
      </td>
    </tr>`
  }

  override render() {
    const c = this.counts
    const pages = Math.max(1, Math.ceil(this.matching / PAGE_SIZE))
    const first = this.matching === 0 ? 0 : this.page * PAGE_SIZE + 1
    const last = Math.min(this.matching, (this.page + 1) * PAGE_SIZE)
    return html`<section class="card" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      <p class="muted" data-testid="agent-counts">
        ${c.online} online · ${c.degraded} degraded · ${c.offline} offline${c.revoked ? ` · ${c.revoked} revoked` : ''}
      </p>
      <div class="controls">
        <label>State
          <select
            aria-label="Filter by state"
            @change=${(e: Event) => {
              this.stateFilter = (e.target as HTMLSelectElement).value
              this.page = 0
            }}
          >
            <option value="">all (${this.agents.length})</option>
            ${STATES.map((s) => html`<option value=${s} ?selected=${s === this.stateFilter}>${s} (${c[s]})</option>`)}
          </select>
        </label>
        <label>Search
          <input
            type="search"
            aria-label="Search agents by name, id or label"
            placeholder="name, id or label"
            .value=${this.query}
            @input=${(e: Event) => {
              this.query = (e.target as HTMLInputElement).value
              this.page = 0
            }}
          />
        </label>
        <label>Group by
          <select
            aria-label="Group by label"
            @change=${(e: Event) => {
              this.groupKey = (e.target as HTMLSelectElement).value
              this.page = 0
            }}
          >
            <option value="">no grouping</option>
            ${this.labelKeys.map((k) => html`<option value=${k} ?selected=${k === this.groupKey}>${k}</option>`)}
          </select>
        </label>
      </div>
      <table data-testid="fleet-table">
        <caption class="visually-hidden">Agents, sorted by ${this.sortKey} ${this.sortAscending ? 'ascending' : 'descending'}</caption>
        <thead>
          <tr>
            ${COLUMNS.map(
              (col) => html`<th
                scope="col"
                aria-sort=${this.sortKey === col.key ? (this.sortAscending ? 'ascending' : 'descending') : 'none'}
              >
                <button type="button" @click=${() => this.sortBy(col.key)}>
                  ${col.label}${this.sortKey === col.key ? (this.sortAscending ? ' ▲' : ' ▼') : ''}
                </button>
              </th>`,
            )}
            <th scope="col">Pipelines</th>
          </tr>
        </thead>
        <tbody>
          ${
            this.agents.length === 0
              ? html`<tr><td colspan="5" class="muted">No agents yet. Create a token with <code>outpost token create</code> and start one.</td></tr>`
              : this.matching === 0
                ? html`<tr><td colspan="5" class="muted">No agent matches.</td></tr>`
                : repeat(
                    this.rows,
                    (row) => (row.kind === 'agent' ? row.agent.id : `group:${row.value}`),
                    (row) =>
                      row.kind === 'agent'
                        ? this.renderAgent(row.agent)
                        : html`<tr class="group" data-group=${row.value}>
                            <th colspan="5" scope="colgroup">${row.key}=${row.value} · ${row.count} ${row.count === 1 ? 'agent' : 'agents'}</th>
                          </tr>`,
                  )
          }
        </tbody>
      </table>
      <nav class="pager" aria-label="Agent pages">
        <button type="button" ?disabled=${this.page === 0} @click=${() => this.page--}>Previous page</button>
        <span data-testid="fleet-range" role="status">${first}–${last} of ${this.matching}</span>
        <button type="button" ?disabled=${this.page >= pages - 1} @click=${() => this.page++}>Next page</button>
      </nav>
    </section>`
  }
}

customElements.define('op-fleet-view', OpFleetView)
