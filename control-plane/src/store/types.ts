/**
 * Everything the control plane keeps, behind one interface. The LMDB implementation is the
 * embedded default; a PostgreSQL one (for several replicas) must pass the same contract tests.
 */
export type AgentStateName = 'online' | 'degraded' | 'offline' | 'revoked'

export interface HostFactsRecord {
  hostname: string
  os: string
  arch: string
  runtimeVersion: string
  cpus: number
  memoryBytes: number
}

export interface AppliedPipelineRecord {
  name: string
  version: number
  hash: string
  state: 'applied' | 'failed'
  error?: string
}

export interface AgentStatusRecord {
  runsActive: number
  outboxBatches: number
  outboxBytes: number
  outboxOldestAgeMs: number
  natsConnected: boolean
  runsFailedRecently: number
  /** The agent's outbox disk budget (0: unlimited). */
  diskBudgetBytes?: number
}

export interface AgentRecord {
  id: string
  name: string
  labels: Record<string, string>
  credentialHash: string
  tokenId: string
  enrolledAt: number
  agentVersion: string
  host?: HostFactsRecord
  lastSeenAt?: number
  connected: boolean
  revokedAt?: number
  /** The public key of the agent's NATS user nkey, when NATS uses per-agent credentials. */
  natsKey?: string
  appliedRevision?: number
  applied: AppliedPipelineRecord[]
  status?: AgentStatusRecord
}

/**
 * One entry of an agent's state history: the state it entered and when. `causes` names why it is
 * degraded (stable keys such as `runs_failed`), `reasons` says it in words as it was then.
 */
export interface AgentStateRecord {
  agentId: string
  state: AgentStateName
  at: number
  causes: string[]
  reasons: string[]
}

/** State changes kept per agent (the oldest go first). */
export const AGENT_HISTORY_LIMIT = 200

/** Whether two history entries say the same: same state for the same causes. */
export function sameState(a: AgentStateRecord, b: AgentStateRecord): boolean {
  return (
    a.state === b.state && a.causes.length === b.causes.length && a.causes.every((c, i) => c === b.causes[i])
  )
}

export interface TokenRecord {
  id: string
  hash: string
  description: string
  labels: Record<string, string>
  createdAt: number
  expiresAt: number
  maxUses: number
  uses: number
  revokedAt?: number
}

export type Role = 'viewer' | 'operator' | 'admin'

/** A token for the REST API and the console; only its hash is kept. */
export interface ApiTokenRecord {
  id: string
  name: string
  role: Role
  hash: string
  createdAt: number
  createdBy: string
  expiresAt?: number
  revokedAt?: number
}

/** Who did what, when: enrolments, revocations, pipeline changes, rollouts, acknowledgements. */
export interface AuditRecord {
  seq: number
  at: number
  /** `token:<name>` for API callers, `agent:<id>` for agents, `system` for the control plane. */
  actor: string
  /** A dotted verb: pipeline.apply, agent.revoke, api-token.create, … */
  action: string
  /** What it was done to: a pipeline name, an agent id, a token id. */
  target: string
  details?: Record<string, unknown>
}

export interface AuditQuery {
  limit?: number
  /** Entries with a sequence number below this one (for paging). */
  before?: number
  actor?: string
  action?: string
  target?: string
}

export interface PipelineRecord {
  name: string
  latestVersion: number
  /** The version agents run outside a rollout (the last completed one); absent: the latest. */
  stableVersion?: number
  createdAt: number
  updatedAt: number
}

export interface PipelineVersionRecord {
  name: string
  version: number
  hash: string
  /** Canonical JSON of the document as written. */
  specJson: string
  author: string
  createdAt: number
}

export type AlertRule =
  | 'agent_offline'
  | 'run_failed'
  | 'quality'
  | 'outbox_age'
  | 'disk_budget'
  | 'rollout_paused'
export type AlertState = 'firing' | 'acknowledged' | 'resolved'

export interface AlertRecord {
  id: string
  /** One open alert per key: the rule and what it is about (`agent_offline/agt-1`). */
  key: string
  rule: AlertRule
  severity: 'warning' | 'critical'
  agentId?: string
  pipeline?: string
  rollout?: string
  summary: string
  state: AlertState
  firedAt: number
  updatedAt: number
  acknowledgedAt?: number
  acknowledgedBy?: string
  resolvedAt?: number
  resolvedBy?: string
  history: { at: number; state: AlertState; by: string; note?: string }[]
}

/** Thresholds of the alert rules, editable by admins. */
export interface AlertSettings {
  agentOfflineAfterMs: number
  runFailuresInARow: number
  outboxAgeMs: number
  diskBudgetRatio: number
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  agentOfflineAfterMs: 120_000,
  runFailuresInARow: 3,
  outboxAgeMs: 15 * 60_000,
  diskBudgetRatio: 0.8,
}

export type RolloutState = 'running' | 'paused' | 'completed' | 'aborted'

export interface WaveRecord {
  /** How many agents the rollout covers once this wave has started: a count or a percentage. */
  size: number | string
  /** The agents this wave added, chosen when it started. */
  agents: string[]
  startedAt?: number
  /** When every agent of the wave had applied the version (the soak starts then). */
  appliedAt?: number
  completedAt?: number
}

export interface RolloutRecord {
  id: string
  pipeline: string
  /** What agents ran before (0: nothing). */
  fromVersion: number
  toVersion: number
  strategy: 'all' | 'canary'
  waves: WaveRecord[]
  /** Index of the wave in progress. */
  currentWave: number
  soakMs: number
  state: RolloutState
  pausedReason?: string
  createdAt: number
  createdBy: string
  updatedAt: number
  finishedAt?: number
}

export type RunStatusName = 'running' | 'succeeded' | 'failed' | 'cancelled'

export interface RunErrorRecord {
  stage: string
  code: string
  message: string
  record?: number
  column?: string
  source?: string
  retryable?: boolean
}

export interface RunRecord {
  id: string
  agentId: string
  pipeline: string
  version: number
  status: RunStatusName
  trigger: string
  startedAt: number
  finishedAt?: number
  counts: {
    rowsRead: number
    rowsWritten: number
    rowsQuarantined: number
    rowsFiltered: number
    rowsDropped: number
    bytesRead: number
    batches: number
  }
  errors: RunErrorRecord[]
  errorsTotal: number
  /** The quality report of a run with a validate section, as the agent sent it. */
  quality?: unknown
  updatedAt: number
}

/** How long per-agent buckets are kept: enough for the console's charts, small at 10,000 agents. */
export const AGENT_SERIES_RETENTION_MS = 6 * 3_600_000

export interface ThroughputPoint {
  /** Start of the bucket, ms since the epoch. */
  t: number
  rowsRead: number
  rowsWritten: number
}

/** One agent's 10 s bucket: rows it read and wrote in it, and its outbox at the last report in it. */
export interface AgentSamplePoint {
  t: number
  rowsRead: number
  rowsWritten: number
  /** Absent when no report in the bucket carried the outbox gauges. */
  outboxBatches?: number
  outboxOldestAgeMs?: number
}

export interface DeadLetterRecord {
  /** Sequence in the dead-letter stream, where the original bytes are kept. */
  seq: number
  subject: string
  agentId: string
  pipeline: string
  reason: string
  bytes: number
  at: number
}

export interface RunQuery {
  pipeline?: string
  agentId?: string
  status?: RunStatusName
  limit?: number
  /** Runs that started before this time (for paging). */
  before?: number
}

export interface Store {
  createToken(token: TokenRecord): Promise<void>
  listTokens(): Promise<TokenRecord[]>
  /** Atomically checks a token (by hash) and counts one use; returns why it is refused otherwise. */
  redeemToken(hash: string, now: number): Promise<TokenRecord | { refused: string }>
  revokeToken(id: string, now: number): Promise<boolean>

  createApiToken(token: ApiTokenRecord): Promise<void>
  listApiTokens(): Promise<ApiTokenRecord[]>
  findApiToken(hash: string): Promise<ApiTokenRecord | undefined>
  revokeApiToken(id: string, now: number): Promise<ApiTokenRecord | undefined>

  putAlert(alert: AlertRecord): Promise<void>
  getAlert(id: string): Promise<AlertRecord | undefined>
  /** Newest first. */
  listAlerts(query: { state?: AlertState; limit?: number }): Promise<AlertRecord[]>
  /** The firing or acknowledged alert with this key. */
  openAlert(key: string): Promise<AlertRecord | undefined>
  alertSettings(): Promise<AlertSettings>
  setAlertSettings(settings: AlertSettings): Promise<void>

  appendAudit(entry: Omit<AuditRecord, 'seq'>): Promise<AuditRecord>
  /** Newest first. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>

  putAgent(agent: AgentRecord): Promise<void>
  getAgent(id: string): Promise<AgentRecord | undefined>
  listAgents(): Promise<AgentRecord[]>
  /** Read-modify-write of one agent; returns the new record, or undefined when it does not exist. */
  updateAgent(id: string, change: (agent: AgentRecord) => AgentRecord): Promise<AgentRecord | undefined>

  /**
   * Appends an agent's state unless its latest entry has the same state and causes (so callers
   * may report the same state many times); keeps the latest AGENT_HISTORY_LIMIT entries per
   * agent. Returns whether it appended.
   */
  recordAgentState(entry: AgentStateRecord): Promise<boolean>
  /** The agent's state changes, newest first. */
  agentStateHistory(agentId: string, limit?: number): Promise<AgentStateRecord[]>

  /**
   * Adds a version of a pipeline (creating the pipeline at version 1). With `expectedVersion`,
   * refuses when the latest version is a different one (a concurrent edit).
   */
  addPipelineVersion(
    version: Omit<PipelineVersionRecord, 'version'>,
    expectedVersion?: number,
  ): Promise<{ record: PipelineVersionRecord } | { conflict: number }>
  getPipeline(name: string): Promise<PipelineRecord | undefined>
  /** Sets the version agents run outside a rollout; bumps the revision. */
  setStableVersion(name: string, version: number): Promise<void>

  /** Refuses (returns the active one) while the pipeline has a running or paused rollout. */
  createRollout(rollout: RolloutRecord): Promise<{ created: RolloutRecord } | { active: RolloutRecord }>
  getRollout(id: string): Promise<RolloutRecord | undefined>
  /** Newest first; only the pipeline's when given. */
  listRollouts(pipeline?: string): Promise<RolloutRecord[]>
  /** Read-modify-write of one rollout; bumps the revision (what agents run may change). */
  updateRollout(id: string, change: (r: RolloutRecord) => RolloutRecord): Promise<RolloutRecord | undefined>
  listPipelines(): Promise<PipelineRecord[]>
  getPipelineVersion(name: string, version: number): Promise<PipelineVersionRecord | undefined>
  listPipelineVersions(name: string): Promise<PipelineVersionRecord[]>
  deletePipeline(name: string): Promise<boolean>
  /** Bumped by every change to what agents should run. */
  configRevision(): Promise<number>

  /** Inserts or advances a run; a finished run is never set back to running. */
  recordRun(run: RunRecord): Promise<RunRecord>
  getRun(id: string): Promise<RunRecord | undefined>
  listRuns(query: RunQuery): Promise<RunRecord[]>

  recordDeadLetter(entry: DeadLetterRecord): Promise<void>
  /** Newest first. */
  listDeadLetters(limit: number): Promise<DeadLetterRecord[]>

  addThroughput(bucketStart: number, rowsRead: number, rowsWritten: number): Promise<void>
  throughput(since: number): Promise<ThroughputPoint[]>
  /** Adds counters into the agent's bucket; outbox gauges, when given, replace the bucket's. */
  addAgentSample(agentId: string, sample: AgentSamplePoint): Promise<void>
  /** The agent's buckets from `since` on, oldest first (kept for AGENT_SERIES_RETENTION_MS). */
  agentSeries(agentId: string, since: number): Promise<AgentSamplePoint[]>

  /** Several replicas on one store: called when another one changes what agents should run. */
  onChange?(listener: () => void): Promise<void>
  /** Several replicas on one store: whether this one runs the rollout and alert evaluators. */
  isLeader?(): Promise<boolean>

  close(): Promise<void>
}
