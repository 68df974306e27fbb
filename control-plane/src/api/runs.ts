import { Hono } from 'hono'
import type { ControlPlaneContext } from '../context.js'
import type { RunStatusName } from '../store/types.js'
import { badRequest, notFound } from './problem.js'

const STATUSES = new Set(['running', 'succeeded', 'failed', 'cancelled'])

export function runRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.get('/', async (c) => {
    const q = c.req.query()
    const limit = q.limit === undefined ? 100 : Number(q.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw badRequest('limit must be an integer from 1 to 1000', [
        { path: 'limit', message: 'expected 1-1000' },
      ])
    if (q.status !== undefined && !STATUSES.has(q.status))
      throw badRequest(`status must be one of ${[...STATUSES].join(', ')}`, [
        { path: 'status', message: 'unknown status' },
      ])
    const before = q.before === undefined ? undefined : Number(q.before)
    const runs = await ctx.store.listRuns({
      limit,
      ...(q.pipeline ? { pipeline: q.pipeline } : {}),
      ...(q.agent ? { agentId: q.agent } : {}),
      ...(q.status ? { status: q.status as RunStatusName } : {}),
      ...(before !== undefined && Number.isFinite(before) ? { before } : {}),
    })
    return c.json({ items: runs })
  })

  app.get('/:id', async (c) => {
    const run = await ctx.store.getRun(c.req.param('id'))
    if (!run) throw notFound(`run ${c.req.param('id')}`)
    return c.json(run)
  })

  return app
}
