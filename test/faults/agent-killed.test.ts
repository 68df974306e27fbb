// Fault a: the agent is killed with SIGKILL during extraction, and again while it forwards a
// backlog; after each restart every row is in the central table exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { FaultEnv } from './env.js'

describe('fault: agent killed (kill -9)', () => {
  const env = new FaultEnv()
  beforeAll(() => env.start(['--chunk-bytes', '65536']))
  afterAll(() => env.stop())

  it('during extraction', { timeout: 180_000 }, async () => {
    env.drop('extract', 200_000)
    await env.apply('extract', 'killed_extract')
    await waitFor(
      'extraction under way',
      async () => ((await env.counts('killed_extract')).rows > 0 ? true : undefined),
      60_000,
      50,
    )
    const before = await env.counts('killed_extract')
    expect(before.rows).toBeLessThan(200_000)
    await env.agent.process.kill()
    await env.restartAgent()
    const after = await env.expectExactly('killed_extract', 200_000)
    expect(after).toEqual({ rows: 200_000, distinct: 200_000, min: 1, max: 200_000 })
  })

  it('during forwarding of a backlog', { timeout: 180_000 }, async () => {
    await env.nats.stop()
    const range = env.drop('forward', 150_000)
    await env.apply('forward', 'killed_forward')
    // With NATS down the whole file goes into the outbox.
    await env.agent.process.waitForLog(
      (l) => l.msg === 'run finished' && l.pipeline === 'forward' && Number(l.rowsRead) === 150_000,
      'the backlog',
      60_000,
    )
    await env.nats.start()
    await waitFor(
      'forwarding under way',
      async () => ((await env.counts('killed_forward')).rows > 0 ? true : undefined),
      60_000,
      50,
    )
    expect((await env.counts('killed_forward')).rows).toBeLessThan(150_000)
    await env.agent.process.kill()
    await env.restartAgent()
    const after = await env.expectExactly('killed_forward', 150_000)
    expect(after).toEqual({ rows: 150_000, distinct: 150_000, min: range.from, max: range.to })
  })
})
