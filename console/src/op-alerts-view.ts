import { css, html, LitElement } from 'lit'
import type { Alert, ApiClient } from './api.js'
import { timeAgo } from './api.js'
import { baseStyles } from './styles.js'
import './op-alert-settings.js'

/**
 * Open alerts (firing and acknowledged), with acknowledge and resolve for operators; and the
 * thresholds of the rules, which admins change.
 */
export class OpAlertsView extends LitElement {
  static override styles = [
    baseStyles,
    css`
      details {
        margin-top: 0.75rem;
      }
      summary {
        cursor: pointer;
        font-weight: 600;
      }
      summary:focus-visible {
        outline: 2px solid #1d4ed8;
        outline-offset: 2px;
      }
    `,
  ]
  static override properties = {
    alerts: { attribute: false },
    api: { attribute: false },
    now: { type: Number },
    canAct: { type: Boolean },
    canEditRules: { type: Boolean },
    rulesOpen: { state: true },
  }

  declare alerts: Alert[]
  declare api: ApiClient | undefined
  declare now: number
  declare canAct: boolean
  declare canEditRules: boolean
  /** The rules are loaded (and their controls exist) only while they are shown. */
  declare rulesOpen: boolean

  constructor() {
    super()
    this.alerts = []
    this.api = undefined
    this.now = Date.now()
    this.canAct = false
    this.canEditRules = false
    this.rulesOpen = false
  }

  private act(action: 'acknowledge' | 'resolve', alert: Alert): void {
    this.dispatchEvent(
      new CustomEvent('alert-action', { detail: { action, id: alert.id }, bubbles: true, composed: true }),
    )
  }

  override render() {
    const open = this.alerts.filter((a) => a.state !== 'resolved')
    return html`<section class="card" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts <span class="muted" data-testid="alert-count">${open.length} open</span></h2>
      ${
        open.length === 0
          ? html`<p class="muted">Nothing is wrong right now.</p>`
          : html`<table>
            <thead><tr><th scope="col">State</th><th scope="col">Alert</th><th scope="col">Fired</th>${this.canAct ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ''}</tr></thead>
            <tbody>
              ${open.map(
                (a) => html`<tr data-alert=${a.id} data-rule=${a.rule}>
                  <td><span class="badge ${a.state === 'firing' ? 'failed' : 'running'}" data-testid="alert-state">${a.state}</span><br /><span class="muted">${a.severity}</span></td>
                  <td>${a.summary}${a.acknowledgedBy ? html`<br /><span class="muted">acknowledged by ${a.acknowledgedBy}</span>` : ''}</td>
                  <td>${timeAgo(a.firedAt, this.now)}</td>
                  ${
                    this.canAct
                      ? html`<td>
                        ${
                          a.state === 'firing'
                            ? html`<button type="button" @click=${() => this.act('acknowledge', a)} aria-label="Acknowledge: ${a.summary}">Acknowledge</button>`
                            : ''
                        }
                        <button type="button" @click=${() => this.act('resolve', a)} aria-label="Resolve: ${a.summary}">Resolve</button>
                      </td>`
                      : ''
                  }
                </tr>`,
              )}
            </tbody>
          </table>`
      }
      <details @toggle=${(e: Event) => (this.rulesOpen = (e.target as HTMLDetailsElement).open)}>
        <summary>Alert rules</summary>
        ${this.rulesOpen ? html`<op-alert-settings .api=${this.api} .canEdit=${this.canEditRules}></op-alert-settings>` : ''}
      </details>
    </section>`
  }
}

customElements.define('op-alerts-view', OpAlertsView)
