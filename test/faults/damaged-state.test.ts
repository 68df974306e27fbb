// Fault e: the agent's LMDB file is truncated while the agent is down. The agent refuses to
// start with a clear message (exit 3) naming the recovery command; after recovery it starts
// again as the same agent.

import { spawnSync } from 'node:child_process'
import { truncateSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, OUTPOST_BIN, startAgent } from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'
import { FaultEnv } from './env.js'

describe('fault: damaged agent state file', () => {
  const env = new FaultEnv()
  beforeAll(() => env.start())
  afterAll(() => env.stop())

  it('is refused with the recovery command, and recovery brings the agent back', {
    timeout: 180_000,
  }, async () => {
    // A backlog in the outbox makes the file big enough that truncation cuts into data.
    await env.nats.stop()
    env.drop('damage', 100_000, 60)
    await env.apply('damage', 'damage_rows')
    await env.agent.process.waitForLog(
      (l) => l.msg === 'run finished' && l.pipeline === 'damage' && Number(l.rowsRead) > 0,
      'the backlog',
      60_000,
    )
    const agentId = (await api<{ items: { id: string }[] }>(env.cp.api, 'GET', '/api/v1/agents')).body
      .items[0]!.id
    await env.agent.process.kill()
    truncateSync(join(env.agent.stateDir, 'state.mdb'), 1024 * 1024)

    const refused = await startAgent(env.cp.grpc, { stateDir: env.agent.stateDir })
    expect(await refused.process.exited).toBe(3)
    const message = refused.process.output.join('\n')
    expect(message).toContain(`is damaged (reading it crashed with SIGBUS). Nothing was changed.`)
    expect(message).toContain(`outpost agent state recover --state-dir ${env.agent.stateDir}`)

    const recover = spawnSync(
      process.execPath,
      [OUTPOST_BIN, 'agent', 'state', 'recover', '--state-dir', env.agent.stateDir],
      { encoding: 'utf8' },
    )
    expect(recover.status).toBe(0)
    expect(recover.stdout).toContain('the damaged file is kept as')

    await env.nats.start()
    await env.restartAgent()
    await env.agent.process.waitForLog((l) => l.msg === 'connected to control plane', 'reconnect')
    expect(env.agent.process.logs.find((l) => l.msg === 'agent starting')?.agentId).toBe(agentId)
    await waitFor('the agent online again', async () => {
      const r = await api<{ items: { id: string; state: string }[] }>(env.cp.api, 'GET', '/api/v1/agents')
      return r.body.items.find((a) => a.id === agentId && a.state === 'online')
    })
  })
})
