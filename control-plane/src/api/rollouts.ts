/** Rollouts: status with every agent's place in it, and pause, resume, abort. */
import { Hono } from 'hono'
import { actorOf } from '../auth/auth.js'
import type { ControlPlaneContext } from '../context.js'
import { RolloutError } from '../fleet/rollouts.js'
import type { RolloutRecord } from '../store/types.js'
import { ApiError, notFound } from './problem.js'

export function rolloutProblem(error: unknown): unknown {
  if (!(error instanceof RolloutError)) return error
  const title = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict' }[error.status]
  return new ApiError(error.status, title, error.message)
}

export function rolloutSummary(r: RolloutRecord) {
  return {
    id: r.id,
    strategy: r.strategy,
    state: r.state,
    from: r.fromVersion,
    to: r.toVersion,
    wave: r.currentWave,
    waves: r.waves.length,
  }
}

export function rolloutRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.get('/', async (c) => c.json({ items: await ctx.store.listRollouts(c.req.query('pipeline')) }))

  app.get('/:id', async (c) => {
    const r = await ctx.store.getRollout(c.req.param('id'))
    if (!r) throw notFound(`rollout ${c.req.param('id')}`)
    return c.json({ ...r, agents: await ctx.rollouts.agentStatuses(r) })
  })

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(`/:id/${action}`, async (c) => {
      try {
        return c.json(await ctx.rollouts[action](c.req.param('id'), actorOf(c)))
      } catch (error) {
        throw rolloutProblem(error)
      }
    })
  }
  return app
}
