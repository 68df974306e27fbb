import { labels as labelsSchema, parseDuration } from '@outpost/shared'
import { Hono } from 'hono'
import type { ControlPlaneContext } from '../context.js'
import { hashSecret, newSecret, randomId } from '../grpc/credentials.js'
import type { TokenRecord } from '../store/types.js'
import { badRequest, notFound } from './problem.js'

function tokenView(t: TokenRecord) {
  const { hash: _, ...rest } = t
  return {
    ...rest,
    state: t.revokedAt
      ? 'revoked'
      : t.expiresAt <= Date.now()
        ? 'expired'
        : t.uses >= t.maxUses
          ? 'used'
          : 'active',
  }
}

export function tokenRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.post('/', async (c) => {
    const body = ((await c.req.json().catch(() => ({}))) ?? {}) as {
      ttl?: unknown
      maxUses?: unknown
      labels?: unknown
      description?: unknown
    }
    const ttlMs =
      body.ttl === undefined
        ? 24 * 3_600_000
        : typeof body.ttl === 'string'
          ? parseDuration(body.ttl)
          : undefined
    if (ttlMs === undefined || ttlMs <= 0)
      throw badRequest('ttl must be a duration such as 1h or 7d', [
        { path: 'ttl', message: 'expected a duration' },
      ])
    const maxUses = body.maxUses === undefined ? 1 : body.maxUses
    if (typeof maxUses !== 'number' || !Number.isInteger(maxUses) || maxUses < 1) {
      throw badRequest('maxUses must be a positive integer', [
        { path: 'maxUses', message: 'expected a positive integer' },
      ])
    }
    const labels = labelsSchema.safeParse(body.labels ?? {})
    if (!labels.success)
      throw badRequest('labels must map label keys to strings', [
        { path: 'labels', message: labels.error.issues[0]?.message ?? 'invalid' },
      ])
    const token = newSecret('oet_')
    const now = Date.now()
    const record: TokenRecord = {
      id: randomId('tok-', 10),
      hash: hashSecret(token),
      description: typeof body.description === 'string' ? body.description.slice(0, 200) : '',
      labels: labels.data,
      createdAt: now,
      expiresAt: now + ttlMs,
      maxUses,
      uses: 0,
    }
    await ctx.store.createToken(record)
    ctx.log.info('enrolment token created', {
      token: record.id,
      maxUses,
      expiresAt: new Date(record.expiresAt).toISOString(),
    })
    await ctx.audit(c, 'enrollment-token.create', record.id, { maxUses, labels: record.labels })
    return c.json({ ...tokenView(record), token }, 201)
  })

  app.get('/', async (c) => c.json({ items: (await ctx.store.listTokens()).map(tokenView) }))

  app.delete('/:id', async (c) => {
    if (!(await ctx.store.revokeToken(c.req.param('id'), Date.now())))
      throw notFound(`token ${c.req.param('id')}`)
    await ctx.audit(c, 'enrollment-token.revoke', c.req.param('id'))
    return c.body(null, 204)
  })

  return app
}
