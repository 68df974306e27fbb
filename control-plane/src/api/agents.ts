import { create } from '@bufbuild/protobuf'
import { parsePipeline, validatePipeline } from '@outpost/shared'
import { ProbeKind, ProbeSchema, RunNowSchema } from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { Hono } from 'hono'
import type { ControlPlaneContext } from '../context.js'
import { agentView } from '../fleet/views.js'
import { badRequest, notFound } from './problem.js'

export function agentRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.get('/', async (c) => {
    const agents = await ctx.store.listAgents()
    const views = await Promise.all(agents.map((a) => agentView(a, ctx.catalog)))
    views.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
    return c.json({ items: views })
  })

  app.get('/:id', async (c) => {
    const agent = await ctx.store.getAgent(c.req.param('id'))
    if (!agent) throw notFound(`agent ${c.req.param('id')}`)
    return c.json(await agentView(agent, ctx.catalog))
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
