// An agent that stops raises an alert; an operator acknowledges it; when the agent is back, the
// alert resolves by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OutpostProcess, runCli, type Site, startAgent, startSite } from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

interface Alert {
  id: string
  rule: string
  state: string
  summary: string
  history: { state: string; by: string }[]
}

describe('alerts', () => {
  let site: Site
  let again: OutpostProcess | undefined
  beforeAll(async () => {
    site = await startSite({ controlPlaneArgs: ['--alert-interval', '200ms'] })
  })
  afterAll(async () => {
    await again?.stop()
    await site?.stop()
  })

  it('fires when an agent goes offline, is acknowledged, and resolves when it is back', async () => {
    const env = { OUTPOST_SERVER: site.cp.api }
    const set = await runCli(['alerts', 'settings', '--offline-after', '500ms'], env)
    expect(JSON.parse(set.stdout)).toMatchObject({ agentOfflineAfter: '500ms', runFailuresInARow: 3 })
    await site.agent.stop()
    const list = async () => JSON.parse((await runCli(['alerts', '-o', 'json'], env)).stdout) as Alert[]
    const alert = await waitFor(
      'the offline alert',
      async () => (await list()).find((a) => a.rule === 'agent_offline'),
      20_000,
    )
    expect(alert.state).toBe('firing')
    expect(alert.summary).toContain(`(${site.agentId}) is offline`)
    const text = await runCli(['alerts', '--state', 'firing'], env)
    expect(text.stdout).toMatch(new RegExp(`${alert.id}\\s+firing\\s+critical\\s+agent_offline`))

    expect((await runCli(['alerts', 'ack', alert.id, '--note', 'site has a power cut'], env)).stdout).toBe(
      `alert ${alert.id}: acknowledged\n`,
    )
    ;({ process: again } = await startAgent(site.cp.grpc, { stateDir: site.agentStateDir }))
    const done = await waitFor(
      'the alert to resolve',
      async () => {
        const a = (await list()).find((x) => x.id === alert.id)
        return a?.state === 'resolved' ? a : undefined
      },
      20_000,
    )
    expect(done.history.map((h) => `${h.state}:${h.by}`)).toEqual([
      'firing:system',
      'acknowledged:token:bootstrap',
      'resolved:system',
    ])
  })
})
