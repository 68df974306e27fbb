import { html, LitElement } from 'lit'
import type { ApiClient } from './api.js'
import { baseStyles } from './styles.js'

interface Operation {
  summary: string
  'x-outpost-role': string
  parameters?: { name: string; in: string; description?: string }[]
  requestBody?: {
    content: Record<string, { schema: { properties?: Record<string, { description?: string }> } }>
  }
}

/** The REST API reference, rendered from the control plane's OpenAPI document. */
export class OpApiReference extends LitElement {
  static override styles = [baseStyles]
  static override properties = { api: { attribute: false }, paths: { state: true }, error: { state: true } }

  declare api: ApiClient
  declare paths: [string, Record<string, Operation>][]
  declare error: string

  constructor() {
    super()
    this.paths = []
    this.error = ''
  }

  override connectedCallback(): void {
    super.connectedCallback()
    this.api
      .openapi()
      .then((doc) => (this.paths = Object.entries(doc.paths as Record<string, Record<string, Operation>>)))
      .catch((e: Error) => (this.error = e.message))
  }

  override render() {
    return html`<section class="card" aria-labelledby="api-title">
      <h2 id="api-title">REST API reference</h2>
      <p class="muted">Under <code>/api/v1</code>, with <code>Authorization: Bearer &lt;API token&gt;</code>. The machine-readable
        document is <code>/api/v1/openapi.json</code> (OpenAPI 3.1).</p>
      ${this.error ? html`<p role="alert">${this.error}</p>` : ''}
      <table data-testid="api-reference">
        <thead><tr><th scope="col">Route</th><th scope="col">Role</th><th scope="col">What it does</th></tr></thead>
        <tbody>
          ${this.paths.flatMap(([path, ops]) =>
            Object.entries(ops).map(([method, op]) => {
              const body = op.requestBody
                ? Object.values(op.requestBody.content)[0]?.schema.properties
                : undefined
              const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
              return html`<tr>
                <td><code>${method.toUpperCase()} ${path}</code></td>
                <td>${op['x-outpost-role']}</td>
                <td>${op.summary}${query.length ? html`<br /><span class="muted">query: ${query.join(', ')}</span>` : ''}${body ? html`<br /><span class="muted">body: ${Object.keys(body).join(', ')}</span>` : ''}</td>
              </tr>`
            }),
          )}
        </tbody>
      </table>
    </section>`
  }
}

customElements.define('op-api-reference', OpApiReference)
