import { Hono } from 'hono'
import type { ControlPlaneContext } from '../context.js'
import { intQuery } from './problem.js'

/** Batches the control plane refused, with the reason; the bytes stay in the OUTPOST_DEADLETTER stream. */
export function deadLetterRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()
  app.get('/', async (c) => {
    const limit = intQuery(c, 'limit', 100, 1, 1000)
    return c.json({ items: await ctx.store.listDeadLetters(limit) })
  })
  return app
}
