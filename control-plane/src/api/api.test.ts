import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ControlPlaneContext } from '../context.js'
import { testContext, withAdminToken } from '../test-context.js'
import { createApi } from './app.js'

const yaml = (name: string, extra = '') => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: csv, path: /in/*.csv }
  sinks: [{ type: file, path: /out }]
${extra}`

describe('REST API', () => {
  let ctx: ControlPlaneContext & { close(): Promise<void> }
  let app: ReturnType<typeof createApi>
  let token: string
  beforeEach(async () => {
    ctx = testContext()
    app = createApi(ctx)
    token = await withAdminToken(ctx)
  })
  afterEach(() => ctx.close())

  const send = (method: string, path: string, body?: string, extra: Record<string, string> = {}) => {
    const headers = { authorization: `Bearer ${token}`, ...extra }
    return app.request(path, {
      method,
      ...(body !== undefined
        ? { body, headers: { 'content-type': 'application/yaml', ...headers } }
        : { headers }),
    })
  }

  it('creates a pipeline, adds versions on change only, and lists versions', async () => {
    const created = await send('POST', '/api/v1/pipelines', yaml('sales'))
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ name: 'sales', version: 1, created: true })
    expect((await send('POST', '/api/v1/pipelines', yaml('sales'))).status).toBe(409)
    const same = await send('PUT', '/api/v1/pipelines/sales', yaml('sales'))
    expect(await same.json()).toMatchObject({ version: 1, unchanged: true })
    const changed = await send('PUT', '/api/v1/pipelines/sales', yaml('sales', '  schedule: { every: 1m }\n'))
    expect(await changed.json()).toMatchObject({ version: 2 })
    const versions = (await (await send('GET', '/api/v1/pipelines/sales/versions')).json()) as {
      items: { version: number }[]
    }
    expect(versions.items.map((v) => v.version)).toEqual([2, 1])
    const list = (await (await send('GET', '/api/v1/pipelines')).json()) as {
      items: { name: string; version: number; schedule: unknown }[]
    }
    expect(list.items).toEqual([
      expect.objectContaining({ name: 'sales', version: 2, schedule: { every: '1m' } }),
    ])
  })

  it('shows what changed between versions as a diff, with the author', async () => {
    await send('PUT', '/api/v1/pipelines/d', yaml('d'))
    await send('PUT', '/api/v1/pipelines/d', yaml('d', '  schedule: { every: 5m }\n'))
    const r = (await (await send('GET', '/api/v1/pipelines/d/versions/2/diff')).json()) as {
      from: number
      to: number
      author: string
      diff: string
    }
    expect(r).toMatchObject({ from: 1, to: 2, author: 'token:test-admin' })
    expect(r.diff).toContain('--- d@1')
    expect(r.diff).toContain('+++ d@2')
    expect(r.diff).toContain('+  schedule:\n+    every: 5m\n')
    expect(r.diff).not.toMatch(/^-[^-]/m)
    const first = (await (await send('GET', '/api/v1/pipelines/d/versions/1/diff')).json()) as {
      from: null
      diff: string
    }
    expect(first.from).toBeNull()
    expect(first.diff).toContain('+kind: Pipeline')
    expect((await send('GET', '/api/v1/pipelines/d/versions/9/diff')).status).toBe(404)
  })

  it('refuses after on an unknown pipeline and a cycle of after, naming them', async () => {
    await send('PUT', '/api/v1/pipelines/a', yaml('a'))
    expect((await send('PUT', '/api/v1/pipelines/b', yaml('b', '  schedule: { after: [a] }\n'))).status).toBe(
      201,
    )
    const unknown = await send('PUT', '/api/v1/pipelines/c', yaml('c', '  schedule: { after: [nope] }\n'))
    expect(unknown.status).toBe(400)
    expect(await unknown.text()).toContain('spec.schedule.after[0]: pipeline nope does not exist')
    const cycle = await send('PUT', '/api/v1/pipelines/a', yaml('a', '  schedule: { after: [b] }\n'))
    expect(cycle.status).toBe(400)
    expect(await cycle.text()).toContain('a cycle: a → b → a')
  })

  it('refuses an invalid spec with 400 and every field path', async () => {
    const r = await send(
      'POST',
      '/api/v1/pipelines',
      'apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: x }\nspec:\n  source: { type: csv }\n  sinks: []\n  extra: 1\n',
    )
    expect(r.status).toBe(400)
    expect(r.headers.get('content-type')).toContain('application/problem+json')
    const body = (await r.json()) as { errors: { path: string; message: string }[] }
    expect(body.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'spec.source.path: required',
      'spec.sinks: a pipeline needs at least one sink',
      'spec.extra: unknown field',
    ])
  })

  it('refuses a stale edit (If-Match) and a name that does not match the URL', async () => {
    await send('PUT', '/api/v1/pipelines/p', yaml('p'))
    await send('PUT', '/api/v1/pipelines/p', yaml('p', '  schedule: manual\n'))
    const stale = await send('PUT', '/api/v1/pipelines/p', yaml('p', '  schedule: { every: 5m }\n'), {
      'if-match': '1',
    })
    expect(stale.status).toBe(409)
    expect(((await stale.json()) as { detail: string }).detail).toContain('is at version 2, not 1')
    const ok = await send('PUT', '/api/v1/pipelines/p', yaml('p', '  schedule: { every: 5m }\n'), {
      'if-match': '2',
    })
    expect(ok.status).toBe(200)
    const wrongName = await send('PUT', '/api/v1/pipelines/other', yaml('p'))
    expect(wrongName.status).toBe(400)
  })

  it("serves one agent's rows and outbox series, and names a bad window", async () => {
    await ctx.store.putAgent({
      id: 'agt-s',
      name: 's',
      labels: {},
      credentialHash: 'x',
      tokenId: 't',
      enrolledAt: 0,
      agentVersion: '1',
      connected: false,
      applied: [],
    })
    const t = Date.now() - (Date.now() % 10_000)
    await ctx.store.addAgentSample('agt-s', { t, rowsRead: 5, rowsWritten: 4, outboxBatches: 1 })
    const r = await send('GET', '/api/v1/agents/agt-s/metrics?minutes=5')
    expect(await r.json()).toEqual({
      bucketMs: 10_000,
      points: [{ t, rowsRead: 5, rowsWritten: 4, outboxBatches: 1 }],
    })
    const bad = await send('GET', '/api/v1/agents/agt-s/metrics?minutes=0')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { detail: string }).detail).toBe('minutes must be an integer from 1 to 360')
    expect((await send('GET', '/api/v1/agents/agt-none/metrics')).status).toBe(404)
  })

  it('creates enrolment tokens (shown once) and validates their options', async () => {
    const r = await app.request('/api/v1/enrollment-tokens', {
      method: 'POST',
      body: JSON.stringify({ ttl: '2h', maxUses: 3, labels: { site: 'x' } }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    })
    expect(r.status).toBe(201)
    const body = (await r.json()) as { token: string; id: string; maxUses: number; hash?: string }
    expect(body.token).toMatch(/^oet_/)
    expect(body.hash).toBeUndefined()
    const listed = (await (await send('GET', '/api/v1/enrollment-tokens')).json()) as {
      items: Record<string, unknown>[]
    }
    expect(listed.items[0]).toMatchObject({ id: body.id, state: 'active', maxUses: 3 })
    expect(JSON.stringify(listed)).not.toContain(body.token)
    const bad = await app.request('/api/v1/enrollment-tokens', {
      method: 'POST',
      body: JSON.stringify({ ttl: 'soon' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    })
    expect(bad.status).toBe(400)
  })

  it('answers 404 with a problem document, validates run queries, and limits body size', async () => {
    expect((await send('GET', '/api/v1/pipelines/none')).status).toBe(404)
    expect((await send('GET', '/api/v1/runs/none')).status).toBe(404)
    expect((await send('GET', '/api/v1/runs?limit=0')).status).toBe(400)
    expect((await send('GET', '/api/v1/runs?status=weird')).status).toBe(400)
    expect((await send('GET', '/api/v1/nothing-here')).status).toBe(404)
    const big = await send('POST', '/api/v1/pipelines', `# ${'x'.repeat(2 * 1024 * 1024)}\n${yaml('big')}`)
    expect(big.status).toBe(413)
    // Under the body limit but over the spec limit: 400 naming the size and the limit.
    const wide = await send('POST', '/api/v1/pipelines', `${yaml('wide')}# ${'x'.repeat(300 * 1024)}\n`)
    expect(wide.status).toBe(400)
    expect(((await wide.json()) as { detail: string }).detail).toMatch(
      /the pipeline spec is \d+ bytes as written; specs may be at most 262144 bytes \(256 KiB\)/,
    )
    expect((await send('GET', '/readyz')).status).toBe(503)
  })
})
