// A secret stays at its site. A known password is planted in a database URL that pipelines and
// probes use through ${secret:DB_URL}, on runs that succeed and runs that fail; then every log
// line of the agent and the control plane, every API response and every NATS message is searched
// for it.
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, type Site, startSite } from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { waitFor } from '../helpers/wait.js'

const SECRET = 'Pl4nted-S3cret-7c1f9e'

describe('secrets stay at the site', () => {
  let db: TestDatabase
  let site: Site
  const nats: string[] = []
  let stopNats: (() => Promise<void>) | undefined
  beforeAll(async () => {
    db = await createDatabase()
    await db.query(
      "CREATE TABLE readings (id int, v text); INSERT INTO readings VALUES (1, '10'), (2, '20'), (3, 'x')",
    )
    // PostgreSQL here trusts local connections: the password is carried, not checked.
    const withPassword = db.url.replace('postgres://postgres@', `postgres://postgres:${SECRET}@`)
    site = await startSite({
      agentEnv: {
        OUTPOST_SECRET_DB_URL: withPassword,
        OUTPOST_SECRET_DOWN_URL: `postgres://postgres:${SECRET}@127.0.0.1:1/nowhere`,
      },
    })
    // Everything published on NATS, as it is published.
    const nc = await connect({ servers: site.nats.url })
    const sub = nc.subscribe('>')
    void (async () => {
      for await (const m of sub) nats.push(`${m.subject} ${Buffer.from(m.data).toString('latin1')}`)
    })()
    stopNats = () => nc.close()
  })
  afterAll(async () => {
    await stopNats?.()
    await site?.stop()
    await db?.drop()
  })

  it('appears in no log line, API response or NATS message', async () => {
    const { cp, agentId } = site
    const responses: string[] = []
    const call = async <T>(method: string, path: string, body?: unknown) => {
      const r = await api<T>(cp.api, method, path, body)
      responses.push(`${method} ${path} ${JSON.stringify(r.body)}`)
      return r
    }
    const pipeline = (name: string, url: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name },
      spec: {
        source: { type: 'postgres', url, table: 'readings' },
        transforms: [{ cast: { v: 'int' } }],
        retry: { attempts: 1 },
        sinks: [{ type: 'postgres', url: '${secret:DB_URL}', table: 'copied' }],
        ...extra,
      },
    })
    expect((await call('PUT', '/api/v1/pipelines/good', pipeline('good', '${secret:DB_URL}'))).status).toBe(
      201,
    )
    expect((await call('PUT', '/api/v1/pipelines/down', pipeline('down', '${secret:DOWN_URL}'))).status).toBe(
      201,
    )
    await waitFor('both pipelines applied', async () => {
      const a = await call<{ applied: { name: string }[] }>('GET', `/api/v1/agents/${agentId}`)
      return a.body.applied.length === 2 ? true : undefined
    })
    for (const name of ['good', 'down']) await call('POST', `/api/v1/pipelines/${name}/run`, {})
    const runs = await waitFor('a finished run of each', async () => {
      const r = await call<{ items: { pipeline: string; status: string; errors: { message: string }[] }[] }>(
        'GET',
        '/api/v1/runs',
      )
      const done = r.body.items.filter((x) => x.status !== 'running')
      return new Set(done.map((x) => x.pipeline)).size === 2 ? done : undefined
    })
    const down = runs.find((r) => r.pipeline === 'down')!
    expect(down.status).toBe('failed')
    // The failure is explained, with the address, without the password.
    expect(down.errors[0]?.message).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|connect/)
    expect(runs.find((r) => r.pipeline === 'good')).toMatchObject({ status: 'succeeded' })
    // The row whose v is not a number was quarantined; the other two were written.
    await waitFor('the rows in the sink', async () => {
      const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM copied').catch(() => [])
      return r[0]?.n === 2 ? true : undefined
    })

    // Probes at the site: a connection test that fails, and a preview that works.
    const probe = (kind: string, p: unknown) =>
      call('POST', `/api/v1/agents/${agentId}/probe`, { kind, spec: p, target: 'source' })
    expect((await probe('test_connection', pipeline('down', '${secret:DOWN_URL}'))).body).toMatchObject({
      ok: false,
    })
    expect((await probe('preview', pipeline('good', '${secret:DB_URL}'))).body).toMatchObject({ ok: true })
    for (const path of [
      '/api/v1/agents',
      '/api/v1/pipelines',
      '/api/v1/pipelines/good',
      '/api/v1/pipelines/good/versions',
      '/api/v1/pipelines/good/quarantine',
      '/api/v1/audit',
      '/api/v1/alerts',
      '/api/v1/dead-letters',
    ])
      await call('GET', path)
    // The agent reports its metrics every 10 s: wait for one report to pass through NATS too.
    await waitFor(
      'a metric report on NATS',
      async () => (nats.some((m) => m.includes('.metrics')) ? true : undefined),
      20_000,
    )

    const encoded = encodeURIComponent(SECRET)
    const haystacks = {
      'agent log': site.agent.output,
      'control-plane log': cp.process.output,
      'API responses': responses,
      'NATS messages': nats,
    }
    expect(site.agent.output.length).toBeGreaterThan(10)
    expect(nats.length).toBeGreaterThan(5)
    for (const [where, lines] of Object.entries(haystacks)) {
      const leaks = lines.filter((l) => l.includes(SECRET) || l.includes(encoded))
      expect(leaks, `the secret in ${where}`).toEqual([])
    }
  })
})
