import { Hono } from 'hono'
import type { ControlPlaneContext } from '../context.js'
import { badRequest } from './problem.js'

/** Batches the control plane refused, with the reason; the bytes stay in the OUTPOST_DEADLETTER stream. */
export function deadLetterRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()
  app.get('/', async (c) => {
    const limit = Number(c.req.query('limit') ?? 100)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw badRequest('limit must be an integer from 1 to 1000', [
        { path: 'limit', message: 'expected 1-1000' },
      ])
    return c.json({ items: await ctx.store.listDeadLetters(limit) })
  })
  return app
}
