import { html, LitElement } from 'lit'
import type { Rollout } from './api.js'
import { timeAgo } from './api.js'
import { baseStyles } from './styles.js'

/** Rollouts under way (and the last few): progress per wave and per agent; pause, resume, abort. */
export class OpRolloutsView extends LitElement {
  static override styles = [baseStyles]
  static override properties = {
    rollouts: { attribute: false },
    now: { type: Number },
    canAct: { type: Boolean },
  }

  declare rollouts: Rollout[]
  declare now: number
  declare canAct: boolean

  constructor() {
    super()
    this.rollouts = []
    this.now = Date.now()
    this.canAct = false
  }

  private act(action: 'pause' | 'resume' | 'abort', r: Rollout): void {
    this.dispatchEvent(
      new CustomEvent('rollout-action', { detail: { action, id: r.id }, bubbles: true, composed: true }),
    )
  }

  override render() {
    const shown = this.rollouts.filter((r) => r.strategy === 'canary').slice(0, 5)
    if (shown.length === 0) return html``
    return html`<section class="card" aria-labelledby="rollouts-title">
      <h2 id="rollouts-title">Rollouts</h2>
      ${shown.map((r) => {
        const done = r.state === 'completed' ? r.waves.length : r.currentWave
        return html`<article data-rollout=${r.id} aria-label="Rollout of ${r.pipeline} version ${r.toVersion}">
          <p>
            <strong>${r.pipeline}</strong> v${r.fromVersion} → v${r.toVersion}
            <span class="badge ${r.state === 'paused' || r.state === 'aborted' ? 'failed' : r.state === 'completed' ? 'succeeded' : 'running'}" data-testid="rollout-state">${r.state}</span>
            <span class="muted">wave ${Math.min(r.currentWave + 1, r.waves.length)} of ${r.waves.length} (${r.waves.map((w) => w.size).join(', ')}), started ${timeAgo(r.createdAt, this.now)}</span>
          </p>
          <progress max=${r.waves.length} value=${done} aria-label="Waves completed">${done} of ${r.waves.length}</progress>
          ${r.state === 'paused' && r.pausedReason ? html`<p role="alert">Paused: ${r.pausedReason}</p>` : ''}
          ${
            r.agents?.length
              ? html`<table>
                <thead><tr><th scope="col">Agent</th><th scope="col">Wave</th><th scope="col">Wants</th><th scope="col">Status</th></tr></thead>
                <tbody>
                  ${r.agents.map(
                    (a) =>
                      html`<tr data-agent=${a.agentId}><td>${a.name}</td><td>${a.wave === null ? '-' : a.wave + 1}</td><td>v${a.desiredVersion}</td><td>${a.status}</td></tr>`,
                  )}
                </tbody>
              </table>`
              : ''
          }
          ${
            this.canAct && (r.state === 'running' || r.state === 'paused')
              ? html`<div>
                ${
                  r.state === 'running'
                    ? html`<button type="button" @click=${() => this.act('pause', r)}>Pause</button>`
                    : html`<button type="button" @click=${() => this.act('resume', r)}>Resume</button>`
                }
                <button type="button" @click=${() => this.act('abort', r)}>Abort</button>
              </div>`
              : ''
          }
        </article>`
      })}
    </section>`
  }
}

customElements.define('op-rollouts-view', OpRolloutsView)
