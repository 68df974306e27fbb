/** API tokens for people and automation: created by an admin, shown once, kept hashed, revocable. */
import { parseDuration } from '@outpost/shared'
import { Hono } from 'hono'
import { type AuthVariables, actorOf, newApiToken, ROLES } from '../auth/auth.js'
import type { ControlPlaneContext } from '../context.js'
import type { ApiTokenRecord, Role } from '../store/types.js'
import { badRequest, notFound } from './problem.js'

export function apiTokenView(t: ApiTokenRecord) {
  const { hash: _, ...rest } = t
  const state = t.revokedAt
    ? 'revoked'
    : t.expiresAt !== undefined && t.expiresAt <= Date.now()
      ? 'expired'
      : 'active'
  return { ...rest, state }
}

export function apiTokenRoutes(ctx: ControlPlaneContext): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>()

  app.get('/', async (c) => c.json({ items: (await ctx.store.listApiTokens()).map(apiTokenView) }))

  app.post('/', async (c) => {
    const body = ((await c.req.json().catch(() => ({}))) ?? {}) as {
      name?: unknown
      role?: unknown
      ttl?: unknown
    }
    if (typeof body.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/.test(body.name))
      throw badRequest('name must be 1-63 letters, digits, ., _, @ or -', [
        { path: 'name', message: 'invalid name' },
      ])
    if (!ROLES.includes(body.role as Role))
      throw badRequest(`role must be one of ${ROLES.join(', ')}`, [{ path: 'role', message: 'unknown role' }])
    const ttl =
      body.ttl === undefined ? undefined : typeof body.ttl === 'string' ? parseDuration(body.ttl) : undefined
    if (body.ttl !== undefined && (ttl === undefined || ttl <= 0))
      throw badRequest('ttl must be a duration such as 30d', [
        { path: 'ttl', message: 'expected a duration' },
      ])
    const { token, record } = newApiToken(body.name, body.role as Role, actorOf(c))
    if (ttl !== undefined) record.expiresAt = record.createdAt + ttl
    await ctx.store.createApiToken(record)
    await ctx.audit(c, 'api-token.create', record.id, { name: record.name, role: record.role })
    return c.json({ ...apiTokenView(record), token }, 201)
  })

  app.delete('/:id', async (c) => {
    const revoked = await ctx.store.revokeApiToken(c.req.param('id'), Date.now())
    if (!revoked) throw notFound(`API token ${c.req.param('id')}`)
    await ctx.audit(c, 'api-token.revoke', revoked.id, { name: revoked.name })
    return c.body(null, 204)
  })

  return app
}

export function auditRoutes(ctx: ControlPlaneContext): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>()
  app.get('/', async (c) => {
    const q = c.req.query()
    const limit = q.limit === undefined ? 100 : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw badRequest('limit must be an integer from 1 to 1000', [
        { path: 'limit', message: 'expected 1-1000' },
      ])
    const before = q.before === undefined ? undefined : Number(q.before)
    const items = await ctx.store.listAudit({
      limit,
      ...(before !== undefined && Number.isInteger(before) ? { before } : {}),
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.target ? { target: q.target } : {}),
    })
    return c.json({ items })
  })
  return app
}
