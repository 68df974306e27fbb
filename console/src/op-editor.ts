import { formatSpecError, parsePipeline } from '@outpost/shared'
import { css, html, LitElement } from 'lit'
import { stringify } from 'yaml'
import type { ApiClient, PipelineSummary } from './api.js'
import { baseStyles } from './styles.js'

const TEMPLATE = `apiVersion: outpost/v1
kind: Pipeline
metadata:
  name: new-pipeline
spec:
  schedule: { every: 1m }
  source: { type: csv, path: /srv/drop/*.csv }
  transforms:
    - cast: { id: int }
  sinks:
    - { type: file, path: /var/lib/outpost/output }
`

/**
 * Write or change a pipeline: YAML checked as you type by the same schema the control plane uses
 * (errors at their line), applied at once or as a canary, with the history of versions and diffs.
 */
export class OpEditor extends LitElement {
  static override styles = [
    baseStyles,
    css`
      textarea {
        width: 100%;
        min-height: 16rem;
        font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
        font-size: 0.85rem;
        box-sizing: border-box;
      }
      .row {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
        margin: 0.5rem 0;
      }
      ul.errors {
        color: #8a1c17;
        padding-left: 1.2rem;
      }
      pre {
        background: #f6f8fa;
        padding: 0.5rem;
        overflow-x: auto;
        font-size: 0.8rem;
      }
    `,
  ]
  static override properties = {
    api: { attribute: false },
    pipelines: { attribute: false },
    canApply: { type: Boolean },
    text: { state: true },
    errors: { state: true },
    message: { state: true },
    history: { state: true },
    diff: { state: true },
  }

  declare api: ApiClient
  declare pipelines: PipelineSummary[]
  declare canApply: boolean
  declare text: string
  declare errors: string[]
  declare message: string
  declare history: { version: number; author: string; createdAt: number }[]
  declare diff: string
  private timer: number | undefined
  private current = ''

  constructor() {
    super()
    this.pipelines = []
    this.canApply = false
    this.text = TEMPLATE
    this.errors = []
    this.message = ''
    this.history = []
    this.diff = ''
  }

  private validate(text: string): void {
    const parsed = parsePipeline(text)
    this.errors = parsed.ok ? [] : parsed.errors.map((e) => formatSpecError(e))
  }

  private onInput(e: InputEvent): void {
    this.text = (e.target as HTMLTextAreaElement).value
    window.clearTimeout(this.timer)
    this.timer = window.setTimeout(() => this.validate(this.text), 150)
  }

  private async open(name: string): Promise<void> {
    this.message = ''
    this.diff = ''
    if (!name) {
      this.current = ''
      this.text = TEMPLATE
      this.history = []
      this.validate(this.text)
      return
    }
    const p = await this.api.pipeline(name)
    this.current = name
    this.text = stringify(p.spec, { lineWidth: 0 })
    this.history = await this.api.versions(name)
    this.validate(this.text)
  }

  private async showDiff(version: number): Promise<void> {
    this.diff = (await this.api.diff(this.current, version)).diff
  }

  /** Rolls the pipeline back to an earlier version: a new rollout of it to every agent. */
  private async rollBack(version: number): Promise<void> {
    const name = this.current
    try {
      const r = await this.api.rollOut(name, version)
      this.message = `${name}: rollout ${r.id} back to version ${version} started`
    } catch (error) {
      this.message = `Not rolled back: ${(error as Error).message}`
    }
  }

  private async apply(e: SubmitEvent): Promise<void> {
    e.preventDefault()
    this.validate(this.text)
    if (this.errors.length > 0) return
    const parsed = parsePipeline(this.text)
    if (!parsed.ok) return
    const form = e.target as HTMLFormElement
    const canary = (form.elements.namedItem('strategy') as HTMLSelectElement).value === 'canary'
    const waves = (form.elements.namedItem('waves') as HTMLInputElement).value.trim()
    const soak = (form.elements.namedItem('soak') as HTMLInputElement).value.trim()
    const name = parsed.value.pipeline.metadata.name
    try {
      const r = await this.api.apply(
        name,
        this.text,
        canary ? { waves: waves || '1', ...(soak ? { soak } : {}) } : {},
      )
      this.message = r.unchanged
        ? `${name}: unchanged (version ${r.version})`
        : `${name}: version ${r.version} ${r.created ? 'created' : 'applied'}${r.rollout?.strategy === 'canary' ? `, canary rollout ${r.rollout.id} started` : ''}`
      this.current = name
      this.history = await this.api.versions(name)
    } catch (error) {
      this.message = `Not applied: ${(error as Error).message}`
    }
  }

  override render() {
    return html`<section class="card" aria-labelledby="editor-title">
      <h2 id="editor-title">Pipeline editor</h2>
      <div class="row">
        <label for="open-pipeline">Open</label>
        <select id="open-pipeline" @change=${(e: Event) => void this.open((e.target as HTMLSelectElement).value)}>
          <option value="">A new pipeline</option>
          ${this.pipelines.map((p) => html`<option value=${p.name} ?selected=${p.name === this.current}>${p.name} (v${p.version})</option>`)}
        </select>
      </div>
      <form @submit=${(e: SubmitEvent) => void this.apply(e)}>
        <label for="pipeline-yaml">Pipeline YAML</label>
        <textarea id="pipeline-yaml" spellcheck="false" .value=${this.text} @input=${this.onInput} aria-describedby="spec-errors"></textarea>
        <div id="spec-errors" role="status" data-testid="spec-errors">
          ${
            this.errors.length === 0
              ? html`<span class="muted">Valid.</span>`
              : html`<ul class="errors">${this.errors.map((e) => html`<li>${e}</li>`)}</ul>`
          }
        </div>
        ${
          this.canApply
            ? html`<div class="row">
              <label for="strategy">Roll out</label>
              <select id="strategy" name="strategy">
                <option value="all">to every agent at once</option>
                <option value="canary">as a canary</option>
              </select>
              <label for="waves">waves</label>
              <input id="waves" name="waves" placeholder="1,25%,100%" size="12" />
              <label for="soak">soak</label>
              <input id="soak" name="soak" placeholder="1m" size="5" />
              <button type="submit" ?disabled=${this.errors.length > 0}>Apply</button>
            </div>`
            : html`<p class="muted">Your role can read pipelines, not change them.</p>`
        }
        <p role="status" data-testid="apply-result">${this.message}</p>
      </form>
      ${
        this.history.length > 0
          ? html`<h3>Versions</h3>
            <ul>
              ${this.history
                .slice()
                .reverse()
                .map(
                  (v) => html`<li>
                    v${v.version} by ${v.author}, ${new Date(v.createdAt).toLocaleString()}
                    <button type="button" @click=${() => void this.showDiff(v.version)}>Diff</button>
                    ${
                      this.canApply && v.version < Math.max(...this.history.map((h) => h.version))
                        ? html`<button type="button" @click=${() => void this.rollBack(v.version)}>
                            Roll back to v${v.version}
                          </button>`
                        : ''
                    }
                  </li>`,
                )}
            </ul>
            ${this.diff ? html`<pre data-testid="version-diff">${this.diff}</pre>` : ''}`
          : ''
      }
    </section>`
  }
}

customElements.define('op-editor', OpEditor)
