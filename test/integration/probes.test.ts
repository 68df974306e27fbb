// Probes run at the site through the control plane: test a connection, preview rows after the
// transforms, infer the schema. Secrets resolve on the agent and never come back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, type ControlPlaneHandle, type Site, startSite } from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'

interface ProbeResponse {
  ok: boolean
  error?: string
  result?: {
    message?: string
    columns?: { name: string; type: string }[]
    rows?: unknown[][]
    quarantined?: { reason: string }[]
  }
}

describe('probes at the site', () => {
  let site: Site
  let db: TestDatabase
  let cp: ControlPlaneHandle
  let agentId: string

  beforeAll(async () => {
    db = await createDatabase()
    await db.query(
      "CREATE TABLE sites (id int, name text, amount text); INSERT INTO sites VALUES (1, 'a', '1.5'), (2, 'b', 'x'), (3, 'c', '3')",
    )
    site = await startSite({ agentEnv: { OUTPOST_SECRET_SITE_DB: db.url } })
    ;({ cp, agentId } = site)
  })

  afterAll(async () => {
    await site?.stop()
    await db?.drop()
  })

  const spec = {
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: 'probe-me' },
    spec: {
      source: { type: 'postgres', url: '${secret:SITE_DB}', table: 'sites' },
      transforms: [{ cast: { amount: 'decimal' } }],
      sinks: [{ type: 'postgres', url: '${secret:SITE_DB}', table: 'copy_of_sites' }],
    },
  }
  const probe = (body: Record<string, unknown>) =>
    api<ProbeResponse>(cp.api, 'POST', `/api/v1/agents/${agentId}/probe`, { spec, ...body })

  it('tests the connection of the source and of a sink', async () => {
    const source = await probe({ kind: 'test_connection', target: 'source' })
    expect(source.body).toMatchObject({
      ok: true,
      result: {
        message: expect.stringMatching(
          /^connected to PostgreSQL 15.*3 columns: id \(int\), name \(string\), amount \(string\)$/,
        ),
      },
    })
    const sink = await probe({ kind: 'test_connection', target: 'sinks[0]' })
    expect(sink.body.result?.message).toContain('table copy_of_sites will be created on the first batch')
  })

  it('previews rows after the transforms, with quarantined rows and their reason', async () => {
    const r = await probe({ kind: 'preview', limit: 10 })
    expect(r.body.error).toBeUndefined()
    expect(r.body.ok).toBe(true)
    expect(r.body.result?.columns).toEqual([
      { name: 'id', type: 'int' },
      { name: 'name', type: 'string' },
      { name: 'amount', type: 'decimal' },
    ])
    expect(r.body.result?.rows).toEqual([
      [1, 'a', '1.5'],
      [3, 'c', '3'],
    ])
    expect(r.body.result?.quarantined?.[0]?.reason).toContain(
      'cannot convert "x" in column amount to decimal',
    )
    const schema = await probe({ kind: 'schema' })
    expect(schema.body.result).toEqual({ columns: r.body.result?.columns })
  })

  it('reports a precise error, and never sends a resolved secret back', async () => {
    const broken = {
      ...spec,
      spec: { ...spec.spec, source: { type: 'postgres', url: '${secret:SITE_DB}', table: 'missing_table' } },
    }
    const r = await api<ProbeResponse>(cp.api, 'POST', `/api/v1/agents/${agentId}/probe`, {
      kind: 'test_connection',
      spec: broken,
    })
    expect(r.body.ok).toBe(false)
    expect(r.body.error).toContain('relation "missing_table" does not exist')
    const responses = JSON.stringify([
      r.body,
      (await probe({ kind: 'preview' })).body,
      (await probe({ kind: 'test_connection' })).body,
    ])
    expect(responses).not.toContain(db.url)
    expect(responses).not.toContain(db.name)
    const invalid = await api<{ errors: { path: string }[] }>(
      cp.api,
      'POST',
      `/api/v1/agents/${agentId}/probe`,
      { kind: 'preview', spec: { ...spec, spec: { ...spec.spec, source: { type: 'postgres' } } } },
    )
    expect(invalid.status).toBe(400)
    expect(invalid.body.errors.map((e) => e.path)).toContain('spec.spec.source.url')
  })
})
