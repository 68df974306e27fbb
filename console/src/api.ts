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
  status?: { outboxBatches: number; outboxOldestAgeMs: number; runsActive: number; natsConnected: boolean }
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
  counts: { rowsRead: number; rowsWritten: number; rowsQuarantined: number; rowsFiltered: number }
  errors: { message: string }[]
}

export interface ThroughputPoint {
  t: number
  rowsRead: number
  rowsWritten: number
}

export class ApiClient {
  constructor(private readonly base = '/api/v1') {}

  private async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.base}${path}`, { headers: { accept: 'application/json' } })
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`)
    return (await response.json()) as T
  }

  agents = () => this.get<{ items: Agent[] }>('/agents').then((r) => r.items)
  pipelines = () => this.get<{ items: PipelineSummary[] }>('/pipelines').then((r) => r.items)
  runs = (limit = 50) => this.get<{ items: Run[] }>(`/runs?limit=${limit}`).then((r) => r.items)
  throughput = (minutes = 15) =>
    this.get<{ bucketMs: number; points: ThroughputPoint[] }>(`/metrics/throughput?minutes=${minutes}`)

  /** Subscribes to live events; the browser's EventSource reconnects by itself. */
  live(handlers: {
    agent?: (a: Agent) => void
    run?: (r: Run) => void
    pipelines?: () => void
    throughput?: (p: ThroughputPoint & { bucketMs: number }) => void
    status?: (connected: boolean) => void
  }): () => void {
    const source = new EventSource(`${this.base}/events`)
    const on = <T>(name: string, fn: ((value: T) => void) | undefined) => {
      if (fn) source.addEventListener(name, (e) => fn(JSON.parse((e as MessageEvent<string>).data) as T))
    }
    on('agent', handlers.agent)
    on('run', handlers.run)
    on('pipelines', handlers.pipelines)
    on('throughput', handlers.throughput)
    source.addEventListener('open', () => handlers.status?.(true))
    source.addEventListener('error', () => handlers.status?.(false))
    return () => source.close()
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
