// Fault c: the control plane is killed while batches flow and started again on the same data
// directory; nothing is lost and nothing is written twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait.js'
import { FaultEnv } from './env.js'

describe('fault: control plane restarted while batches flow', () => {
  const env = new FaultEnv()
  beforeAll(() => env.start(['--chunk-bytes', '65536']))
  afterAll(() => env.stop())

  it('loads every row exactly once', { timeout: 180_000 }, async () => {
    env.drop('flow', 200_000)
    await env.apply('flow', 'restart_rows')
    await waitFor(
      'rows flowing',
      async () => ((await env.counts('restart_rows')).rows > 0 ? true : undefined),
      60_000,
      50,
    )
    expect((await env.counts('restart_rows')).rows).toBeLessThan(200_000)
    await env.cp.process.kill()
    await new Promise((r) => setTimeout(r, 2000))
    await env.restartControlPlane()
    const after = await env.expectExactly('restart_rows', 200_000)
    expect(after).toEqual({ rows: 200_000, distinct: 200_000, min: 1, max: 200_000 })
  })
})
