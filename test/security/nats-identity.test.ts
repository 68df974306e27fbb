// Per-agent NATS identity: with `outpost nats-auth init` and `--nats-auth`, each agent connects to
// NATS with its own credential (a JWT the control plane signed for the agent's own key). The NATS
// server — not the control plane — refuses a publish under another agent's subjects, a read of
// anyone's data, and a connection without a credential; revoking an agent cuts its live
// connection and refuses it from then on, while other agents keep delivering.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstream } from '@nats-io/jetstream'
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  runCli,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { waitFor } from '../helpers/wait.js'

interface Identity {
  agentId: string
  natsSeed: string
  natsJwt: string
  natsInboxPrefix: string
}

describe('per-agent NATS credentials', () => {
  let work: string
  let nats: NatsServer
  let db: TestDatabase
  let cp: ControlPlaneHandle
  const agents: { process: OutpostProcess; stateDir: string }[] = []

  const identity = (i: number): Identity =>
    JSON.parse(readFileSync(join(agents[i]?.stateDir as string, 'identity.json'), 'utf8'))
  const connectAs = (id: Identity, extra: Record<string, unknown> = {}) =>
    connect({
      servers: nats.url,
      authenticator: jwtAuthenticator(id.natsJwt, new TextEncoder().encode(id.natsSeed)),
      inboxPrefix: id.natsInboxPrefix,
      maxReconnectAttempts: 0,
      ...extra,
    })
  const count = async () => {
    const [row] = await db
      .query<{ n: string }>('SELECT count(*) AS n FROM readings')
      .catch(() => [{ n: '0' }])
    return Number(row?.n)
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-nats-identity-'))
    const authDir = join(work, 'nats-auth')
    const init = await runCli(['nats-auth', 'init', authDir])
    expect(init.code, init.stderr).toBe(0)
    nats = await startNats({ args: ['-c', join(authDir, 'server.conf')] })
    db = await createDatabase()
    cp = await startControlPlane(nats.url, { extraArgs: ['--nats-auth', authDir, '--warehouse-url', db.url] })
    for (const name of ['site-a', 'site-b']) {
      const agent = await startAgent(cp.grpc, { token: await createToken(cp.api), name })
      await agent.process.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
      agents.push(agent)
    }
  })

  afterAll(async () => {
    for (const a of agents) await a.process.stop()
    await cp?.process.stop()
    await nats?.dispose()
    await db?.drop()
    rmSync(work, { recursive: true, force: true })
  })

  it('keeps the keys private and refuses to overwrite them', async () => {
    const authDir = join(work, 'nats-auth')
    for (const f of ['operator.nk', 'system.nk', 'account.nk'])
      expect(statSync(join(authDir, f)).mode & 0o777).toBe(0o600)
    const again = await runCli(['nats-auth', 'init', authDir])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already set up')
  })

  it('delivers every agent’s rows with its own credential', async () => {
    const dir = join(work, 'in')
    mkdirSync(dir)
    writeFileSync(
      join(dir, 'r.csv'),
      `id,v\n${Array.from({ length: 100 }, (_, i) => `${i},${i * 2}`).join('\n')}\n`,
    )
    const put = await api(cp.api, 'PUT', '/api/v1/pipelines/readings', {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'readings' },
      spec: {
        schedule: { every: '1s' },
        source: { type: 'csv', path: join(dir, '*.csv') },
        transforms: [{ cast: { id: 'int', v: 'int' } }],
        sinks: [{ type: 'central', table: 'readings' }],
      },
    })
    expect(put.status).toBe(201)
    // Both agents read the same file: 100 rows each arrive, over their own NATS connections.
    await waitFor('200 rows from two agents', async () => ((await count()) >= 200 ? true : undefined), 30_000)
    for (const i of [0, 1]) {
      const id = identity(i)
      expect(id.natsJwt).toMatch(/^ey/)
      expect(id.natsInboxPrefix).toBe(`_INBOX.${id.agentId}`)
      // The control plane holds only the public half of the agent's key.
      const agent = await api<Record<string, unknown>>(cp.api, 'GET', `/api/v1/agents/${id.agentId}`)
      expect(JSON.stringify(agent.body)).not.toContain(id.natsSeed)
    }
  })

  it('refuses, at the NATS server, a publish as another agent and a read of any data', async () => {
    const a = identity(0)
    const b = identity(1)
    const nc = await connectAs(a)
    try {
      const js = jetstream(nc, { timeout: 3000 })
      const own = await js.publish(`outpost.agent.${a.agentId}.metrics`, new Uint8Array([1]), {
        msgID: 'own-1',
      })
      expect(own.stream).toBe('OUTPOST_TELEMETRY')
      await expect(
        js.publish(`outpost.agent.${b.agentId}.data.readings`, new Uint8Array([1])),
      ).rejects.toThrow(/Permissions Violation for Publish/)
      const errors: string[] = []
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error))
      })()
      const sub = nc.subscribe(`outpost.agent.${b.agentId}.>`)
      await waitFor(
        'subscription refused',
        () => (errors.some((e) => /Permissions Violation for Subscription/.test(e)) ? true : undefined),
        5000,
      )
      sub.unsubscribe()
    } finally {
      await nc.close()
    }
    await expect(connect({ servers: nats.url, maxReconnectAttempts: 0 })).rejects.toThrow(
      /Authorization Violation/,
    )
  })

  it('cuts off a revoked agent at the NATS server; the others keep delivering', async () => {
    const a = identity(0)
    const live: NatsConnection = await connectAs(a)
    const closed = live.closed()
    const revoke = await api(cp.api, 'POST', `/api/v1/agents/${a.agentId}/revoke`)
    expect(revoke.status).toBe(200)
    const reason = await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 10_000))])
    expect(String(reason)).toMatch(/Authorization Violation/)
    await expect(connectAs(a)).rejects.toThrow(/Authorization Violation/)
    // Site B still delivers: a new file arrives through its connection only.
    const before = await count()
    writeFileSync(
      join(work, 'in', 's.csv'),
      `id,v\n${Array.from({ length: 10 }, (_, i) => `${1000 + i},1`).join('\n')}\n`,
    )
    await waitFor(
      '10 more rows from site B',
      async () => ((await count()) >= before + 10 ? true : undefined),
      30_000,
    )
    await new Promise((r) => setTimeout(r, 2000))
    expect(await count()).toBe(before + 10)
  })
})
