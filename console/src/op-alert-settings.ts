/**
 * The thresholds of the alert rules: everyone sees them, admins change them. The control plane
 * checks each value; what it refuses is shown next to the field it names.
 */
import { css, html, LitElement, nothing, type PropertyValues } from 'lit'
import { type AlertSettings, type ApiClient, ProblemError } from './api.js'
import { baseStyles, detailStyles, formStyles } from './styles.js'

type Key = keyof AlertSettings

const FIELDS: { key: Key; label: string; hint: string; duration: boolean }[] = [
  {
    key: 'agentOfflineAfter',
    label: 'Agent offline after',
    hint: 'agent_offline fires after this long without a stream (30s, 2m, 1h)',
    duration: true,
  },
  {
    key: 'runFailuresInARow',
    label: 'Failed runs in a row',
    hint: 'run_failed fires after this many failed runs of a pipeline on an agent (1-1000)',
    duration: false,
  },
  {
    key: 'outboxAge',
    label: 'Oldest undelivered batch',
    hint: 'outbox_age fires when the oldest batch waits longer than this (15m, 1h)',
    duration: true,
  },
  {
    key: 'diskBudgetRatio',
    label: 'Outbox share of disk budget',
    hint: 'disk_budget fires above this share of the disk budget (above 0, at most 1; 0.8 is 80 %)',
    duration: false,
  },
]

const UNITS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'm'],
  [1000, 's'],
]

/** "120000ms" (as the API says it) → "2m", the way people write it. */
export function shortDuration(text: string): string {
  const ms = /^(\d+)ms$/.exec(text)?.[1]
  if (ms === undefined) return text
  const n = Number(ms)
  const unit = UNITS.find(([size]) => n > 0 && n % size === 0)
  return unit ? `${n / unit[0]}${unit[1]}` : `${n}ms`
}

/** What an input holds, as the API takes it: numbers as numbers; anything else as typed, for the API to name. */
function fieldValue(text: string, duration: boolean): unknown {
  const t = text.trim()
  return !duration && /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t
}

export class OpAlertSettings extends LitElement {
  static override styles = [
    baseStyles,
    formStyles,
    detailStyles,
    css`
      form {
        display: grid;
        gap: 0.6rem;
        max-width: 36rem;
      }
      label {
        font-weight: 600;
        font-size: 0.9rem;
      }
      .field {
        display: grid;
        gap: 0.15rem;
      }
      .field input {
        width: 12rem;
      }
      .hint {
        font-size: 0.8rem;
        color: #4a5260;
        margin: 0;
      }
      .field-error {
        color: #8a1c17;
        font-size: 0.85rem;
        margin: 0;
      }
      input[aria-invalid='true'] {
        border-color: #b42318;
      }
    `,
  ]
  static override properties = {
    api: { attribute: false },
    canEdit: { type: Boolean },
    settings: { state: true },
    errors: { state: true },
    error: { state: true },
    notice: { state: true },
    saving: { state: true },
  }

  declare api: ApiClient | undefined
  declare canEdit: boolean
  declare settings: AlertSettings | undefined
  /** The API's complaint per field. */
  declare errors: Partial<Record<Key, string>>
  declare error: string
  declare notice: string
  declare saving: boolean

  constructor() {
    super()
    this.api = undefined
    this.canEdit = false
    this.settings = undefined
    this.errors = {}
    this.error = ''
    this.notice = ''
    this.saving = false
  }

  override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('api') && this.api) void this.load()
  }

  private async load(): Promise<void> {
    try {
      this.settings = await this.api?.alertSettings()
      this.error = ''
    } catch (error) {
      this.error = `Cannot load the alert rules: ${(error as Error).message}`
    }
  }

  private async save(event: SubmitEvent): Promise<void> {
    event.preventDefault()
    if (!this.api) return
    const form = (event.target as HTMLFormElement).elements
    const change: Partial<Record<Key, unknown>> = {}
    for (const f of FIELDS)
      change[f.key] = fieldValue((form.namedItem(f.key) as HTMLInputElement).value, f.duration)
    this.saving = true
    this.notice = ''
    try {
      this.settings = await this.api.setAlertSettings(change)
      this.errors = {}
      this.error = ''
      this.notice = 'Alert rules saved.'
    } catch (error) {
      const errors: Partial<Record<Key, string>> = {}
      const known = new Set<string>(FIELDS.map((f) => f.key))
      if (error instanceof ProblemError)
        for (const e of error.errors) if (known.has(e.path)) errors[e.path as Key] = e.message
      this.errors = errors
      this.error = Object.keys(errors).length > 0 ? '' : `Not saved: ${(error as Error).message}`
    } finally {
      this.saving = false
    }
  }

  private display(key: Key): string {
    const v = this.settings?.[key]
    return typeof v === 'string' ? shortDuration(v) : String(v ?? '')
  }

  override render() {
    const s = this.settings
    return html`<div data-testid="alert-settings">
      ${this.error ? html`<p role="alert">${this.error}</p>` : nothing}
      ${
        !s
          ? this.error
            ? nothing
            : html`<p class="muted">Loading…</p>`
          : this.canEdit
            ? html`<form @submit=${this.save} novalidate>
                ${FIELDS.map(
                  (f) => html`<div class="field">
                    <label for="rule-${f.key}">${f.label}</label>
                    <input id="rule-${f.key}" name=${f.key} .value=${this.display(f.key)}
                      inputmode=${f.duration ? 'text' : 'decimal'} size="10"
                      aria-invalid=${this.errors[f.key] ? 'true' : 'false'}
                      aria-describedby="hint-${f.key} error-${f.key}" />
                    <p class="hint" id="hint-${f.key}">${f.hint}</p>
                    <p class="field-error" id="error-${f.key}" data-field-error=${f.key}
                      role=${this.errors[f.key] ? 'alert' : nothing}>${this.errors[f.key] ?? ''}</p>
                  </div>`,
                )}
                <div><button type="submit" ?disabled=${this.saving}>${this.saving ? 'Saving…' : 'Save alert rules'}</button></div>
                ${this.notice ? html`<p role="status" data-testid="alert-settings-notice">${this.notice}</p>` : nothing}
              </form>`
            : html`<dl>
                ${FIELDS.map((f) => html`<dt>${f.label}</dt><dd data-setting=${f.key}>${this.display(f.key)}</dd>`)}
              </dl>
              <p class="muted">Only admins can change these.</p>`
      }
    </div>`
  }
}

customElements.define('op-alert-settings', OpAlertSettings)
