/** The console's view of the REST API and the live event stream. */
export interface AppliedPipeline {
  name: string
  version: number
  hash: string
  state: 'applied' | 'failed'
  error?: string
}

export interface Agent {
  id: string
  name: string
  labels: Record<string, string>
  state: 'online' | 'degraded' | 'offline' | 'revoked'
  connected: boolean
  lastSeenAt?: number
  agentVersion: string
  host?: { hostname: string; os: string; arch: string }
  applied: AppliedPipeline[]
  drift: {
    pipeline: string
    desired?: { version: number }
    applied?: { version: number; state: string; error?: string }
  }[]
  status?: {
    outboxBatches: number
    outboxBytes?: number
    outboxOldestAgeMs: number
    runsActive: number
    natsConnected: boolean
    runsFailedRecently?: number
  }
  degradedReasons?: string[]
  enrolledAt?: number
  revokedAt?: number
}

/** One of an agent's 10 s buckets (GET /agents/:id/metrics). */
export interface AgentSample {
  t: number
  rowsRead: number
  rowsWritten: number
  outboxBatches?: number
  outboxOldestAgeMs?: number
}

export interface AuditEntry {
  seq: number
  at: number
  actor: string
  action: string
  target: string
  details?: Record<string, unknown>
}

export type ProbeKind = 'test_connection' | 'preview' | 'schema'

export interface QuarantineEntry {
  runId: string
  seq: number
  version: number
  source: string
  record: number
  rule: string
  reason: string
  column?: string
  value?: string
  row: Record<string, unknown>
  at: string
}

/** Each agent's answer for the pipeline's quarantine. */
export interface QuarantineAnswer {
  agentId: string
  ok: boolean
  error?: string
  total?: number
  replayable?: number
  byRule?: Record<string, number>
  entries?: QuarantineEntry[]
}

export interface QualityReport {
  rows: number
  status: 'ok' | 'warn' | 'fail'
  columns: {
    name: string
    type: string
    completeness: number
    uniqueness: number
    distinctExact: boolean
    validity: number
    min?: number
    max?: number
    mean?: number
    top: { value: string; count: number }[]
  }[]
  rules: { name: string; severity: string; failed: number }[]
  breaches: { metric: string; column: string; value: number; limit: number; level: string }[]
}

export interface PipelineSummary {
  name: string
  version: number
  updatedAt: number
  schedule: unknown
  source?: string
  sinks: string[]
  description?: string
}

export interface Run {
  id: string
  agentId: string
  pipeline: string
  version: number
  status: 'running' | 'succeeded' | 'failed' | 'cancelled'
  startedAt: number
  finishedAt?: number
  trigger?: string
  counts: {
    rowsRead: number
    rowsWritten: number
    rowsQuarantined: number
    rowsFiltered: number
    rowsDropped?: number
    bytesRead?: number
  }
  errors: { message: string; stage?: string; code?: string }[]
  errorsTotal?: number
  quality?: QualityReport
}

export interface Alert {
  id: string
  rule: string
  severity: 'warning' | 'critical'
  state: 'firing' | 'acknowledged' | 'resolved'
  summary: string
  firedAt: number
  acknowledgedBy?: string
  agentId?: string
  pipeline?: string
}

export interface Rollout {
  id: string
  pipeline: string
  strategy: 'all' | 'canary'
  state: 'running' | 'paused' | 'completed' | 'aborted'
  fromVersion: number
  toVersion: number
  currentWave: number
  waves: { size: number | string; agents: string[] }[]
  pausedReason?: string
  createdAt: number
  agents?: { agentId: string; name: string; wave: number | null; desiredVersion: number; status: string }[]
}

export interface ThroughputPoint {
  t: number
  rowsRead: number
  rowsWritten: number
}

export interface Principal {
  tokenId: string
  name: string
  role: 'viewer' | 'operator' | 'admin'
}

/** Thresholds of the alert rules (GET /alerts/settings); durations as `<ms>ms`. */
export interface AlertSettings {
  agentOfflineAfter: string
  runFailuresInARow: number
  outboxAge: string
  diskBudgetRatio: number
}

/** One of an agent's state changes (GET /agents/:id/history), newest first. */
export interface AgentStateChange {
  state: Agent['state']
  at: number
  /** When the next state began; absent for the current one. */
  until?: number
  durationMs: number
  causes: string[]
  reasons: string[]
}

/** The API refused the token (unknown, revoked or expired): sign in again. */
export class UnauthorizedError extends Error {}

/** The API refused the request; `errors` names each field that is wrong. */
export class ProblemError extends Error {
  constructor(
    message: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(message)
    this.name = 'ProblemError'
  }
}

const TOKEN_KEY = 'outpost.token'

/** The token lives in sessionStorage: gone when the tab closes, never in a URL or a cookie. */
export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
}

export class ApiClient {
  constructor(private readonly base = '/api/v1') {}

  private headers(accept = 'application/json'): Record<string, string> {
    const token = session.token()
    return { accept, ...(token ? { authorization: `Bearer ${token}` } : {}) }
  }

  private async get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path)
  }

  /** One JSON request; a refusal is thrown with the problem's detail, which names what is wrong. */
  private async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers:
        body === undefined ? this.headers() : { ...this.headers(), 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    if (response.status === 401) throw new UnauthorizedError('the API token was refused')
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as {
        detail?: string
        errors?: { path: string; message: string }[]
      }
      throw new ProblemError(problem.detail ?? `${path}: HTTP ${response.status}`, problem.errors)
    }
    return (await response.json()) as T
  }

  whoami = () => this.get<Principal>('/whoami')
  openapi = () => this.get<{ paths: unknown }>('/openapi.json')

  private post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.send<T>('POST', path, body)
  }

  pipeline = (name: string) =>
    this.get<PipelineSummary & { spec: unknown }>(`/pipelines/${encodeURIComponent(name)}`)
  versions = (name: string) =>
    this.get<{ items: { version: number; author: string; createdAt: number }[] }>(
      `/pipelines/${encodeURIComponent(name)}/versions`,
    ).then((r) => r.items)
  diff = (name: string, version: number) =>
    this.get<{ diff: string; from: number | null; to: number }>(
      `/pipelines/${encodeURIComponent(name)}/versions/${version}/diff`,
    )
  rollouts = () => this.get<{ items: Rollout[] }>('/rollouts').then((r) => r.items)
  rollout = (id: string) => this.get<Rollout>(`/rollouts/${encodeURIComponent(id)}`)
  /** Rolls a pipeline out at one of its versions, e.g. back to an earlier one (a new rollout). */
  rollOut = (pipeline: string, version: number) =>
    this.post<Rollout>(`/pipelines/${encodeURIComponent(pipeline)}/rollouts`, { version })
  rolloutAction = (id: string, action: 'pause' | 'resume' | 'abort') =>
    this.post<Rollout>(`/rollouts/${encodeURIComponent(id)}/${action}`)

  /** Applies a pipeline document (YAML); with waves, as a canary rollout. */
  async apply(
    name: string,
    yaml: string,
    plan: { waves?: string; soak?: string } = {},
  ): Promise<{
    version: number
    created?: boolean
    unchanged?: boolean
    rollout?: { id: string; strategy: string }
  }> {
    const query = new URLSearchParams()
    if (plan.waves) query.set('waves', plan.waves)
    if (plan.soak) query.set('soak', plan.soak)
    const response = await fetch(
      `${this.base}/pipelines/${encodeURIComponent(name)}${query.size ? `?${query}` : ''}`,
      {
        method: 'PUT',
        headers: { ...this.headers(), 'content-type': 'application/yaml' },
        body: yaml,
      },
    )
    if (response.status === 401) throw new UnauthorizedError('the API token was refused')
    const body = (await response.json().catch(() => ({}))) as { detail?: string }
    if (!response.ok) throw new Error(body.detail ?? `HTTP ${response.status}`)
    return body as never
  }

  alerts = () =>
    Promise.all([
      this.get<{ items: Alert[] }>('/alerts?state=firing'),
      this.get<{ items: Alert[] }>('/alerts?state=acknowledged'),
    ]).then(([a, b]) => [...a.items, ...b.items])
  acknowledge = (id: string) => this.post<Alert>(`/alerts/${encodeURIComponent(id)}/acknowledge`)
  resolve = (id: string) => this.post<Alert>(`/alerts/${encodeURIComponent(id)}/resolve`)

  alertSettings = () => this.get<AlertSettings>('/alerts/settings')
  setAlertSettings = (change: Partial<Record<keyof AlertSettings, unknown>>) =>
    this.send<AlertSettings>('PUT', '/alerts/settings', change)

  agents = () => this.get<{ items: Agent[] }>('/agents').then((r) => r.items)
  agent = (id: string) => this.get<Agent>(`/agents/${encodeURIComponent(id)}`)
  agentMetrics = (id: string, minutes = 15) =>
    this.get<{ bucketMs: number; points: AgentSample[] }>(
      `/agents/${encodeURIComponent(id)}/metrics?minutes=${minutes}`,
    )
  agentRuns = (id: string, limit = 20) =>
    this.get<{ items: Run[] }>(`/runs?agent=${encodeURIComponent(id)}&limit=${limit}`).then((r) => r.items)
  agentHistory = (id: string) =>
    this.get<{ items: AuditEntry[] }>(`/audit?target=${encodeURIComponent(id)}&limit=20`).then((r) => r.items)
  agentStates = (id: string) =>
    this.get<{ items: AgentStateChange[] }>(`/agents/${encodeURIComponent(id)}/history`).then((r) => r.items)
  agentAlerts = (id: string) =>
    this.get<{ items: Alert[] }>('/alerts?limit=200').then((r) => r.items.filter((a) => a.agentId === id))
  setLabels = (id: string, labels: Record<string, string>) =>
    this.send<Agent>('PATCH', `/agents/${encodeURIComponent(id)}`, { labels })
  revoke = (id: string) => this.post<Agent>(`/agents/${encodeURIComponent(id)}/revoke`)
  probe = (id: string, body: { kind: ProbeKind; spec: unknown; target?: string; limit?: number }) =>
    this.post<{ ok: boolean; error?: string; result?: unknown }>(
      `/agents/${encodeURIComponent(id)}/probe`,
      body,
    )
  run = (id: string) => this.get<Run>(`/runs/${encodeURIComponent(id)}`)
  quarantine = (pipeline: string, run: string, limit = 20) =>
    this.get<{ total: number; items: QuarantineAnswer[] }>(
      `/pipelines/${encodeURIComponent(pipeline)}/quarantine?run=${encodeURIComponent(run)}&limit=${limit}`,
    )
  replay = (pipeline: string, body: { run?: string; agent?: string }) =>
    this.post<{ items: (QuarantineAnswer & { replayed?: number; written?: number; left?: number })[] }>(
      `/pipelines/${encodeURIComponent(pipeline)}/quarantine/replay`,
      body,
    )
  pipelines = () => this.get<{ items: PipelineSummary[] }>('/pipelines').then((r) => r.items)
  runs = (limit = 50, status?: string) =>
    this.get<{ items: Run[] }>(`/runs?limit=${limit}${status ? `&status=${status}` : ''}`).then(
      (r) => r.items,
    )
  throughput = (minutes = 15) =>
    this.get<{ bucketMs: number; points: ThroughputPoint[] }>(`/metrics/throughput?minutes=${minutes}`)

  /**
   * Subscribes to live events (server-sent events read with fetch, since EventSource cannot send
   * the Authorization header); reconnects after a pause when the stream ends.
   */
  live(handlers: {
    agent?: (a: Agent) => void
    run?: (r: Run) => void
    pipelines?: () => void
    throughput?: (p: ThroughputPoint & { bucketMs: number }) => void
    alert?: (a: Alert) => void
    rollout?: (r: Rollout) => void
    status?: (connected: boolean) => void
    unauthorized?: () => void
  }): () => void {
    const abort = new AbortController()
    const dispatch = (event: string, data: string) => {
      const fn = (handlers as Record<string, ((value: unknown) => void) | undefined>)[event]
      if (fn && event !== 'status' && event !== 'unauthorized') fn(JSON.parse(data) as unknown)
    }
    const connect = async (): Promise<void> => {
      while (!abort.signal.aborted) {
        try {
          const response = await fetch(`${this.base}/events`, {
            headers: this.headers('text/event-stream'),
            signal: abort.signal,
          })
          if (response.status === 401) {
            handlers.unauthorized?.()
            return
          }
          if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`)
          handlers.status?.(true)
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
          let buffer = ''
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            buffer += value
            let end = buffer.indexOf('\n\n')
            while (end >= 0) {
              const block = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              let event = 'message'
              const data: string[] = []
              for (const line of block.split('\n')) {
                if (line.startsWith('event:')) event = line.slice(6).trim()
                else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
              }
              if (data.length > 0) dispatch(event, data.join('\n'))
              end = buffer.indexOf('\n\n')
            }
          }
        } catch {
          // Network trouble or a stopped control plane: try again shortly.
        }
        if (abort.signal.aborted) return
        handlers.status?.(false)
        await new Promise((r) => setTimeout(r, 2000))
      }
    }
    void connect()
    return () => abort.abort()
  }
}

export function timeAgo(t: number | undefined, now = Date.now()): string {
  if (!t) return 'never'
  const s = Math.max(0, Math.round((now - t) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.round(s / 60)}m ago`
  if (s < 86400) return `${Math.round(s / 3600)}h ago`
  return `${Math.round(s / 86400)}d ago`
}

export function formatSchedule(schedule: unknown): string {
  if (typeof schedule === 'string') return schedule
  if (schedule && typeof schedule === 'object') {
    const s = schedule as { every?: string; cron?: string; timezone?: string }
    if (s.every) return `every ${s.every}`
    if (s.cron) return `${s.cron}${s.timezone ? ` (${s.timezone})` : ''}`
  }
  return 'manual'
}

/** A span of milliseconds in words: 850 ms, 12 s, 5 min 3 s, 2 h 10 min, 3 d 4 h. */
export function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`
  if (s < 86400)
    return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`
  return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)} h` : ''}`
}

/** How long a run took (so far, while it runs). */
export function formatDuration(run: { startedAt: number; finishedAt?: number }, now = Date.now()): string {
  const ms = (run.finishedAt ?? now) - run.startedAt
  if (ms < 1000) return `${Math.max(0, ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}
