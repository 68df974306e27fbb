// Fault b: NATS is down for 30 s while a pipeline runs every few seconds and new files keep
// arriving; when it is back, every row lands exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api } from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'
import { FaultEnv } from './env.js'

describe('fault: NATS down for 30 s', () => {
  const env = new FaultEnv()
  beforeAll(() => env.start())
  afterAll(() => env.stop())

  it('keeps extracting into the outbox and delivers everything once NATS is back', {
    timeout: 180_000,
  }, async () => {
    await env.apply('outage', 'outage_rows')
    env.drop('outage', 5000)
    await waitFor(
      'the first file',
      async () => ((await env.counts('outage_rows')).rows === 5000 ? true : undefined),
      30_000,
    )

    await env.nats.stop()
    const downAt = Date.now()
    for (let i = 0; i < 5; i++) {
      env.drop('outage', 3000)
      await new Promise((r) => setTimeout(r, 5000))
    }
    // The agent kept reading: the new rows are in its outbox, reported in its heartbeat.
    const agent = await waitFor('the backlog in the agent status', async () => {
      const r = await api<{ items: { status?: { outboxBatches: number; natsConnected: boolean } }[] }>(
        env.cp.api,
        'GET',
        '/api/v1/agents',
      )
      const status = r.body.items[0]?.status
      return status && status.outboxBatches > 0 && !status.natsConnected ? status : undefined
    })
    expect(agent.outboxBatches).toBeGreaterThan(0)
    expect((await env.counts('outage_rows')).rows).toBe(5000)
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))))
    await env.nats.start()

    const after = await env.expectExactly('outage_rows', env.totalRows)
    expect(after).toEqual({ rows: 20_000, distinct: 20_000, min: 1, max: 20_000 })
    const runs = await api<{ items: { status: string; counts: { rowsWritten: number } }[] }>(
      env.cp.api,
      'GET',
      '/api/v1/runs?pipeline=outage&limit=1000',
    )
    expect(
      runs.body.items.filter((r) => r.status === 'succeeded').reduce((n, r) => n + r.counts.rowsWritten, 0),
    ).toBe(20_000)
  })
})
