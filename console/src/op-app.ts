import { css, html, LitElement, nothing } from 'lit'
import {
  type Agent,
  type Alert,
  ApiClient,
  type PipelineSummary,
  type Principal,
  type Rollout,
  type Run,
  session,
  type ThroughputPoint,
  UnauthorizedError,
} from './api.js'
import { baseStyles } from './styles.js'
import './op-agent-detail.js'
import './op-alerts-view.js'
import './op-api-reference.js'
import './op-editor.js'
import './op-rollouts-view.js'
import './op-fleet-view.js'
import './op-pipelines-view.js'
import './op-run-detail.js'
import './op-runs-view.js'
import './op-throughput-chart.js'

/** What the address says to show: the overview, one agent, the runs, one run. */
export type Route =
  | { view: 'overview' }
  | { view: 'agent'; id: string }
  | { view: 'runs' }
  | { view: 'run'; id: string }

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  if (parts[0] === 'agents' && parts[1]) return { view: 'agent', id: parts[1] }
  if (parts[0] === 'runs') return parts[1] ? { view: 'run', id: parts[1] } : { view: 'runs' }
  return { view: 'overview' }
}

/** Agent updates from the live stream are applied together at most this often (10,000 agents heartbeat). */
const AGENT_FLUSH_MS = 250

/** The console shell: loads once, then stays current from the live event stream. */
export class OpApp extends LitElement {
  static override styles = [
    baseStyles,
    css`
      header {
        display: flex;
        align-items: center;
        justify-content: space-between;
        gap: 1rem;
        padding: 0.75rem 1rem;
        background: #14213d;
        color: #fff;
      }
      header h1 {
        font-size: 1.1rem;
        margin: 0;
      }
      main {
        padding: 0.75rem;
        max-width: 1200px;
        margin: 0 auto;
      }
      main:focus {
        outline: none;
      }
      header nav a {
        color: #fff;
        margin-right: 0.75rem;
      }
      header a:focus-visible {
        outline: 2px solid #fff;
        outline-offset: 2px;
      }
      header {
        flex-wrap: wrap;
      }
      .live {
        font-size: 0.8rem;
      }
      .who {
        display: flex;
        align-items: center;
        gap: 0.75rem;
        font-size: 0.85rem;
      }
      .who button {
        font: inherit;
        color: inherit;
        background: transparent;
        border: 1px solid #fff8;
        border-radius: 4px;
        padding: 0.15rem 0.6rem;
        cursor: pointer;
      }
      form.sign-in {
        max-width: 26rem;
        margin: 3rem auto;
        display: grid;
        gap: 0.6rem;
      }
      form.sign-in input {
        font: inherit;
        padding: 0.45rem;
      }
      form.sign-in button {
        font: inherit;
        padding: 0.45rem;
        cursor: pointer;
      }
      .grid {
        display: grid;
        grid-template-columns: minmax(0, 1fr);
        gap: 0 1rem;
      }
      @media (min-width: 1100px) {
        .grid {
          grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
        }
      }
    `,
  ]
  static override properties = {
    agents: { state: true },
    pipelines: { state: true },
    runs: { state: true },
    points: { state: true },
    bucketMs: { state: true },
    live: { state: true },
    now: { state: true },
    error: { state: true },
    principal: { state: true },
    alerts: { state: true },
    rollouts: { state: true },
    showApi: { state: true },
    signInError: { state: true },
    route: { state: true },
  }

  declare agents: Agent[]
  declare pipelines: PipelineSummary[]
  declare runs: Run[]
  declare points: ThroughputPoint[]
  declare bucketMs: number
  declare live: boolean
  declare now: number
  declare error: string
  declare principal: Principal | undefined
  declare alerts: Alert[]
  declare rollouts: Rollout[]
  declare showApi: boolean
  declare signInError: string
  declare route: Route
  private readonly api = new ApiClient()
  private agentsById = new Map<string, Agent>()
  private pendingAgents = new Map<string, Agent>()
  private agentTimer: number | undefined
  private readonly onHashChange = () => {
    this.route = parseRoute(location.hash)
    // Screen readers and keyboards start at the new view, not at the control that led there.
    void this.updateComplete.then(() =>
      (this.renderRoot.querySelector('main') as HTMLElement | null)?.focus(),
    )
  }
  private unsubscribe: (() => void) | undefined
  private ticker: number | undefined

  constructor() {
    super()
    this.agents = []
    this.pipelines = []
    this.runs = []
    this.points = []
    this.bucketMs = 10_000
    this.live = false
    this.now = Date.now()
    this.error = ''
    this.principal = undefined
    this.signInError = ''
    this.alerts = []
    this.rollouts = []
    this.showApi = false
    this.route = parseRoute(location.hash)
  }

  private setAgents(agents: Agent[]): void {
    this.agentsById = new Map(agents.map((a) => [a.id, a]))
    this.agents = agents
  }

  /** Applies the agent updates gathered since the last flush in one go: one re-render, not one per event. */
  private flushAgents(): void {
    this.agentTimer = undefined
    const updates = this.pendingAgents
    this.pendingAgents = new Map()
    let added = false
    for (const a of updates.values()) {
      if (!this.agentsById.has(a.id)) added = true
      this.agentsById.set(a.id, a)
    }
    this.agents = added
      ? [...this.agentsById.values()].sort((x, y) => x.name.localeCompare(y.name))
      : this.agents.map((x) => updates.get(x.id) ?? x)
  }

  override connectedCallback(): void {
    super.connectedCallback()
    if (session.token()) void this.signIn()
    window.addEventListener('hashchange', this.onHashChange)
    this.ticker = window.setInterval(() => (this.now = Date.now()), 5000)
  }

  /** Checks the stored token; on success loads everything and follows the live stream. */
  private async signIn(): Promise<void> {
    try {
      this.principal = await this.api.whoami()
      this.signInError = ''
    } catch (error) {
      session.clear()
      this.principal = undefined
      this.signInError =
        error instanceof UnauthorizedError
          ? 'That token was not accepted.'
          : `Cannot reach the API: ${(error as Error).message}`
      return
    }
    this.unsubscribe?.()
    void this.load()
    this.unsubscribe = this.api.live({
      unauthorized: () => this.signOut('Your token is no longer accepted; sign in again.'),
      agent: (a) => {
        // Agents applying a version move rollouts along: refresh them now and then.
        if (this.rollouts.some((r) => r.state === 'running' || r.state === 'paused'))
          this.reloadRolloutsSoon()
        this.pendingAgents.set(a.id, a)
        this.agentTimer ??= window.setTimeout(() => this.flushAgents(), AGENT_FLUSH_MS)
      },
      run: (r) => {
        this.runs = [r, ...this.runs.filter((x) => x.id !== r.id)]
          .sort((a, b) => b.startedAt - a.startedAt)
          .slice(0, 50)
      },
      pipelines: () => void this.api.pipelines().then((p) => (this.pipelines = p)),
      rollout: () => void this.loadRollouts(),
      alert: (a) => {
        const rest = this.alerts.filter((x) => x.id !== a.id)
        this.alerts = a.state === 'resolved' ? rest : [a, ...rest].sort((x, y) => y.firedAt - x.firedAt)
      },
      throughput: (p) => {
        const existing = this.points.find((x) => x.t === p.t)
        this.points = existing
          ? this.points.map((x) =>
              x.t === p.t
                ? { t: p.t, rowsRead: x.rowsRead + p.rowsRead, rowsWritten: x.rowsWritten + p.rowsWritten }
                : x,
            )
          : [...this.points, { t: p.t, rowsRead: p.rowsRead, rowsWritten: p.rowsWritten }]
      },
      status: (connected) => {
        this.live = connected
        if (connected) void this.load()
      },
    })
  }

  private signOut(message = ''): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    session.clear()
    this.principal = undefined
    this.live = false
    this.signInError = message
  }

  private rolloutTimer: number | undefined

  private reloadRolloutsSoon(): void {
    if (this.rolloutTimer !== undefined) return
    this.rolloutTimer = window.setTimeout(() => {
      this.rolloutTimer = undefined
      void this.loadRollouts()
    }, 1000)
  }

  /** Active rollouts with each agent's place; the last finished ones without. */
  private async loadRollouts(): Promise<void> {
    const list = (await this.api.rollouts()).filter((r) => r.strategy === 'canary').slice(0, 5)
    this.rollouts = await Promise.all(
      list.map((r) =>
        r.state === 'running' || r.state === 'paused' ? this.api.rollout(r.id) : Promise.resolve(r),
      ),
    )
  }

  private async onRolloutAction(detail: { action: 'pause' | 'resume' | 'abort'; id: string }): Promise<void> {
    try {
      await this.api.rolloutAction(detail.id, detail.action)
      await this.loadRollouts()
    } catch (error) {
      this.error = (error as Error).message
    }
  }

  private async onAlertAction(detail: { action: 'acknowledge' | 'resolve'; id: string }): Promise<void> {
    try {
      const updated = await this.api[detail.action](detail.id)
      const rest = this.alerts.filter((a) => a.id !== updated.id)
      this.alerts =
        updated.state === 'resolved' ? rest : [updated, ...rest].sort((x, y) => y.firedAt - x.firedAt)
    } catch (error) {
      this.error = (error as Error).message
    }
  }

  private onSignIn(event: SubmitEvent): void {
    event.preventDefault()
    const input = (event.target as HTMLFormElement).elements.namedItem('token') as HTMLInputElement
    const token = input.value.trim()
    if (!token) {
      this.signInError = 'Enter an API token.'
      return
    }
    session.set(token)
    void this.signIn()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.unsubscribe?.()
    window.clearInterval(this.ticker)
    window.clearTimeout(this.agentTimer)
    window.removeEventListener('hashchange', this.onHashChange)
  }

  private async load(): Promise<void> {
    try {
      const [agents, pipelines, runs, throughput, alerts] = await Promise.all([
        this.api.agents(),
        this.api.pipelines(),
        this.api.runs(),
        this.api.throughput(),
        this.api.alerts(),
      ])
      this.alerts = alerts
      void this.loadRollouts()
      this.setAgents(agents)
      this.pipelines = pipelines
      this.runs = runs
      this.points = throughput.points
      this.bucketMs = throughput.bucketMs
      this.error = ''
    } catch (error) {
      if (error instanceof UnauthorizedError) this.signOut('Your token is no longer accepted; sign in again.')
      else this.error = (error as Error).message
    }
  }

  override render() {
    if (!this.principal) {
      return html`<header><h1>Outpost</h1></header>
        <main>
          <form class="sign-in card" @submit=${this.onSignIn} aria-labelledby="sign-in-title">
            <h2 id="sign-in-title">Sign in</h2>
            <label for="token">API token</label>
            <input id="token" name="token" type="password" autocomplete="off" required />
            <button type="submit">Sign in</button>
            ${this.signInError ? html`<p role="alert">${this.signInError}</p>` : ''}
            <p class="hint">
              Use a token from <code>outpost api-token create</code>, or the first admin token in the
              control plane's data directory (<code>admin-token</code>).
            </p>
          </form>
        </main>`
    }
    const role = this.principal.role
    return html`<header>
        <h1>Outpost</h1>
        <nav aria-label="Views"><a href="#/">Overview</a><a href="#/runs">Runs</a></nav>
        <span class="live" role="status" data-testid="live-status">${this.live ? '● live' : '○ reconnecting…'}</span>
        <span class="who">
          <span data-testid="principal">${this.principal.name} (${role})</span>
          <button type="button" @click=${() => (this.showApi = !this.showApi)} aria-pressed=${this.showApi ? 'true' : 'false'}>API reference</button>
          <button type="button" @click=${() => this.signOut()}>Sign out</button>
        </span>
      </header>
      <main tabindex="-1">
        ${this.error ? html`<div class="card" role="alert">Cannot load data: ${this.error}</div>` : ''}
        ${this.renderDetail(this.principal)}
        <div ?hidden=${this.route.view !== 'overview'}>${this.renderOverview(this.principal)}</div>
        ${this.showApi ? html`<op-api-reference .api=${this.api}></op-api-reference>` : ''}
      </main>`
  }

  private renderDetail(principal: Principal) {
    const route = this.route
    if (route.view === 'agent')
      return html`<op-agent-detail
        .api=${this.api}
        .agentId=${route.id}
        .agent=${this.agentsById.get(route.id)}
        .pipelines=${this.pipelines}
        .liveRuns=${this.runs}
        .principal=${principal}
        .now=${this.now}
      ></op-agent-detail>`
    if (route.view === 'run')
      return html`<op-run-detail
        .api=${this.api}
        .runId=${route.id}
        .liveRuns=${this.runs}
        .principal=${principal}
        .now=${this.now}
      ></op-run-detail>`
    if (route.view === 'runs')
      return html`<op-runs-view .api=${this.api} .liveRuns=${this.runs} .now=${this.now}></op-runs-view>`
    return nothing
  }

  /** Kept in the page (hidden) on the other views, so the fleet's filters and the editor's text stay. */
  private renderOverview(principal: Principal) {
    const canAct = principal.role !== 'viewer'
    return html`<op-alerts-view
        .alerts=${this.alerts}
        .api=${this.api}
        .now=${this.now}
        .canAct=${canAct}
        .canEditRules=${principal.role === 'admin'}
        @alert-action=${(e: CustomEvent<{ action: 'acknowledge' | 'resolve'; id: string }>) => void this.onAlertAction(e.detail)}
      ></op-alerts-view>
      <op-rollouts-view
        .rollouts=${this.rollouts}
        .now=${this.now}
        .canAct=${canAct}
        @rollout-action=${(e: CustomEvent<{ action: 'pause' | 'resume' | 'abort'; id: string }>) => void this.onRolloutAction(e.detail)}
      ></op-rollouts-view>
      <op-throughput-chart .points=${this.points} .bucketMs=${this.bucketMs}></op-throughput-chart>
      <div class="grid">
        <op-fleet-view .agents=${this.agents} .now=${this.now}></op-fleet-view>
        <op-pipelines-view .pipelines=${this.pipelines} .runs=${this.runs} .now=${this.now}></op-pipelines-view>
      </div>
      <op-editor .api=${this.api} .pipelines=${this.pipelines} .canApply=${canAct}></op-editor>`
  }
}

customElements.define('op-app', OpApp)
