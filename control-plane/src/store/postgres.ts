/**
 * The store on PostgreSQL, for several control-plane replicas: records as JSONB documents with
 * the columns queries need, read-modify-writes under row locks, and the config revision in one
 * row. Replicas learn of each other's changes through LISTEN/NOTIFY, and one of them at a time
 * (the holder of an advisory lock) runs the rollout and alert evaluators.
 */
import pg from 'pg'
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outpost_meta (key text PRIMARY KEY, value jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_tokens (id text PRIMARY KEY, hash text UNIQUE NOT NULL, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_api_tokens (id text PRIMARY KEY, hash text UNIQUE NOT NULL, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_agents (id text PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_pipelines (name text PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_versions (name text NOT NULL, version int NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS outpost_runs (id text PRIMARY KEY, started_at bigint NOT NULL, pipeline text NOT NULL, agent_id text NOT NULL, status text NOT NULL, doc jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS outpost_runs_started ON outpost_runs (started_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS outpost_dead_letters (seq bigint PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_throughput (t bigint PRIMARY KEY, rows_read bigint NOT NULL, rows_written bigint NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_agent_samples (agent_id text NOT NULL, t bigint NOT NULL, rows_read bigint NOT NULL, rows_written bigint NOT NULL, outbox_batches bigint, outbox_oldest_age_ms bigint, PRIMARY KEY (agent_id, t));
CREATE TABLE IF NOT EXISTS outpost_agent_states (agent_id text NOT NULL, seq bigint NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (agent_id, seq));
CREATE TABLE IF NOT EXISTS outpost_audit (seq bigserial PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_rollouts (id text PRIMARY KEY, pipeline text NOT NULL, created_at bigint NOT NULL, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS outpost_alerts (id text PRIMARY KEY, key text NOT NULL, state text NOT NULL, fired_at bigint NOT NULL, doc jsonb NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS outpost_alerts_open ON outpost_alerts (key) WHERE state <> 'resolved';
INSERT INTO outpost_meta VALUES ('revision', '0') ON CONFLICT DO NOTHING;
`

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])
const THROUGHPUT_RETENTION_MS = 7 * 86_400_000
const CHANNEL = 'outpost_changes'
/** Advisory lock key of the replica that runs the evaluators ("outpost" in ASCII). */
const LEADER_LOCK = 0x6f7574706f7374

type Tx = pg.PoolClient

export class PostgresStore implements Store {
  private listener: pg.Client | undefined
  private leaderClient: pg.Client | undefined
  private leading = false
  private leaderCheck: Promise<boolean> | undefined

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  static async open(url: string): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 8 })
    pool.on('error', () => {})
    // Replicas starting together must not race on CREATE TABLE.
    const c = await pool.connect()
    try {
      await c.query('SELECT pg_advisory_lock(7301)')
      await c.query(SCHEMA)
      await c.query('SELECT pg_advisory_unlock(7301)')
    } finally {
      c.release()
    }
    return new PostgresStore(pool, url)
  }

  private async tx<T>(fn: (c: Tx) => Promise<T>): Promise<T> {
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN')
      const result = await fn(c)
      await c.query('COMMIT')
      return result
    } catch (error) {
      await c.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      c.release()
    }
  }

  private async docs<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, params)).rows.map((r) => r.doc as T)
  }

  private async bumpRevision(c: Tx): Promise<void> {
    await c.query(
      `UPDATE outpost_meta SET value = to_jsonb((value::text)::bigint + 1) WHERE key = 'revision'`,
    )
    await c.query(`SELECT pg_notify('${CHANNEL}', 'revision')`)
  }

  /** Calls `listener` when another replica (or this one) changes what agents should run. */
  async onChange(listener: () => void): Promise<void> {
    const client = new pg.Client({ connectionString: this.url })
    client.on('error', () => {})
    await client.connect()
    client.on('notification', () => listener())
    await client.query(`LISTEN ${CHANNEL}`)
    this.listener = client
  }

  /**
   * Whether this replica runs the evaluators: it holds a session advisory lock while it lives.
   * Checks run one at a time: two at once would open two sessions, and the lock taken by one of
   * them would be held by a connection nobody uses (then no replica would lead).
   */
  isLeader(): Promise<boolean> {
    if (this.leading) return Promise.resolve(true)
    this.leaderCheck ??= (async () => {
      try {
        if (!this.leaderClient) {
          const client = new pg.Client({ connectionString: this.url })
          client.on('error', () => {
            this.leading = false
            this.leaderClient = undefined
          })
          await client.connect()
          this.leaderClient = client
        }
        const r = await this.leaderClient.query('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK])
        this.leading = r.rows[0]?.ok === true
        return this.leading
      } finally {
        this.leaderCheck = undefined
      }
    })()
    return this.leaderCheck
  }

  // --- enrolment tokens ---

  async createToken(token: TokenRecord): Promise<void> {
    await this.pool.query('INSERT INTO outpost_tokens VALUES ($1, $2, $3)', [token.id, token.hash, token])
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.docs(`SELECT doc FROM outpost_tokens ORDER BY (doc->>'createdAt')::bigint DESC`)
  }

  redeemToken(hash: string, now: number): Promise<TokenRecord | { refused: string }> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_tokens WHERE hash = $1 FOR UPDATE', [hash])
      const token = r.rows[0]?.doc as TokenRecord | undefined
      if (!token) return { refused: 'unknown enrolment token' }
      if (token.revokedAt) return { refused: 'enrolment token revoked' }
      if (token.expiresAt <= now) return { refused: 'enrolment token expired' }
      if (token.uses >= token.maxUses) return { refused: `enrolment token used up (${token.maxUses} uses)` }
      const used = { ...token, uses: token.uses + 1 }
      await c.query('UPDATE outpost_tokens SET doc = $2 WHERE id = $1', [token.id, used])
      return used
    })
  }

  revokeToken(id: string, now: number): Promise<boolean> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_tokens WHERE id = $1 FOR UPDATE', [id])
      const token = r.rows[0]?.doc as TokenRecord | undefined
      if (!token) return false
      await c.query('UPDATE outpost_tokens SET doc = $2 WHERE id = $1', [
        id,
        { ...token, revokedAt: token.revokedAt ?? now },
      ])
      return true
    })
  }

  // --- API tokens, audit ---

  async createApiToken(token: ApiTokenRecord): Promise<void> {
    await this.pool.query('INSERT INTO outpost_api_tokens VALUES ($1, $2, $3)', [token.id, token.hash, token])
  }

  async listApiTokens(): Promise<ApiTokenRecord[]> {
    return this.docs(`SELECT doc FROM outpost_api_tokens ORDER BY (doc->>'createdAt')::bigint, id`)
  }

  async findApiToken(hash: string): Promise<ApiTokenRecord | undefined> {
    return (await this.docs<ApiTokenRecord>('SELECT doc FROM outpost_api_tokens WHERE hash = $1', [hash]))[0]
  }

  revokeApiToken(id: string, now: number): Promise<ApiTokenRecord | undefined> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_api_tokens WHERE id = $1 FOR UPDATE', [id])
      const token = r.rows[0]?.doc as ApiTokenRecord | undefined
      if (!token) return undefined
      const revoked = { ...token, revokedAt: token.revokedAt ?? now }
      await c.query('UPDATE outpost_api_tokens SET doc = $2 WHERE id = $1', [id, revoked])
      return revoked
    })
  }

  async appendAudit(entry: Omit<AuditRecord, 'seq'>): Promise<AuditRecord> {
    const r = await this.pool.query(`INSERT INTO outpost_audit (doc) VALUES ($1) RETURNING seq`, [entry])
    return { ...entry, seq: Number(r.rows[0].seq) }
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = []
    const params: unknown[] = []
    const add = (sql: string, value: unknown) => {
      params.push(value)
      where.push(sql.replace('?', `$${params.length}`))
    }
    if (query.before !== undefined) add('seq < ?', query.before)
    if (query.actor) add(`doc->>'actor' = ?`, query.actor)
    if (query.action) {
      params.push(query.action, `${query.action}.%`)
      where.push(`(doc->>'action' = $${params.length - 1} OR doc->>'action' LIKE $${params.length})`)
    }
    if (query.target) add(`doc->>'target' = ?`, query.target)
    params.push(Math.min(query.limit ?? 100, 1000))
    const r = await this.pool.query(
      `SELECT seq, doc FROM outpost_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.length}`,
      params,
    )
    return r.rows.map((row) => ({ ...(row.doc as AuditRecord), seq: Number(row.seq) }))
  }

  // --- alerts ---

  async putAlert(alert: AlertRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO outpost_alerts VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, doc = EXCLUDED.doc`,
      [alert.id, alert.key, alert.state, alert.firedAt, alert],
    )
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    return (await this.docs<AlertRecord>('SELECT doc FROM outpost_alerts WHERE id = $1', [id]))[0]
  }

  async listAlerts(query: { state?: AlertState; limit?: number }): Promise<AlertRecord[]> {
    const limit = Math.min(query.limit ?? 200, 1000)
    return query.state
      ? this.docs(
          'SELECT doc FROM outpost_alerts WHERE state = $1 ORDER BY fired_at DESC, id DESC LIMIT $2',
          [query.state, limit],
        )
      : this.docs('SELECT doc FROM outpost_alerts ORDER BY fired_at DESC, id DESC LIMIT $1', [limit])
  }

  async openAlert(key: string): Promise<AlertRecord | undefined> {
    return (
      await this.docs<AlertRecord>(`SELECT doc FROM outpost_alerts WHERE key = $1 AND state <> 'resolved'`, [
        key,
      ])
    )[0]
  }

  async alertSettings(): Promise<AlertSettings> {
    const r = await this.pool.query(`SELECT value FROM outpost_meta WHERE key = 'alert-settings'`)
    return { ...DEFAULT_ALERT_SETTINGS, ...((r.rows[0]?.value as Partial<AlertSettings>) ?? {}) }
  }

  async setAlertSettings(settings: AlertSettings): Promise<void> {
    await this.pool.query(
      `INSERT INTO outpost_meta VALUES ('alert-settings', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      [settings],
    )
  }

  // --- agents ---

  async putAgent(agent: AgentRecord): Promise<void> {
    await this.pool.query(
      'INSERT INTO outpost_agents VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc',
      [agent.id, agent],
    )
  }

  async getAgent(id: string): Promise<AgentRecord | undefined> {
    return (await this.docs<AgentRecord>('SELECT doc FROM outpost_agents WHERE id = $1', [id]))[0]
  }

  async listAgents(): Promise<AgentRecord[]> {
    return this.docs('SELECT doc FROM outpost_agents ORDER BY id')
  }

  updateAgent(id: string, change: (agent: AgentRecord) => AgentRecord): Promise<AgentRecord | undefined> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_agents WHERE id = $1 FOR UPDATE', [id])
      const agent = r.rows[0]?.doc as AgentRecord | undefined
      if (!agent) return undefined
      const next = change(agent)
      await c.query('UPDATE outpost_agents SET doc = $2 WHERE id = $1', [id, next])
      return next
    })
  }

  recordAgentState(entry: AgentStateRecord): Promise<boolean> {
    return this.tx(async (c) => {
      // One writer per agent at a time, also before its first entry exists.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`agent-state:${entry.agentId}`])
      const r = await c.query(
        'SELECT seq, doc FROM outpost_agent_states WHERE agent_id = $1 ORDER BY seq DESC LIMIT 1',
        [entry.agentId],
      )
      const last = r.rows[0] as { seq: string; doc: AgentStateRecord } | undefined
      if (last && sameState(last.doc, entry)) return false
      const seq = Number(last?.seq ?? 0) + 1
      await c.query('INSERT INTO outpost_agent_states VALUES ($1, $2, $3)', [entry.agentId, seq, entry])
      await c.query('DELETE FROM outpost_agent_states WHERE agent_id = $1 AND seq <= $2', [
        entry.agentId,
        seq - AGENT_HISTORY_LIMIT,
      ])
      return true
    })
  }

  async agentStateHistory(agentId: string, limit = AGENT_HISTORY_LIMIT): Promise<AgentStateRecord[]> {
    return this.docs('SELECT doc FROM outpost_agent_states WHERE agent_id = $1 ORDER BY seq DESC LIMIT $2', [
      agentId,
      limit,
    ])
  }

  // --- pipelines, versions, rollouts ---

  addPipelineVersion(
    version: Omit<PipelineVersionRecord, 'version'>,
    expectedVersion?: number,
  ): Promise<{ record: PipelineVersionRecord } | { conflict: number }> {
    return this.tx(async (c) => {
      // Serialise versions of one pipeline, also while it does not exist yet.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pipeline:${version.name}`])
      const r = await c.query('SELECT doc FROM outpost_pipelines WHERE name = $1 FOR UPDATE', [version.name])
      const existing = r.rows[0]?.doc as PipelineRecord | undefined
      const latest = existing?.latestVersion ?? 0
      if (expectedVersion !== undefined && expectedVersion !== latest) return { conflict: latest }
      const record: PipelineVersionRecord = { ...version, version: latest + 1 }
      await c.query('INSERT INTO outpost_versions VALUES ($1, $2, $3)', [
        version.name,
        record.version,
        record,
      ])
      const pipeline: PipelineRecord = {
        ...existing,
        name: version.name,
        latestVersion: record.version,
        createdAt: existing?.createdAt ?? version.createdAt,
        updatedAt: version.createdAt,
      }
      await c.query(
        'INSERT INTO outpost_pipelines VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET doc = EXCLUDED.doc',
        [version.name, pipeline],
      )
      await this.bumpRevision(c)
      return { record }
    })
  }

  async getPipeline(name: string): Promise<PipelineRecord | undefined> {
    return (await this.docs<PipelineRecord>('SELECT doc FROM outpost_pipelines WHERE name = $1', [name]))[0]
  }

  setStableVersion(name: string, version: number): Promise<void> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_pipelines WHERE name = $1 FOR UPDATE', [name])
      const p = r.rows[0]?.doc as PipelineRecord | undefined
      if (!p) return
      await c.query('UPDATE outpost_pipelines SET doc = $2 WHERE name = $1', [
        name,
        { ...p, stableVersion: version },
      ])
      await this.bumpRevision(c)
    })
  }

  async listPipelines(): Promise<PipelineRecord[]> {
    return this.docs('SELECT doc FROM outpost_pipelines ORDER BY name')
  }

  async getPipelineVersion(name: string, version: number): Promise<PipelineVersionRecord | undefined> {
    return (
      await this.docs<PipelineVersionRecord>(
        'SELECT doc FROM outpost_versions WHERE name = $1 AND version = $2',
        [name, version],
      )
    )[0]
  }

  async listPipelineVersions(name: string): Promise<PipelineVersionRecord[]> {
    return this.docs('SELECT doc FROM outpost_versions WHERE name = $1 ORDER BY version', [name])
  }

  deletePipeline(name: string): Promise<boolean> {
    return this.tx(async (c) => {
      // Versions stay: runs and audit entries refer to them.
      const r = await c.query('DELETE FROM outpost_pipelines WHERE name = $1', [name])
      if (r.rowCount === 0) return false
      await this.bumpRevision(c)
      return true
    })
  }

  async configRevision(): Promise<number> {
    const r = await this.pool.query(`SELECT value FROM outpost_meta WHERE key = 'revision'`)
    return Number(r.rows[0]?.value ?? 0)
  }

  createRollout(rollout: RolloutRecord): Promise<{ created: RolloutRecord } | { active: RolloutRecord }> {
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`rollout:${rollout.pipeline}`])
      const r = await c.query(
        `SELECT doc FROM outpost_rollouts WHERE pipeline = $1 AND doc->>'state' IN ('running', 'paused') LIMIT 1`,
        [rollout.pipeline],
      )
      if (r.rows[0]) return { active: r.rows[0].doc as RolloutRecord }
      await c.query('INSERT INTO outpost_rollouts VALUES ($1, $2, $3, $4)', [
        rollout.id,
        rollout.pipeline,
        rollout.createdAt,
        rollout,
      ])
      await this.bumpRevision(c)
      return { created: rollout }
    })
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    return (await this.docs<RolloutRecord>('SELECT doc FROM outpost_rollouts WHERE id = $1', [id]))[0]
  }

  async listRollouts(pipeline?: string): Promise<RolloutRecord[]> {
    return pipeline === undefined
      ? this.docs('SELECT doc FROM outpost_rollouts ORDER BY created_at DESC, id DESC')
      : this.docs('SELECT doc FROM outpost_rollouts WHERE pipeline = $1 ORDER BY created_at DESC, id DESC', [
          pipeline,
        ])
  }

  updateRollout(id: string, change: (r: RolloutRecord) => RolloutRecord): Promise<RolloutRecord | undefined> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_rollouts WHERE id = $1 FOR UPDATE', [id])
      const current = r.rows[0]?.doc as RolloutRecord | undefined
      if (!current) return undefined
      const next = change(current)
      await c.query('UPDATE outpost_rollouts SET doc = $2 WHERE id = $1', [id, next])
      await this.bumpRevision(c)
      return next
    })
  }

  // --- runs, dead letters, throughput ---

  recordRun(run: RunRecord): Promise<RunRecord> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT doc FROM outpost_runs WHERE id = $1 FOR UPDATE', [run.id])
      const existing = r.rows[0]?.doc as RunRecord | undefined
      if (existing && FINAL.has(existing.status) && !FINAL.has(run.status)) return existing
      const merged = existing ? { ...existing, ...run, startedAt: existing.startedAt } : run
      await c.query(
        `INSERT INTO outpost_runs VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, doc = EXCLUDED.doc`,
        [merged.id, merged.startedAt, merged.pipeline, merged.agentId, merged.status, merged],
      )
      return merged
    })
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    return (await this.docs<RunRecord>('SELECT doc FROM outpost_runs WHERE id = $1', [id]))[0]
  }

  async listRuns(query: RunQuery): Promise<RunRecord[]> {
    const where: string[] = []
    const params: unknown[] = []
    const add = (column: string, value: unknown) => {
      params.push(value)
      where.push(`${column} $${params.length}`)
    }
    if (query.pipeline) add('pipeline =', query.pipeline)
    if (query.agentId) add('agent_id =', query.agentId)
    if (query.status) add('status =', query.status)
    if (query.before !== undefined) add('started_at <', query.before)
    params.push(Math.min(query.limit ?? 100, 1000))
    return this.docs(
      `SELECT doc FROM outpost_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT $${params.length}`,
      params,
    )
  }

  async recordDeadLetter(entry: DeadLetterRecord): Promise<void> {
    await this.pool.query('INSERT INTO outpost_dead_letters VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING', [
      entry.seq,
      entry,
    ])
  }

  async listDeadLetters(limit: number): Promise<DeadLetterRecord[]> {
    return this.docs('SELECT doc FROM outpost_dead_letters ORDER BY seq DESC LIMIT $1', [limit])
  }

  async addThroughput(bucketStart: number, rowsRead: number, rowsWritten: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO outpost_throughput VALUES ($1, $2, $3)
       ON CONFLICT (t) DO UPDATE SET rows_read = outpost_throughput.rows_read + EXCLUDED.rows_read,
         rows_written = outpost_throughput.rows_written + EXCLUDED.rows_written`,
      [bucketStart, rowsRead, rowsWritten],
    )
    await this.pool.query('DELETE FROM outpost_throughput WHERE t <= $1', [
      bucketStart - THROUGHPUT_RETENTION_MS,
    ])
  }

  async addAgentSample(agentId: string, sample: AgentSamplePoint): Promise<void> {
    await this.pool.query(
      `INSERT INTO outpost_agent_samples VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (agent_id, t) DO UPDATE SET
         rows_read = outpost_agent_samples.rows_read + EXCLUDED.rows_read,
         rows_written = outpost_agent_samples.rows_written + EXCLUDED.rows_written,
         outbox_batches = COALESCE(EXCLUDED.outbox_batches, outpost_agent_samples.outbox_batches),
         outbox_oldest_age_ms = COALESCE(EXCLUDED.outbox_oldest_age_ms, outpost_agent_samples.outbox_oldest_age_ms)`,
      [
        agentId,
        sample.t,
        sample.rowsRead,
        sample.rowsWritten,
        sample.outboxBatches ?? null,
        sample.outboxOldestAgeMs ?? null,
      ],
    )
    await this.pool.query('DELETE FROM outpost_agent_samples WHERE agent_id = $1 AND t <= $2', [
      agentId,
      sample.t - AGENT_SERIES_RETENTION_MS,
    ])
  }

  async agentSeries(agentId: string, since: number): Promise<AgentSamplePoint[]> {
    const r = await this.pool.query(
      `SELECT t, rows_read, rows_written, outbox_batches, outbox_oldest_age_ms FROM outpost_agent_samples
       WHERE agent_id = $1 AND t >= $2 ORDER BY t`,
      [agentId, since],
    )
    return r.rows.map((row) => ({
      t: Number(row.t),
      rowsRead: Number(row.rows_read),
      rowsWritten: Number(row.rows_written),
      ...(row.outbox_batches === null ? {} : { outboxBatches: Number(row.outbox_batches) }),
      ...(row.outbox_oldest_age_ms === null ? {} : { outboxOldestAgeMs: Number(row.outbox_oldest_age_ms) }),
    }))
  }

  async throughput(since: number): Promise<ThroughputPoint[]> {
    const r = await this.pool.query(
      'SELECT t, rows_read, rows_written FROM outpost_throughput WHERE t >= $1 ORDER BY t',
      [since],
    )
    return r.rows.map((row) => ({
      t: Number(row.t),
      rowsRead: Number(row.rows_read),
      rowsWritten: Number(row.rows_written),
    }))
  }

  async close(): Promise<void> {
    await this.listener?.end().catch(() => {})
    await this.leaderClient?.end().catch(() => {})
    await this.pool.end()
  }
}
