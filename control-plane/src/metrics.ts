/** The control plane's /metrics: process metrics and the fleet, in the shared vocabulary. */

import { PromMetrics } from '@outpost/agent/prometheus'
import { METRICS } from '@outpost/shared'
import type { EventBus } from './events.js'
import { agentState } from './fleet/views.js'
import type { SessionRegistry } from './grpc/sessions.js'
import type { Store } from './store/types.js'

export function controlPlaneMetrics(store: Store, sessions: SessionRegistry, events: EventBus): PromMetrics {
  const prom = new PromMetrics()
  prom.gauge(METRICS.agents, async () => {
    const counts: Record<string, number> = { online: 0, degraded: 0, offline: 0, revoked: 0 }
    for (const a of await store.listAgents()) {
      const state = agentState(a)
      counts[state] = (counts[state] ?? 0) + 1
    }
    return Object.entries(counts).map(([state, value]) => ({ labels: { state }, value }))
  })
  prom.gauge(METRICS.syncStreams, () => [{ value: sessions.size }])
  prom.gauge(METRICS.rolloutsActive, async () => {
    const rollouts = await store.listRollouts()
    return (['running', 'paused'] as const).map((state) => ({
      labels: { state },
      value: rollouts.filter((r) => r.state === state).length,
    }))
  })
  prom.gauge(METRICS.alertsOpen, async () => {
    const counts = new Map<string, number>()
    for (const state of ['firing', 'acknowledged'] as const)
      for (const a of await store.listAlerts({ state, limit: 1000 }))
        counts.set(`${a.rule}\u0000${state}`, (counts.get(`${a.rule}\u0000${state}`) ?? 0) + 1)
    return [...counts].map(([key, value]) => {
      const [rule, state] = key.split('\u0000') as [string, string]
      return { labels: { rule, state }, value }
    })
  })
  // Rows across the fleet, from the agents' metric batches as they arrive.
  events.on('throughput', (p) => {
    if (p.rowsRead > 0) prom.inc(METRICS.fleetRowsRead, {}, p.rowsRead)
    if (p.rowsWritten > 0) prom.inc(METRICS.fleetRowsWritten, {}, p.rowsWritten)
  })
  return prom
}
