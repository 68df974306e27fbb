import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApi } from '../api/app.js'
import { ROUTES } from '../api/routes.js'
import type { ControlPlaneContext } from '../context.js'
import { hashSecret } from '../grpc/credentials.js'
import type { Role } from '../store/types.js'
import { testContext } from '../test-context.js'
import { newApiToken, ROLES, rank, requiredRole } from './auth.js'

describe('API roles', () => {
  let ctx: ControlPlaneContext & { close(): Promise<void> }
  let app: ReturnType<typeof createApi>
  const tokens = {} as Record<Role | 'revoked', string>
  beforeAll(async () => {
    ctx = testContext()
    // This suite fails authentication on purpose, many times.
    app = createApi(ctx, { authFailuresPerMinute: 100_000 })
    for (const role of [...ROLES, 'revoked'] as const) {
      const { token, record } = newApiToken(`t-${role}`, role === 'revoked' ? 'admin' : role, 'test')
      await ctx.store.createApiToken(record)
      tokens[role] = token
      if (role === 'revoked') await ctx.store.revokeApiToken(record.id, Date.now())
    }
  })
  afterAll(() => ctx.close())

  const call = async (method: string, path: string, token?: string) => {
    const r = await app.request(path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
    })
    const status = r.status
    await r.body?.cancel()
    return status
  }

  it('names the role of the routes that matter, and defaults to admin', () => {
    expect(requiredRole('GET', '/agents')).toBe('viewer')
    expect(requiredRole('GET', '/pipelines/p/quarantine')).toBe('operator')
    expect(requiredRole('PUT', '/pipelines/p')).toBe('operator')
    expect(requiredRole('POST', '/agents/a/revoke')).toBe('admin')
    expect(requiredRole('GET', '/api-tokens')).toBe('admin')
    expect(requiredRole('POST', '/something/new')).toBe('admin')
  })

  it('answers 401 without a valid token and 403 below the required role, on every route', async () => {
    const routes = app.routes.filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'ALL')
    expect(routes.length).toBeGreaterThan(25)
    for (const route of routes) {
      const path = route.path.replace(/:[^/]+/g, 'x')
      const needed = requiredRole(route.method, path.replace(/^\/api\/v1/, ''))
      const where = `${route.method} ${route.path}`
      expect(await call(route.method, path), `${where} without a token`).toBe(401)
      expect(await call(route.method, path, 'opa_nope'), `${where} with an unknown token`).toBe(401)
      expect(await call(route.method, path, tokens.revoked), `${where} with a revoked token`).toBe(401)
      for (const role of ROLES) {
        const status = await call(route.method, path, tokens[role])
        if (rank(role) < rank(needed)) expect(status, `${where} as ${role}`).toBe(403)
        else expect([401, 403], `${where} as ${role} (got ${status})`).not.toContain(status)
      }
    }
  })

  it('keeps tokens hashed, shows a new one once, and records who did what', async () => {
    const created = await app.request('/api/v1/api-tokens', {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci-bot', role: 'operator', ttl: '30d' }),
    })
    expect(created.status).toBe(201)
    const body = (await created.json()) as { id: string; token: string; role: string; hash?: string }
    expect(body).toMatchObject({ role: 'operator', state: 'active' })
    expect(body.hash).toBeUndefined()
    expect((await ctx.store.findApiToken(hashSecret(body.token)))?.id).toBe(body.id)
    const listed = await (
      await app.request('/api/v1/api-tokens', { headers: { authorization: `Bearer ${tokens.admin}` } })
    ).text()
    expect(listed).not.toContain(body.token)
    const bad = await app.request('/api/v1/api-tokens', {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', role: 'root' }),
    })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('role must be one of viewer, operator, admin')
    const audit = (await (
      await app.request('/api/v1/audit?action=api-token', {
        headers: { authorization: `Bearer ${tokens.viewer}` },
      })
    ).json()) as { items: { actor: string; action: string; target: string }[] }
    expect(audit.items[0]).toMatchObject({
      actor: 'token:t-admin',
      action: 'api-token.create',
      target: body.id,
    })
  })

  it('documents every route in the route table and the OpenAPI document, and checks bodies against it', async () => {
    const routes = app.routes
      .filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path.replace('/api/v1', '')}`)
    const table = ROUTES.map((r) => `${r.method} ${r.path}`)
    expect([...new Set(routes)].sort()).toEqual([...table].sort())
    const doc = (await (
      await app.request('/api/v1/openapi.json', { headers: { authorization: `Bearer ${tokens.viewer}` } })
    ).json()) as {
      openapi: string
      paths: Record<string, Record<string, { 'x-outpost-role': string; requestBody?: unknown }>>
    }
    expect(doc.openapi).toBe('3.1.0')
    for (const r of ROUTES) {
      const op = doc.paths[r.path.replace(/:([A-Za-z]+)/g, '{$1}')]?.[r.method.toLowerCase()]
      expect(op?.['x-outpost-role'], `${r.method} ${r.path}`).toBe(r.role)
      expect(op?.requestBody !== undefined, `${r.method} ${r.path} body`).toBe(r.body !== undefined)
    }
    const bad = await app.request('/api/v1/alerts/settings', {
      method: 'PUT',
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ runFailuresInARow: 0, colour: 'red' }),
    })
    expect(bad.status).toBe(400)
    const problem = (await bad.json()) as { errors: { path: string; message: string }[] }
    expect(problem.errors).toEqual([
      { path: 'runFailuresInARow', message: 'Too small: expected number to be >=1' },
      { path: 'colour', message: 'unknown field' },
    ])
  })

  it('slows down repeated failed authentication', async () => {
    const fresh = createApi(ctx)
    let status = 0
    for (let i = 0; i < 25 && status !== 429; i++) {
      const r = await fresh.request('/api/v1/agents', { headers: { authorization: 'Bearer wrong' } })
      status = r.status
    }
    expect(status).toBe(429)
    // Good tokens from the same client wait too, until the minute has passed.
    const r = await fresh.request('/api/v1/agents', { headers: { authorization: `Bearer ${tokens.viewer}` } })
    expect(r.status).toBe(429)
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
  })
})
