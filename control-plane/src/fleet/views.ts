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
  drift: DriftEntry[]
}

export function agentState(agent: AgentRecord): AgentStateName {
  if (agent.revokedAt) return 'revoked'
  if (!agent.connected) return 'offline'
  if ((agent.status?.runsFailedRecently ?? 0) > 0 || agent.applied.some((p) => p.state === 'failed'))
    return 'degraded'
  return 'online'
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
  return { ...rest, state: agentState(agent), drift }
}
