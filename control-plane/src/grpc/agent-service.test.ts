// Enrolment and the Sync stream against a real gRPC server on loopback.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import {
  ControlClient,
  createLogger,
  EnrollmentRefusedError,
  hostFacts,
  type SyncHandlers,
} from '@outpost/agent'
import {
  AgentStatusSchema,
  AppliedReportSchema,
  CommandResultSchema,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ControlPlane } from '../server.js'
import { startTestControlPlane } from '../test-context.js'

const log = createLogger({ level: 'error', write: () => {} })

/** Sync handlers of an agent that runs nothing; `onDesired` sees each desired state's revision. */
function handlers(onDesired: (revision: number) => void = () => {}): SyncHandlers {
  const report = (revision = 0n) => create(AppliedReportSchema, { revision, pipelines: [] })
  return {
    hello: () => ({ host: hostFacts(), applied: report() }),
    welcome: () => {},
    desired: async (d) => {
      onDesired(Number(d.revision))
      return report(d.revision)
    },
    command: async (c) => create(CommandResultSchema, { commandId: c.commandId, ok: true }),
    status: () => create(AgentStatusSchema, {}),
  }
}

describe('AgentService', () => {
  let cp: ControlPlane
  let dir: string
  let client: ControlClient
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'outpost-grpc-'))
    cp = await startTestControlPlane(dir, log)
    client = new ControlClient(`127.0.0.1:${cp.grpcPort}`, undefined, log, '0.1.0')
  })
  afterAll(async () => {
    await client.stop()
    await cp.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  // The control plane wrote its first admin token into its data directory.
  const auth = () => ({ authorization: `Bearer ${readFileSync(join(dir, 'admin-token'), 'utf8').trim()}` })
  const token = async (body: Record<string, unknown>) => {
    const r = await fetch(`http://127.0.0.1:${cp.httpPort}/api/v1/enrollment-tokens`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...auth() },
    })
    return (await r.json()) as { token: string; id: string }
  }

  it('enrols with a valid token, merging the token labels with the agent labels', async () => {
    const t = await token({ labels: { region: 'eu', role: 'pos' } })
    const r = await client.enroll(t.token, 'edge', { role: 'kiosk' }, hostFacts())
    expect(r.agentId).toMatch(/^agt-[0-9a-z]{12}$/)
    expect(r.credential).toMatch(/^oac_/)
    expect(r.labels).toEqual({ region: 'eu', role: 'kiosk' })
    expect(r.nats?.subjectPrefix).toBe(`outpost.agent.${r.agentId}`)
    const stored = await cp.context.store.getAgent(r.agentId)
    expect(stored?.credentialHash).not.toContain(r.credential)
  })

  it('refuses unknown, used-up, expired and revoked tokens with a clear status', async () => {
    await expect(client.enroll('oet_nope', 'x', {}, hostFacts())).rejects.toThrow(EnrollmentRefusedError)
    await expect(client.enroll('oet_nope', 'x', {}, hostFacts())).rejects.toThrow(
      'UNAUTHENTICATED: unknown enrolment token',
    )
    const once = await token({ maxUses: 1 })
    await client.enroll(once.token, 'x', {}, hostFacts())
    await expect(client.enroll(once.token, 'x', {}, hostFacts())).rejects.toThrow(
      'enrolment token used up (1 uses)',
    )
    const revoked = await token({})
    await fetch(`http://127.0.0.1:${cp.httpPort}/api/v1/enrollment-tokens/${revoked.id}`, {
      method: 'DELETE',
      headers: auth(),
    })
    await expect(client.enroll(revoked.token, 'x', {}, hostFacts())).rejects.toThrow(
      'enrolment token revoked',
    )
    await expect(client.enroll('', 'x', {}, hostFacts())).rejects.toThrow('an enrolment token is required')
    await expect(
      client.enroll((await token({})).token, 'x', { 'bad key!': 'v' }, hostFacts()),
    ).rejects.toThrow('invalid label key')
  })

  it('refuses a Sync stream with a wrong credential, and reports a connected agent online', async () => {
    const t = await token({})
    const enrolled = await client.enroll(t.token, 'edge-2', {}, hostFacts())
    const bad = new ControlClient(`127.0.0.1:${cp.grpcPort}`, undefined, log, '0.1.0')
    bad.start(enrolled.agentId, 'oac_wrong', handlers())
    await new Promise((r) => setTimeout(r, 500))
    expect(bad.connected).toBe(false)
    expect(bad.lastError).toBe('UNAUTHENTICATED: unknown agent or wrong credential')
    await bad.stop()

    const good = new ControlClient(`127.0.0.1:${cp.grpcPort}`, undefined, log, '0.1.0')
    const desired: number[] = []
    good.start(
      enrolled.agentId,
      enrolled.credential,
      handlers((revision) => desired.push(revision)),
    )
    for (let i = 0; i < 50 && !good.connected; i++) await new Promise((r) => setTimeout(r, 50))
    expect(good.connected).toBe(true)
    const agent = await fetch(`http://127.0.0.1:${cp.httpPort}/api/v1/agents/${enrolled.agentId}`, {
      headers: auth(),
    }).then((r) => r.json() as Promise<{ state: string }>)
    expect(agent.state).toBe('online')
    expect(desired.length).toBe(1)
    await good.stop()
    for (let i = 0; i < 50; i++) {
      const a = await fetch(`http://127.0.0.1:${cp.httpPort}/api/v1/agents/${enrolled.agentId}`, {
        headers: auth(),
      }).then((r) => r.json() as Promise<{ state: string }>)
      if (a.state === 'offline') break
      await new Promise((r) => setTimeout(r, 50))
    }
    const after = await fetch(`http://127.0.0.1:${cp.httpPort}/api/v1/agents/${enrolled.agentId}`, {
      headers: auth(),
    }).then((r) => r.json() as Promise<{ state: string }>)
    expect(after.state).toBe('offline')
  })
})
