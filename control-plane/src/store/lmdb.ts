/** The embedded store: one LMDB environment in the control plane's data directory. */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'
import type {
  AgentRecord,
  AgentSamplePoint,
  AgentStateRecord,
  AlertRecord,
  AlertSettings,
  AlertState,
  ApiTokenRecord,
  AuditQuery,
  AuditRecord,
  DeadLetterRecord,
  PipelineRecord,
  PipelineVersionRecord,
  RolloutRecord,
  RunQuery,
  RunRecord,
  Store,
  ThroughputPoint,
  TokenRecord,
} from './types.js'
import { AGENT_HISTORY_LIMIT, AGENT_SERIES_RETENTION_MS, DEFAULT_ALERT_SETTINGS, sameState } from './types.js'

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])
const THROUGHPUT_RETENTION_MS = 7 * 86_400_000

export class LmdbStore implements Store {
  private readonly root: RootDatabase
  private readonly meta: Database<unknown, string>
  private readonly tokens: Database<TokenRecord, string>
  private readonly tokenByHash: Database<string, string>
  private readonly agents: Database<AgentRecord, string>
  private readonly pipelines: Database<PipelineRecord, string>
  private readonly versions: Database<PipelineVersionRecord, [string, number]>
  private readonly runs: Database<RunRecord, string>
  private readonly runsByStart: Database<string, [number, string]>
  private readonly metrics: Database<ThroughputPoint, number>
  private readonly agentSamples: Database<AgentSamplePoint, [string, number]>
  /** Keyed by agent and a sequence number per agent. */
  private readonly agentStates: Database<AgentStateRecord, [string, number]>
  private readonly deadLetters: Database<DeadLetterRecord, number>
  private readonly apiTokens: Database<ApiTokenRecord, string>
  private readonly apiTokenByHash: Database<string, string>
  private readonly audit: Database<AuditRecord, number>
  private readonly rollouts: Database<RolloutRecord, string>
  private readonly alerts: Database<AlertRecord, string>
  private readonly openAlerts: Database<string, string>

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true })
    this.root = open({ path: join(dir, 'store.mdb'), maxDbs: 24, compression: false })
    this.meta = this.root.openDB({ name: 'meta' })
    this.tokens = this.root.openDB({ name: 'tokens' })
    this.tokenByHash = this.root.openDB({ name: 'token-by-hash' })
    this.agents = this.root.openDB({ name: 'agents' })
    this.pipelines = this.root.openDB({ name: 'pipelines' })
    this.versions = this.root.openDB({ name: 'pipeline-versions' })
    this.runs = this.root.openDB({ name: 'runs' })
    this.runsByStart = this.root.openDB({ name: 'runs-by-start' })
    this.metrics = this.root.openDB({ name: 'throughput' })
    this.agentSamples = this.root.openDB({ name: 'agent-samples' })
    this.agentStates = this.root.openDB({ name: 'agent-states' })
    this.deadLetters = this.root.openDB({ name: 'dead-letters' })
    this.apiTokens = this.root.openDB({ name: 'api-tokens' })
    this.apiTokenByHash = this.root.openDB({ name: 'api-token-by-hash' })
    this.audit = this.root.openDB({ name: 'audit' })
    this.rollouts = this.root.openDB({ name: 'rollouts' })
    this.alerts = this.root.openDB({ name: 'alerts' })
    this.openAlerts = this.root.openDB({ name: 'open-alerts' })
  }

  async putAlert(alert: AlertRecord): Promise<void> {
    await this.root.transaction(() => {
      this.alerts.put(alert.id, alert)
      if (alert.state === 'resolved') {
        if (this.openAlerts.get(alert.key) === alert.id) this.openAlerts.remove(alert.key)
      } else this.openAlerts.put(alert.key, alert.id)
    })
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    return this.alerts.get(id)
  }

  async listAlerts(query: { state?: AlertState; limit?: number }): Promise<AlertRecord[]> {
    return [...this.alerts.getRange({})]
      .map((e) => e.value)
      .filter((a) => !query.state || a.state === query.state)
      .sort((a, b) => b.firedAt - a.firedAt || b.id.localeCompare(a.id))
      .slice(0, Math.min(query.limit ?? 200, 1000))
  }

  async openAlert(key: string): Promise<AlertRecord | undefined> {
    const id = this.openAlerts.get(key)
    return id ? this.alerts.get(id) : undefined
  }

  async alertSettings(): Promise<AlertSettings> {
    return {
      ...DEFAULT_ALERT_SETTINGS,
      ...((this.meta.get('alert-settings') as Partial<AlertSettings>) ?? {}),
    }
  }

  async setAlertSettings(settings: AlertSettings): Promise<void> {
    await this.meta.put('alert-settings', settings)
  }

  setStableVersion(name: string, version: number): Promise<void> {
    return this.root.transaction(() => {
      const p = this.pipelines.get(name)
      if (!p) return
      this.pipelines.put(name, { ...p, stableVersion: version })
      this.bumpRevision()
    })
  }

  createRollout(rollout: RolloutRecord): Promise<{ created: RolloutRecord } | { active: RolloutRecord }> {
    return this.root.transaction(() => {
      for (const { value } of this.rollouts.getRange({})) {
        if (value.pipeline === rollout.pipeline && (value.state === 'running' || value.state === 'paused'))
          return { active: value }
      }
      this.rollouts.put(rollout.id, rollout)
      this.bumpRevision()
      return { created: rollout }
    })
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    return this.rollouts.get(id)
  }

  async listRollouts(pipeline?: string): Promise<RolloutRecord[]> {
    return [...this.rollouts.getRange({})]
      .map((e) => e.value)
      .filter((r) => pipeline === undefined || r.pipeline === pipeline)
      .sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id))
  }

  updateRollout(id: string, change: (r: RolloutRecord) => RolloutRecord): Promise<RolloutRecord | undefined> {
    return this.root.transaction(() => {
      const current = this.rollouts.get(id)
      if (!current) return undefined
      const next = change(current)
      this.rollouts.put(id, next)
      this.bumpRevision()
      return next
    })
  }

  async createApiToken(token: ApiTokenRecord): Promise<void> {
    await this.root.transaction(() => {
      this.apiTokens.put(token.id, token)
      this.apiTokenByHash.put(token.hash, token.id)
    })
  }

  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return [...this.apiTokens.getRange({})].map((e) => e.value).sort((a, b) => a.createdAt - b.createdAt)
  }

  async findApiToken(hash: string): Promise<ApiTokenRecord | undefined> {
    const id = this.apiTokenByHash.get(hash)
    return id ? this.apiTokens.get(id) : undefined
  }

  revokeApiToken(id: string, now: number): Promise<ApiTokenRecord | undefined> {
    return this.root.transaction(() => {
      const token = this.apiTokens.get(id)
      if (!token) return undefined
      const revoked = { ...token, revokedAt: token.revokedAt ?? now }
      this.apiTokens.put(id, revoked)
      return revoked
    })
  }

  appendAudit(entry: Omit<AuditRecord, 'seq'>): Promise<AuditRecord> {
    return this.root.transaction(() => {
      const last = [...this.audit.getKeys({ reverse: true, limit: 1 })][0] ?? 0
      const record = { ...entry, seq: last + 1 }
      this.audit.put(record.seq, record)
      return record
    })
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const limit = Math.min(query.limit ?? 100, 1000)
    const out: AuditRecord[] = []
    const start = query.before === undefined ? undefined : query.before - 1
    for (const { value } of this.audit.getRange({
      reverse: true,
      ...(start !== undefined ? { start } : {}),
    })) {
      if (query.actor && value.actor !== query.actor) continue
      if (query.action && value.action !== query.action && !value.action.startsWith(`${query.action}.`))
        continue
      if (query.target && value.target !== query.target) continue
      out.push(value)
      if (out.length >= limit) break
    }
    return out
  }

  async createToken(token: TokenRecord): Promise<void> {
    await this.root.transaction(() => {
      this.tokens.put(token.id, token)
      this.tokenByHash.put(token.hash, token.id)
    })
  }

  async listTokens(): Promise<TokenRecord[]> {
    return [...this.tokens.getRange({})].map((e) => e.value).sort((a, b) => b.createdAt - a.createdAt)
  }

  redeemToken(hash: string, now: number): Promise<TokenRecord | { refused: string }> {
    return this.root.transaction(() => {
      const id = this.tokenByHash.get(hash)
      const token = id ? this.tokens.get(id) : undefined
      if (!token) return { refused: 'unknown enrolment token' }
      if (token.revokedAt) return { refused: 'enrolment token revoked' }
      if (token.expiresAt <= now) return { refused: 'enrolment token expired' }
      if (token.uses >= token.maxUses) return { refused: `enrolment token used up (${token.maxUses} uses)` }
      const used = { ...token, uses: token.uses + 1 }
      this.tokens.put(token.id, used)
      return used
    })
  }

  revokeToken(id: string, now: number): Promise<boolean> {
    return this.root.transaction(() => {
      const token = this.tokens.get(id)
      if (!token) return false
      this.tokens.put(id, { ...token, revokedAt: token.revokedAt ?? now })
      return true
    })
  }

  async putAgent(agent: AgentRecord): Promise<void> {
    await this.agents.put(agent.id, agent)
  }

  async getAgent(id: string): Promise<AgentRecord | undefined> {
    return this.agents.get(id)
  }

  async listAgents(): Promise<AgentRecord[]> {
    return [...this.agents.getRange({})].map((e) => e.value)
  }

  updateAgent(id: string, change: (agent: AgentRecord) => AgentRecord): Promise<AgentRecord | undefined> {
    return this.root.transaction(() => {
      const agent = this.agents.get(id)
      if (!agent) return undefined
      const next = change(agent)
      this.agents.put(id, next)
      return next
    })
  }

  recordAgentState(entry: AgentStateRecord): Promise<boolean> {
    return this.root.transaction(() => {
      const range = {
        start: [entry.agentId, Number.MAX_SAFE_INTEGER] as [string, number],
        end: [entry.agentId, 0] as [string, number],
        reverse: true,
        limit: 1,
      }
      const last = [...this.agentStates.getRange(range)][0]
      if (last && sameState(last.value, entry)) return false
      const seq = (last?.key[1] ?? 0) + 1
      this.agentStates.put([entry.agentId, seq], entry)
      if (seq > AGENT_HISTORY_LIMIT) this.agentStates.remove([entry.agentId, seq - AGENT_HISTORY_LIMIT])
      return true
    })
  }

  async agentStateHistory(agentId: string, limit = AGENT_HISTORY_LIMIT): Promise<AgentStateRecord[]> {
    return [
      ...this.agentStates.getRange({
        start: [agentId, Number.MAX_SAFE_INTEGER],
        end: [agentId, 0],
        reverse: true,
        limit,
      }),
    ].map((e) => e.value)
  }

  addPipelineVersion(
    version: Omit<PipelineVersionRecord, 'version'>,
    expectedVersion?: number,
  ): Promise<{ record: PipelineVersionRecord } | { conflict: number }> {
    return this.root.transaction(() => {
      const existing = this.pipelines.get(version.name)
      const latest = existing?.latestVersion ?? 0
      if (expectedVersion !== undefined && expectedVersion !== latest) return { conflict: latest }
      const record: PipelineVersionRecord = { ...version, version: latest + 1 }
      this.versions.put([version.name, record.version], record)
      this.pipelines.put(version.name, {
        ...existing,
        name: version.name,
        latestVersion: record.version,
        createdAt: existing?.createdAt ?? version.createdAt,
        updatedAt: version.createdAt,
      })
      this.bumpRevision()
      return { record }
    })
  }

  private bumpRevision(): void {
    this.meta.put('revision', ((this.meta.get('revision') as number | undefined) ?? 0) + 1)
  }

  async getPipeline(name: string): Promise<PipelineRecord | undefined> {
    return this.pipelines.get(name)
  }

  async listPipelines(): Promise<PipelineRecord[]> {
    return [...this.pipelines.getRange({})].map((e) => e.value)
  }

  async getPipelineVersion(name: string, version: number): Promise<PipelineVersionRecord | undefined> {
    return this.versions.get([name, version])
  }

  async listPipelineVersions(name: string): Promise<PipelineVersionRecord[]> {
    return [...this.versions.getRange({ start: [name, 0], end: [name, Number.MAX_SAFE_INTEGER] })].map(
      (e) => e.value,
    )
  }

  deletePipeline(name: string): Promise<boolean> {
    return this.root.transaction(() => {
      if (!this.pipelines.get(name)) return false
      // Versions stay: runs and audit entries refer to them.
      this.pipelines.remove(name)
      this.bumpRevision()
      return true
    })
  }

  async configRevision(): Promise<number> {
    return (this.meta.get('revision') as number | undefined) ?? 0
  }

  recordRun(run: RunRecord): Promise<RunRecord> {
    return this.root.transaction(() => {
      const existing = this.runs.get(run.id)
      if (existing && FINAL.has(existing.status) && !FINAL.has(run.status)) return existing
      const merged = existing ? { ...existing, ...run, startedAt: existing.startedAt } : run
      this.runs.put(run.id, merged)
      if (!existing) this.runsByStart.put([merged.startedAt, run.id], run.id)
      return merged
    })
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    return this.runs.get(id)
  }

  async listRuns(query: RunQuery): Promise<RunRecord[]> {
    const limit = Math.min(query.limit ?? 100, 1000)
    const out: RunRecord[] = []
    const start: [number, string] = [query.before ?? Number.MAX_SAFE_INTEGER, '']
    for (const { value: id } of this.runsByStart.getRange({ start, reverse: true })) {
      const run = this.runs.get(id)
      if (!run) continue
      if (query.pipeline && run.pipeline !== query.pipeline) continue
      if (query.agentId && run.agentId !== query.agentId) continue
      if (query.status && run.status !== query.status) continue
      out.push(run)
      if (out.length >= limit) break
    }
    return out
  }

  async recordDeadLetter(entry: DeadLetterRecord): Promise<void> {
    await this.deadLetters.put(entry.seq, entry)
  }

  async listDeadLetters(limit: number): Promise<DeadLetterRecord[]> {
    return [...this.deadLetters.getRange({ reverse: true, limit })].map((e) => e.value)
  }

  addThroughput(bucketStart: number, rowsRead: number, rowsWritten: number): Promise<void> {
    return this.root.transaction(() => {
      const point = this.metrics.get(bucketStart) ?? { t: bucketStart, rowsRead: 0, rowsWritten: 0 }
      this.metrics.put(bucketStart, {
        t: bucketStart,
        rowsRead: point.rowsRead + rowsRead,
        rowsWritten: point.rowsWritten + rowsWritten,
      })
      for (const key of [...this.metrics.getKeys({ end: bucketStart - THROUGHPUT_RETENTION_MS, limit: 100 })])
        this.metrics.remove(key)
    })
  }

  async throughput(since: number): Promise<ThroughputPoint[]> {
    return [...this.metrics.getRange({ start: since })].map((e) => e.value)
  }

  addAgentSample(agentId: string, sample: AgentSamplePoint): Promise<void> {
    return this.root.transaction(() => {
      const key: [string, number] = [agentId, sample.t]
      const before = this.agentSamples.get(key)
      this.agentSamples.put(key, {
        ...before,
        ...sample,
        rowsRead: (before?.rowsRead ?? 0) + sample.rowsRead,
        rowsWritten: (before?.rowsWritten ?? 0) + sample.rowsWritten,
      })
      const stale = this.agentSamples.getKeys({
        start: [agentId, 0],
        end: [agentId, sample.t - AGENT_SERIES_RETENTION_MS],
        limit: 100,
      })
      for (const old of [...stale]) this.agentSamples.remove(old)
    })
  }

  async agentSeries(agentId: string, since: number): Promise<AgentSamplePoint[]> {
    return [
      ...this.agentSamples.getRange({ start: [agentId, since], end: [agentId, Number.MAX_SAFE_INTEGER] }),
    ].map((e) => e.value)
  }

  async close(): Promise<void> {
    await this.root.flushed
    await this.root.close()
  }
}
