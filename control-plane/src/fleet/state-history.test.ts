import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createApi } from '../api/app.js'
import type { ControlPlaneContext } from '../context.js'
import type { AgentRecord } from '../store/types.js'
import { testContext, withAdminToken } from '../test-context.js'

interface HistoryItem {
  state: string
  at: number
  until?: number
  durationMs: number
  causes: string[]
  reasons: string[]
}

const agent: AgentRecord = {
  id: 'agt-h',
  name: 'h',
  labels: {},
  credentialHash: 'x',
  tokenId: 't',
  enrolledAt: 1,
  agentVersion: '0.1.0',
  connected: false,
  applied: [],
}

const status = (over: { runsFailedRecently?: number; outboxOldestAgeMs?: number }) => ({
  runsActive: 0,
  outboxBatches: 1,
  outboxBytes: 10,
  outboxOldestAgeMs: 0,
  natsConnected: true,
  runsFailedRecently: 0,
  ...over,
})

describe('agent state history', () => {
  let ctx: ControlPlaneContext & { close(): Promise<void> }
  let app: ReturnType<typeof createApi>
  let token: string
  beforeEach(async () => {
    ctx = testContext()
    app = createApi(ctx)
    token = await withAdminToken(ctx)
    await ctx.store.putAgent(agent)
  })
  afterEach(() => ctx.close())

  const history = async (query = '') => {
    const r = await app.request(`/api/v1/agents/agt-h/history${query}`, {
      headers: { authorization: `Bearer ${token}` },
    })
    return { status: r.status, body: (await r.json()) as { items: HistoryItem[]; detail?: string } }
  }

  /** A change to the agent as the services make it: written, then announced. */
  const change = async (fn: (a: AgentRecord) => AgentRecord) => {
    const updated = await ctx.store.updateAgent(agent.id, fn)
    if (updated) {
      ctx.events.emit('agent', updated)
      await ctx.stateHistory.observe(updated)
    }
  }

  it('records connects, degradations with their reasons, disconnects and revocation, once each', async () => {
    const seen = () => Date.now()
    await change((a) => ({ ...a, connected: true, lastSeenAt: seen(), status: status({}) }))
    // Heartbeats that change nothing add nothing.
    await change((a) => ({ ...a, lastSeenAt: seen() }))
    await change((a) => ({ ...a, lastSeenAt: seen(), status: status({ outboxOldestAgeMs: 6 * 60_000 }) }))
    // The backlog grows older: the same reason, no new entry.
    await change((a) => ({ ...a, lastSeenAt: seen(), status: status({ outboxOldestAgeMs: 8 * 60_000 }) }))
    await change((a) => ({
      ...a,
      lastSeenAt: seen(),
      status: status({ outboxOldestAgeMs: 8 * 60_000, runsFailedRecently: 2 }),
    }))
    await change((a) => ({ ...a, connected: false, lastSeenAt: seen() }))
    await change((a) => ({ ...a, revokedAt: seen() }))

    const { status: code, body } = await history()
    expect(code).toBe(200)
    expect(body.items.map((i) => i.state)).toEqual(['revoked', 'offline', 'degraded', 'degraded', 'online'])
    expect(body.items[2]?.reasons).toEqual([
      '2 runs failed recently',
      'oldest undelivered batch is 8 min old',
    ])
    expect(body.items[2]?.causes).toEqual(['runs_failed', 'backlog'])
    expect(body.items[3]?.reasons).toEqual(['oldest undelivered batch is 6 min old'])
    expect(body.items[4]?.reasons).toEqual([])
    // Each entry lasted until the next one; the current one has no end.
    expect(body.items[0]?.until).toBeUndefined()
    for (const [i, item] of body.items.entries()) {
      if (i > 0) expect(item.until).toBe(body.items[i - 1]?.at)
      expect(item.durationMs).toBeGreaterThanOrEqual(0)
    }
    expect((await history('?limit=2')).body.items.map((i) => i.state)).toEqual(['revoked', 'offline'])
  })

  it('refuses a bad limit and an unknown agent, naming what is wrong', async () => {
    const bad = await history('?limit=0')
    expect(bad.status).toBe(400)
    expect(bad.body.detail).toBe('limit must be an integer from 1 to 200')
    const missing = await app.request('/api/v1/agents/agt-nope/history', {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(missing.status).toBe(404)
  })
})
