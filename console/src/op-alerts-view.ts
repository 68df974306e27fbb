import { html, LitElement } from 'lit'
import type { Alert } from './api.js'
import { timeAgo } from './api.js'
import { baseStyles } from './styles.js'

/** Open alerts (firing and acknowledged), with acknowledge and resolve for operators. */
export class OpAlertsView extends LitElement {
  static override styles = [baseStyles]
  static override properties = {
    alerts: { attribute: false },
    now: { type: Number },
    canAct: { type: Boolean },
  }

  declare alerts: Alert[]
  declare now: number
  declare canAct: boolean

  constructor() {
    super()
    this.alerts = []
    this.now = Date.now()
    this.canAct = false
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
    </section>`
  }
}

customElements.define('op-alerts-view', OpAlertsView)
