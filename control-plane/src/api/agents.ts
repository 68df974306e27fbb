import { create } from '@bufbuild/protobuf'
import {
  labels as labelsSchema,
  matchesSelector,
  parsePipeline,
  parseSelectorQuery,
  validatePipeline,
} from '@outpost/shared'
import { ProbeKind, ProbeSchema, RunNowSchema } from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { Hono } from 'hono'
import type { ControlPlaneContext } from '../context.js'
import { agentView } from '../fleet/views.js'
import { THROUGHPUT_BUCKET_MS } from '../ingest/telemetry.js'
import { AGENT_HISTORY_LIMIT } from '../store/types.js'
import { badRequest, intQuery, notFound } from './problem.js'

const STATES = ['online', 'degraded', 'offline', 'revoked']

export function agentRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.get('/', async (c) => {
    const query = c.req.query('selector')
    const parsed = query === undefined ? undefined : parseSelectorQuery(query)
    if (parsed && 'error' in parsed)
      throw badRequest(`selector: ${parsed.error}`, [{ path: 'selector', message: parsed.error }])
    const state = c.req.query('state')
    if (state !== undefined && !STATES.includes(state))
      throw badRequest(`state must be one of ${STATES.join(', ')}`, [
        { path: 'state', message: 'unknown state' },
      ])
    const agents = (await ctx.store.listAgents()).filter(
      (a) => !parsed || matchesSelector(parsed.selector, a.labels),
    )
    const views = (await Promise.all(agents.map((a) => agentView(a, ctx.catalog)))).filter(
      (v) => state === undefined || v.state === state,
    )
    views.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    return c.json({ items: views })
  })

  // Labels (and the display name) are edited centrally; what the agent runs follows its labels.
  app.patch('/:id', async (c) => {
    const id = c.req.param('id')
    const body = ((await c.req.json().catch(() => undefined)) ?? {}) as { labels?: unknown; name?: unknown }
    const labels = body.labels === undefined ? undefined : labelsSchema.safeParse(body.labels)
    if (labels && !labels.success)
      throw badRequest('labels must map label keys to strings', [
        {
          path: `labels.${String(labels.error.issues[0]?.path[0] ?? '')}`,
          message: labels.error.issues[0]?.message ?? 'invalid',
        },
      ])
    if (
      body.name !== undefined &&
      (typeof body.name !== 'string' || body.name.length < 1 || body.name.length > 128)
    )
      throw badRequest('name must be a string of 1-128 characters', [
        { path: 'name', message: 'invalid name' },
      ])
    const updated = await ctx.store.updateAgent(id, (a) => ({
      ...a,
      ...(labels?.success ? { labels: labels.data } : {}),
      ...(typeof body.name === 'string' ? { name: body.name } : {}),
    }))
    if (!updated) throw notFound(`agent ${id}`)
    await ctx.audit(c, 'agent.update', id, {
      ...(labels?.success ? { labels: labels.data } : {}),
      ...(typeof body.name === 'string' ? { name: body.name } : {}),
    })
    ctx.events.emit('agent', updated)
    const session = ctx.sessions.sessions.get(id)
    if (session) await ctx.sessions.pushDesired(session)
    return c.json(await agentView(updated, ctx.catalog))
  })

  // A revoked agent's stream is closed and its credential refused from then on.
  app.post('/:id/revoke', async (c) => {
    const id = c.req.param('id')
    const now = Date.now()
    const updated = await ctx.store.updateAgent(id, (a) => ({
      ...a,
      revokedAt: a.revokedAt ?? now,
      connected: false,
    }))
    if (!updated) throw notFound(`agent ${id}`)
    ctx.sessions.disconnect(id, `agent ${id} has been revoked`)
    // Its NATS connection is closed by the servers, and refused from then on. When NATS is down
    // now, the link pushes the revocation list again when it reconnects.
    await ctx.nats.pushRevocations().catch(() => {})
    await ctx.audit(c, 'agent.revoke', id, { name: updated.name })
    ctx.events.emit('agent', updated)
    return c.json(await agentView(updated, ctx.catalog))
  })

  app.get('/:id', async (c) => {
    const agent = await ctx.store.getAgent(c.req.param('id'))
    if (!agent) throw notFound(`agent ${c.req.param('id')}`)
    return c.json(await agentView(agent, ctx.catalog))
  })

  // The agent's own rows per second and outbox, from the metric batches it sent (10 s buckets).
  app.get('/:id/metrics', async (c) => {
    const id = c.req.param('id')
    if (!(await ctx.store.getAgent(id))) throw notFound(`agent ${id}`)
    const minutes = intQuery(c, 'minutes', 15, 1, 360)
    const since = Date.now() - minutes * 60_000
    return c.json({ bucketMs: THROUGHPUT_BUCKET_MS, points: await ctx.store.agentSeries(id, since) })
  })

  // State changes, newest first: each with how long it lasted (the current one: so far).
  app.get('/:id/history', async (c) => {
    const id = c.req.param('id')
    if (!(await ctx.store.getAgent(id))) throw notFound(`agent ${id}`)
    const limit = intQuery(c, 'limit', AGENT_HISTORY_LIMIT, 1, AGENT_HISTORY_LIMIT)
    const now = Date.now()
    const entries = await ctx.store.agentStateHistory(id, limit)
    return c.json({
      items: entries.map(({ agentId: _, ...entry }, i) => {
        const until = entries[i - 1]?.at
        return { ...entry, ...(until === undefined ? {} : { until }), durationMs: (until ?? now) - entry.at }
      }),
    })
  })

  app.post('/:id/commands', async (c) => {
    const id = c.req.param('id')
    const agent = await ctx.store.getAgent(id)
    if (!agent) throw notFound(`agent ${id}`)
    const body = (await c.req.json().catch(() => undefined)) as
      | { type?: string; pipeline?: string }
      | undefined
    if (body?.type !== 'run_now' || typeof body.pipeline !== 'string') {
      throw badRequest('expected {"type": "run_now", "pipeline": "<name>"}', [
        { path: 'type', message: 'expected "run_now"' },
      ])
    }
    const result = await ctx.sessions.command(id, {
      kind: { case: 'runNow', value: create(RunNowSchema, { pipeline: body.pipeline }) },
    })
    await ctx.audit(c, 'agent.command', id, { type: body.type, pipeline: body.pipeline })
    if (!result) return c.json({ agentId: id, ok: false, error: 'agent is not connected' }, 409)
    return c.json(
      { agentId: id, ok: result.ok, ...(result.error ? { error: result.error } : {}) },
      result.ok ? 200 : 409,
    )
  })

  app.post('/:id/probe', async (c) => {
    const id = c.req.param('id')
    if (!(await ctx.store.getAgent(id))) throw notFound(`agent ${id}`)
    const body = (await c.req.json().catch(() => undefined)) as
      | { kind?: string; spec?: unknown; target?: string; limit?: number }
      | undefined
    const kinds = {
      test_connection: ProbeKind.TEST_CONNECTION,
      preview: ProbeKind.PREVIEW,
      schema: ProbeKind.SCHEMA,
    } as const
    const kind = kinds[body?.kind as keyof typeof kinds]
    if (!kind)
      throw badRequest('kind must be test_connection, preview or schema', [
        { path: 'kind', message: 'expected test_connection, preview or schema' },
      ])
    const parsed = typeof body?.spec === 'string' ? parsePipeline(body.spec) : validatePipeline(body?.spec)
    if (!parsed.ok)
      throw badRequest(
        `invalid pipeline spec: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
        parsed.errors.map((e) => ({ ...e, path: `spec.${e.path}` })),
      )
    await ctx.audit(c, 'agent.probe', id, { kind: body?.kind, target: body?.target ?? 'source' })
    const limit = typeof body?.limit === 'number' ? Math.max(1, Math.min(1000, Math.floor(body.limit))) : 20
    const result = await ctx.sessions.command(
      id,
      {
        kind: {
          case: 'probe',
          value: create(ProbeSchema, {
            kind,
            specJson: parsed.value.canonical,
            target: body?.target ?? 'source',
            limit,
          }),
        },
      },
      70_000,
    )
    if (!result) return c.json({ agentId: id, ok: false, error: 'agent is not connected' }, 409)
    return c.json({
      agentId: id,
      ok: result.ok,
      ...(result.error ? { error: result.error } : {}),
      ...(result.resultJson ? { result: JSON.parse(result.resultJson) as unknown } : {}),
    })
  })

  return app
}
