// Fault d: NATS is down long enough for the outbox to reach the agent's disk budget. With
// `block` extraction pauses and later resumes with nothing lost; with `drop_oldest` the oldest
// batches are dropped and the run reports exactly how many rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api } from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'
import { FaultEnv } from './env.js'

const BUDGET = 2 * 1024 * 1024

interface RunView {
  pipeline: string
  status: string
  counts: { rowsRead: number; rowsWritten: number; rowsDropped: number }
  errors: { code: string; message: string }[]
}

describe('fault: outbox at its disk budget', () => {
  const env = new FaultEnv()
  beforeAll(() => env.start(['--disk-budget', String(BUDGET), '--chunk-bytes', '262144']))
  afterAll(() => env.stop())

  it('block: pauses extraction while full, resumes when NATS is back, loses nothing', {
    timeout: 180_000,
  }, async () => {
    await env.nats.stop()
    const range = env.drop('blocked', 200_000, 60)
    await env.apply('blocked', 'budget_block')
    await env.agent.process.waitForLog(
      (l) => l.msg === 'outbox full: extraction paused until batches are delivered',
      'the pause',
      60_000,
    )
    const status = await waitFor('the agent status', async () => {
      const r = await api<{ items: { status?: { outboxBytes: number } }[] }>(
        env.cp.api,
        'GET',
        '/api/v1/agents',
      )
      return r.body.items[0]?.status
    })
    expect(status.outboxBytes).toBeLessThanOrEqual(BUDGET)
    await env.nats.start()
    const after = await env.expectExactly('budget_block', 200_000, 120_000)
    expect(after).toEqual({ rows: 200_000, distinct: 200_000, min: range.from, max: range.to })
  })

  it('drop_oldest: drops the oldest batches and reports exactly what it dropped', {
    timeout: 180_000,
  }, async () => {
    await env.nats.stop()
    const range = env.drop('dropping', 200_000, 60)
    await env.apply('dropping', 'budget_drop', { buffer: { when_full: 'drop_oldest' } })
    const finished = await env.agent.process.waitForLog(
      (l) => l.msg === 'run finished' && l.pipeline === 'dropping' && Number(l.rowsRead) > 0,
      'the run',
      60_000,
    )
    const dropped = Number(finished.rowsDropped)
    expect(dropped).toBeGreaterThan(0)
    await env.nats.start()
    const kept = 200_000 - dropped
    const after = await env.expectExactly('budget_drop', kept, 120_000)
    // The oldest rows went: what is left is exactly the newest `kept` ids.
    expect(after).toEqual({ rows: kept, distinct: kept, min: range.to - kept + 1, max: range.to })
    const run = await waitFor('the run with its drop count', async () => {
      const r = await api<{ items: RunView[] }>(env.cp.api, 'GET', '/api/v1/runs?pipeline=dropping')
      return r.body.items.find((x) => x.counts.rowsRead > 0 && x.status === 'succeeded')
    })
    expect(run.counts.rowsDropped).toBe(dropped)
    expect(run.errors.filter((e) => e.code === 'drop_oldest')).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(
          new RegExp(`^dropped \\d+ undelivered batches \\(${dropped} rows\\), oldest first`),
        ),
      }),
    ])
  })
})
