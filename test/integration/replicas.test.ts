// Two control planes on one PostgreSQL store serve agents at the same time: a pipeline version or
// a rollout started on either reaches the agents of both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { waitFor } from '../helpers/wait.js'

describe('control-plane replicas on PostgreSQL', () => {
  let nats: NatsServer
  let db: TestDatabase
  const cps: ControlPlaneHandle[] = []
  const agents: OutpostProcess[] = []
  beforeAll(async () => {
    nats = await startNats()
    db = await createDatabase('outpost_replicas')
    for (let i = 0; i < 2; i++)
      cps.push(await startControlPlane(nats.url, { extraArgs: ['--store-url', db.url] }))
    // Tokens live in the shared store: one made on the first replica enrols on the second.
    for (const [i, name] of ['edge-one', 'edge-two'].entries()) {
      const { process: p } = await startAgent(cps[i]!.grpc, { token: await createToken(cps[0]!.api), name })
      await p.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
      agents.push(p)
    }
  })
  afterAll(async () => {
    for (const a of agents) await a.stop()
    for (const cp of cps) await cp.process.stop()
    await db?.drop()
    await nats?.dispose()
  })

  const versions = async () => {
    const r = await api<{ items: { name: string; applied: { name: string; version: number }[] }[] }>(
      cps[1]!.api,
      'GET',
      '/api/v1/agents',
    )
    return r.body.items
      .map((a) => `${a.name}:${a.applied.find((p) => p.name === 'shared')?.version ?? 0}`)
      .join(',')
  }

  it('pushes versions and rollouts started on either replica to the agents of both', async () => {
    const spec = (v: number) => ({
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'shared', labels: { v: String(v) } },
      spec: {
        source: { type: 'csv', path: '/nonexistent/*.csv' },
        sinks: [{ type: 'file', path: '/tmp/outpost-replicas' }],
      },
    })
    expect((await api(cps[0]!.api, 'PUT', '/api/v1/pipelines/shared', spec(1))).status).toBe(201)
    await waitFor('both agents on version 1', async () =>
      (await versions()) === 'edge-one:1,edge-two:1' ? true : undefined,
    )
    // A canary started on the second replica; whichever replica leads moves the waves.
    const v2 = await api<{ rollout: { id: string; strategy: string } }>(
      cps[1]!.api,
      'PUT',
      '/api/v1/pipelines/shared?waves=1&soak=500ms',
      spec(2),
    )
    expect(v2.body.rollout.strategy).toBe('canary')
    await waitFor(
      'both agents on version 2',
      async () => {
        return (await versions()) === 'edge-one:2,edge-two:2' ? true : undefined
      },
      30_000,
    )
    await waitFor('the rollout to complete', async () => {
      const r = await api<{ state: string }>(cps[0]!.api, 'GET', `/api/v1/rollouts/${v2.body.rollout.id}`)
      return r.body.state === 'completed' ? true : undefined
    })
    // Both replicas see the same audit log.
    const audit = await api<{ items: { action: string }[] }>(
      cps[0]!.api,
      'GET',
      '/api/v1/audit?action=rollout',
    )
    expect(audit.body.items.map((a) => a.action)).toEqual(
      expect.arrayContaining(['rollout.start', 'rollout.complete']),
    )
  })
})
