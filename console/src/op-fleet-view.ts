import { html, LitElement } from 'lit'
import { type Agent, timeAgo } from './api.js'
import { baseStyles } from './styles.js'

/** The agents: state, last seen, version and the pipeline versions each one applied. */
export class OpFleetView extends LitElement {
  static override styles = [baseStyles]
  static override properties = { agents: { attribute: false }, now: { type: Number } }

  declare agents: Agent[]
  declare now: number

  constructor() {
    super()
    this.agents = []
    this.now = Date.now()
  }

  override render() {
    const counts = { online: 0, degraded: 0, offline: 0, revoked: 0 }
    for (const a of this.agents) counts[a.state]++
    return html`<section class="card" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      <p class="muted" data-testid="agent-counts">
        ${counts.online} online · ${counts.degraded} degraded · ${counts.offline} offline${counts.revoked ? ` · ${counts.revoked} revoked` : ''}
      </p>
      <table>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Last seen</th><th scope="col">Version</th><th scope="col">Pipelines</th></tr>
        </thead>
        <tbody>
          ${
            this.agents.length === 0
              ? html`<tr><td colspan="5" class="muted">No agents yet. Create a token with <code>outpost token create</code> and start one.</td></tr>`
              : this.agents.map(
                  (a) => html`<tr data-agent-id=${a.id}>
                    <td><strong>${a.name}</strong><br /><span class="muted"><code>${a.id}</code></span></td>
                    <td><span class="badge ${a.state}" data-testid="agent-state">${a.state}</span></td>
                    <td>${timeAgo(a.lastSeenAt, this.now)}</td>
                    <td>${a.agentVersion || '-'}</td>
                    <td>
                      ${a.applied.map(
                        (p) =>
                          html`<span class="badge ${p.state === 'failed' ? 'failed' : 'online'}" title=${p.error ?? ''}>${p.name}@${p.version}</span> `,
                      )}
                      ${a.drift.length > 0 ? html`<br /><span class="muted">drift: ${a.drift.map((d) => `${d.pipeline} → v${d.desired?.version ?? 'removed'}`).join(', ')}</span>` : ''}
                    </td>
                  </tr>`,
                )
          }
        </tbody>
      </table>
    </section>`
  }
}

customElements.define('op-fleet-view', OpFleetView)
