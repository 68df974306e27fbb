/** Alerts: list, acknowledge, resolve; and the thresholds of the rules. */
import { parseDuration } from '@outpost/shared'
import { Hono } from 'hono'
import { actorOf } from '../auth/auth.js'
import type { ControlPlaneContext } from '../context.js'
import type { AlertSettings, AlertState } from '../store/types.js'
import { badRequest, intQuery, notFound } from './problem.js'

const STATES: AlertState[] = ['firing', 'acknowledged', 'resolved']

function settingsView(s: AlertSettings) {
  return {
    agentOfflineAfter: `${s.agentOfflineAfterMs}ms`,
    runFailuresInARow: s.runFailuresInARow,
    outboxAge: `${s.outboxAgeMs}ms`,
    diskBudgetRatio: s.diskBudgetRatio,
  }
}

export function alertRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.get('/', async (c) => {
    const state = c.req.query('state')
    if (state !== undefined && !STATES.includes(state as AlertState))
      throw badRequest(`state must be one of ${STATES.join(', ')}`, [
        { path: 'state', message: 'unknown state' },
      ])
    const limit = intQuery(c, 'limit', 200, 1, 1000)
    return c.json({
      items: await ctx.store.listAlerts({ ...(state ? { state: state as AlertState } : {}), limit }),
    })
  })

  app.get('/settings', async (c) => c.json(settingsView(await ctx.store.alertSettings())))

  app.put('/settings', async (c) => {
    const body = ((await c.req.json().catch(() => ({}))) ?? {}) as Record<string, unknown>
    const current = await ctx.store.alertSettings()
    const next = { ...current }
    const duration = (key: 'agentOfflineAfter' | 'outboxAge') => {
      const v = body[key]
      if (v === undefined) return undefined
      const ms = typeof v === 'string' ? parseDuration(v) : undefined
      if (ms === undefined || ms < 100)
        throw badRequest(`${key} must be a duration such as 2m`, [
          { path: key, message: 'expected a duration' },
        ])
      return ms
    }
    next.agentOfflineAfterMs = duration('agentOfflineAfter') ?? next.agentOfflineAfterMs
    next.outboxAgeMs = duration('outboxAge') ?? next.outboxAgeMs
    if (body.runFailuresInARow !== undefined) {
      const n = body.runFailuresInARow
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1000)
        throw badRequest('runFailuresInARow must be an integer from 1 to 1000', [
          { path: 'runFailuresInARow', message: 'expected 1-1000' },
        ])
      next.runFailuresInARow = n
    }
    if (body.diskBudgetRatio !== undefined) {
      const r = body.diskBudgetRatio
      if (typeof r !== 'number' || !(r > 0 && r <= 1))
        throw badRequest('diskBudgetRatio must be a number above 0 and at most 1', [
          { path: 'diskBudgetRatio', message: 'expected (0, 1]' },
        ])
      next.diskBudgetRatio = r
    }
    await ctx.store.setAlertSettings(next)
    await ctx.audit(c, 'alert.settings', 'alerts', settingsView(next))
    ctx.alerts.schedule()
    return c.json(settingsView(next))
  })

  app.get('/:id', async (c) => {
    const alert = await ctx.store.getAlert(c.req.param('id'))
    if (!alert) throw notFound(`alert ${c.req.param('id')}`)
    return c.json(alert)
  })

  for (const action of ['acknowledge', 'resolve'] as const) {
    app.post(`/:id/${action}`, async (c) => {
      const body = ((await c.req.json().catch(() => ({}))) ?? {}) as { note?: unknown }
      const note = typeof body.note === 'string' ? body.note.slice(0, 500) : undefined
      const alert = await ctx.alerts[action](c.req.param('id'), actorOf(c), note)
      if (!alert) throw notFound(`alert ${c.req.param('id')}`)
      return c.json(alert)
    })
  }
  return app
}
