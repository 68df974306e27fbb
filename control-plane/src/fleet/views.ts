/** The shapes the API and the console see: derived state, drift, summaries. */

import type { AgentRecord, AgentStateName } from '../store/types.js'
import type { PipelineCatalog } from './catalog.js'

export interface DriftEntry {
  pipeline: string
  desired?: { version: number; hash: string }
  applied?: { version: number; hash: string; state: 'applied' | 'failed'; error?: string }
}

export interface AgentView extends Omit<AgentRecord, 'credentialHash'> {
  state: AgentStateName
  degradedReasons: string[]
  drift: DriftEntry[]
}

/** One reason a connected agent is degraded: a stable key (for history and alerts) and words. */
export interface DegradedCause {
  cause: string
  reason: string
}

/** Why a connected agent is degraded: failing runs, a pipeline it cannot apply, a backlog, a full disk. */
export function degradedCauses(agent: AgentRecord): DegradedCause[] {
  const s = agent.status
  const causes: DegradedCause[] = []
  if ((s?.runsFailedRecently ?? 0) > 0)
    causes.push({ cause: 'runs_failed', reason: `${s?.runsFailedRecently} runs failed recently` })
  for (const p of agent.applied)
    if (p.state === 'failed')
      causes.push({ cause: `cannot_apply:${p.name}`, reason: `cannot apply ${p.name}@${p.version}` })
  if ((s?.outboxOldestAgeMs ?? 0) > BACKLOG_AGE_MS)
    causes.push({
      cause: 'backlog',
      reason: `oldest undelivered batch is ${Math.round((s?.outboxOldestAgeMs ?? 0) / 60_000)} min old`,
    })
  if (s?.diskBudgetBytes && s.outboxBytes > 0.8 * s.diskBudgetBytes)
    causes.push({
      cause: 'disk_budget',
      reason: `outbox at ${Math.round((100 * s.outboxBytes) / s.diskBudgetBytes)} % of its disk budget`,
    })
  return causes
}

export function degradedReasons(agent: AgentRecord): string[] {
  return degradedCauses(agent).map((c) => c.reason)
}

/** An undelivered batch older than this means the backlog is not draining. */
const BACKLOG_AGE_MS = 5 * 60_000

/** Without a heartbeat for this long, an agent counts as offline even if a replica that died says it is connected. */
const STALE_MS = 60_000

export function isConnected(agent: AgentRecord, now = Date.now()): boolean {
  return agent.connected && (agent.lastSeenAt === undefined || now - agent.lastSeenAt < STALE_MS)
}

export function agentState(agent: AgentRecord, now = Date.now()): AgentStateName {
  if (agent.revokedAt) return 'revoked'
  if (!isConnected(agent, now)) return 'offline'
  return degradedReasons(agent).length > 0 ? 'degraded' : 'online'
}

export async function agentView(agent: AgentRecord, catalog: PipelineCatalog): Promise<AgentView> {
  const { credentialHash: _, ...rest } = agent
  const desired = agent.revokedAt ? [] : await catalog.assignmentsFor(agent)
  const drift: DriftEntry[] = []
  const applied = new Map(agent.applied.map((p) => [p.name, p]))
  for (const d of desired) {
    const a = applied.get(d.name)
    applied.delete(d.name)
    if (a && a.hash === d.hash && a.state === 'applied') continue
    drift.push({
      pipeline: d.name,
      desired: { version: d.version, hash: d.hash },
      ...(a
        ? {
            applied: {
              version: a.version,
              hash: a.hash,
              state: a.state,
              ...(a.error ? { error: a.error } : {}),
            },
          }
        : {}),
    })
  }
  for (const a of applied.values()) {
    drift.push({
      pipeline: a.name,
      applied: { version: a.version, hash: a.hash, state: a.state, ...(a.error ? { error: a.error } : {}) },
    })
  }
  return { ...rest, state: agentState(agent), degradedReasons: degradedReasons(agent), drift }
}
