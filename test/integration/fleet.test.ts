// Managing agents centrally: labels decide what they run, selectors find them, revocation cuts
// them off, and the audit log says who did each of these.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, runCli, type Site, startSite } from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

interface AgentView {
  id: string
  state: string
  labels: Record<string, string>
  applied: { name: string; version: number }[]
}

describe('fleet', () => {
  let site: Site
  beforeAll(async () => {
    site = await startSite()
  })
  afterAll(() => site?.stop())

  it('follows label edits, finds agents by selector, revokes them, and audits all of it', async () => {
    const { cp, agentId, agent } = site
    const env = { OUTPOST_SERVER: cp.api }
    const pipeline = {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'pos-only' },
      spec: {
        selector: { role: ['pos', 'kiosk'] },
        source: { type: 'csv', path: '/nonexistent/*.csv' },
        sinks: [{ type: 'file', path: '/tmp/outpost-fleet-out' }],
      },
    }
    expect((await api(cp.api, 'PUT', '/api/v1/pipelines/pos-only', pipeline)).status).toBe(201)
    const view = async () => (await api<AgentView>(cp.api, 'GET', `/api/v1/agents/${agentId}`)).body
    expect((await view()).applied.map((p) => p.name)).not.toContain('pos-only')

    const labelled = await runCli(['agents', 'label', agentId, 'role=pos', 'region=eu'], env)
    expect(labelled.stderr).toBe('')
    expect(labelled.stdout).toContain('region=eu')
    await waitFor('the agent to apply pos-only', async () =>
      (await view()).applied.some((p) => p.name === 'pos-only') ? true : undefined,
    )

    const select = async (selector: string) =>
      api<{ items: AgentView[] }>(cp.api, 'GET', `/api/v1/agents?selector=${encodeURIComponent(selector)}`)
    expect((await select('role in (pos,kiosk),region=eu')).body.items.map((a) => a.id)).toEqual([agentId])
    expect((await select('region=us')).body.items).toEqual([])
    expect((await select('!legacy,role')).body.items.length).toBe(1)
    const bad = await select('role in ()')
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toContain('selector: \\"role in ()\\": the set is empty')
    const cliGet = await runCli(['get', 'agents', '-l', 'role=pos', '--state', 'online'], env)
    expect(cliGet.stdout).toContain(agentId)

    // An operator may not revoke; an admin may, and the agent is cut off.
    const op = await api<{ token: string }>(cp.api, 'POST', '/api/v1/api-tokens', {
      name: 'op',
      role: 'operator',
    })
    const denied = await api(
      cp.api,
      'POST',
      `/api/v1/agents/${agentId}/revoke`,
      {},
      'application/json',
      op.body.token,
    )
    expect(denied.status).toBe(403)
    const revoked = await runCli(['agents', 'revoke', agentId], env)
    expect(revoked.code).toBe(0)
    expect((await view()).state).toBe('revoked')
    await agent.waitForLog(
      (l) => l.msg === 'control plane refused this agent',
      'the agent to be refused',
      20_000,
    )

    const audit = await runCli(['audit', '-o', 'json'], env)
    const entries = JSON.parse(audit.stdout) as { actor: string; action: string; target: string }[]
    const actions = entries.map((e) => `${e.actor} ${e.action} ${e.target}`)
    expect(actions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^token:tok-\\S+ agent\\.enroll ${agentId}$`)),
        'token:bootstrap pipeline.apply pos-only',
        `token:bootstrap agent.update ${agentId}`,
        `token:bootstrap agent.revoke ${agentId}`,
      ]),
    )
    // Newest first.
    expect(entries[0]?.action).toBe('agent.revoke')
  })
})
