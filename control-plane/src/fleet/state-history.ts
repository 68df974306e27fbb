/**
 * Records each agent's state changes (online, degraded and why, offline, revoked) as they happen:
 * every change to an agent is announced on the event bus, and the state derived from the new
 * record goes to the store, which keeps it only when it differs from the agent's latest entry.
 */
import type { Logger } from '@outpost/agent'
import type { EventBus } from '../events.js'
import type { AgentRecord, AgentStateRecord, Store } from '../store/types.js'
import { agentState, degradedCauses, isConnected } from './views.js'

/** With replicas, how often the leader looks for agents whose replica died (no heartbeat: offline). */
const STALE_CHECK_MS = 15_000

export function stateEntry(agent: AgentRecord, at = Date.now()): AgentStateRecord {
  const state = agentState(agent, at)
  const causes = state === 'degraded' ? degradedCauses(agent) : []
  return {
    agentId: agent.id,
    state,
    at,
    causes: causes.map((c) => c.cause),
    reasons: causes.map((c) => c.reason),
  }
}

export class AgentStateHistory {
  /** Writes per agent run one after another, so the history keeps the order of the changes. */
  private readonly chains = new Map<string, Promise<void>>()
  /**
   * What this process last recorded per agent, so heartbeats that change nothing cost no store
   * round trip. Only connected states are remembered: another replica may record the agent
   * going offline and back, and this one must then write again.
   */
  private readonly recorded = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.events.on('agent', (agent) => void this.observe(agent))
    // One store: this process sees every change. Several replicas: an agent whose replica died
    // still looks connected until its heartbeat is stale, which no event announces.
    if (this.store.onChange) {
      this.timer = setInterval(() => void this.checkStale(), STALE_CHECK_MS)
      this.timer.unref()
    }
  }

  /** Stops the stale check and waits for the writes in flight (before the store closes). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    // Streams closing while the process stops still announce their agents: the store is closing.
    this.stopped = true
    await Promise.all(this.chains.values())
  }

  /** Records the agent's current state (at `at`, default now) when it changed. */
  observe(agent: AgentRecord, at = Date.now()): Promise<void> {
    if (this.stopped) return Promise.resolve()
    const entry = stateEntry(agent, at)
    // Just enrolled, never connected: its history starts when it first connects.
    if (entry.state === 'offline' && agent.lastSeenAt === undefined) return Promise.resolve()
    const key = `${entry.state}:${entry.causes.join(',')}`
    if (this.recorded.get(agent.id) === key) return this.chains.get(agent.id) ?? Promise.resolve()
    if (entry.state === 'online' || entry.state === 'degraded') this.recorded.set(agent.id, key)
    else this.recorded.delete(agent.id)
    const next = (this.chains.get(agent.id) ?? Promise.resolve())
      .then(async () => {
        await this.store.recordAgentState(entry)
      })
      .catch((error) =>
        this.log.error('recording agent state failed', {
          agentId: agent.id,
          error: (error as Error).message,
        }),
      )
      .finally(() => {
        if (this.chains.get(agent.id) === next) this.chains.delete(agent.id)
      })
    this.chains.set(agent.id, next)
    return next
  }

  private async checkStale(): Promise<void> {
    try {
      if (!(await this.store.isLeader?.())) return
      const now = Date.now()
      for (const agent of await this.store.listAgents())
        if (agent.connected && !isConnected(agent, now)) await this.observe(agent, now)
    } catch (error) {
      this.log.error('checking for silent agents failed', { error: (error as Error).message })
    }
  }
}
