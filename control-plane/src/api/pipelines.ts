import { create } from '@bufbuild/protobuf'
import { specHash } from '@outpost/agent'
import {
  afterCycle,
  formatPath,
  type ParsedPipeline,
  parsePipeline,
  type Selector,
  validatePipeline,
} from '@outpost/shared'
import {
  ListQuarantineSchema,
  ReplayQuarantineSchema,
  RunNowSchema,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { createTwoFilesPatch } from 'diff'
import type { Context } from 'hono'
import { Hono } from 'hono'
import { stringify as stringifyYaml } from 'yaml'
import { actorOf } from '../auth/auth.js'
import type { ControlPlaneContext } from '../context.js'
import { isActive } from '../fleet/catalog.js'
import { planFrom, type RolloutPlan } from '../fleet/rollouts.js'
import type { PipelineRecord, PipelineVersionRecord } from '../store/types.js'
import { ApiError, badRequest, conflict, notFound } from './problem.js'
import { rolloutProblem, rolloutSummary } from './rollouts.js'

/** A replay is a run; the API waits for it this long. */
const REPLAY_TIMEOUT_MS = 10 * 60_000

async function readSpec(c: Context): Promise<ParsedPipeline> {
  const type = c.req.header('content-type') ?? ''
  const text = await c.req.text()
  if (text.trim() === '') throw badRequest('the request body must be a pipeline document (YAML or JSON)')
  const parsed = type.includes('json') ? jsonOrText(text) : parsePipeline(text)
  if (!parsed.ok) {
    throw badRequest(
      `invalid pipeline spec: ${parsed.errors.map((e) => `${e.path || '(document)'}: ${e.message}`).join('; ')}`,
      parsed.errors,
    )
  }
  return parsed.value
}

function jsonOrText(text: string) {
  try {
    return validatePipeline(JSON.parse(text))
  } catch {
    return parsePipeline(text)
  }
}

function expectedVersion(c: Context): number | undefined {
  const header = c.req.header('if-match')
  if (header === undefined) return undefined
  const n = Number(header.replaceAll('"', ''))
  if (!Number.isInteger(n) || n < 0)
    throw badRequest(`If-Match must be a pipeline version number, got ${header}`)
  return n
}

function summary(p: PipelineRecord, latest: PipelineVersionRecord | undefined) {
  const doc = latest
    ? (JSON.parse(latest.specJson) as { metadata?: { labels?: unknown }; spec?: Record<string, unknown> })
    : undefined
  return {
    name: p.name,
    version: p.latestVersion,
    hash: latest?.hash,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    labels: doc?.metadata?.labels ?? {},
    description: doc?.spec?.description,
    schedule: doc?.spec?.schedule ?? 'manual',
    selector: doc?.spec?.selector ?? {},
    source: (doc?.spec?.source as { type?: string } | undefined)?.type,
    sinks: ((doc?.spec?.sinks as { type?: string }[] | undefined) ?? []).map((s) => s.type),
  }
}

function versionView(v: PipelineVersionRecord) {
  return {
    name: v.name,
    version: v.version,
    hash: v.hash,
    author: v.author,
    createdAt: v.createdAt,
    spec: JSON.parse(v.specJson) as unknown,
  }
}

export function pipelineRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  /** `after` names pipelines that exist, and adds no cycle to the DAG. */
  const checkAfter = async (name: string, parsed: ParsedPipeline) => {
    const schedule = parsed.pipeline.spec.schedule
    const upstreams = new Map<string, string[]>()
    for (const p of await ctx.store.listPipelines()) {
      const v = await ctx.store.getPipelineVersion(p.name, p.latestVersion)
      const s = v ? (JSON.parse(v.specJson) as { spec?: { schedule?: unknown } }).spec?.schedule : undefined
      upstreams.set(
        p.name,
        s && typeof s === 'object' && 'after' in s ? (s as { after: string[] }).after : [],
      )
    }
    const mine = typeof schedule === 'object' && 'after' in schedule ? schedule.after : []
    upstreams.set(name, mine)
    mine.forEach((up, i) => {
      if (!upstreams.has(up))
        throw badRequest(`spec.schedule.after[${i}]: pipeline ${up} does not exist`, [
          { path: `spec.schedule.after[${i}]`, message: `pipeline ${up} does not exist` },
        ])
    })
    const cycle = afterCycle(upstreams)
    if (cycle)
      throw badRequest(`spec.schedule.after: a cycle: ${cycle}`, [
        { path: 'spec.schedule.after', message: `these pipelines would wait for each other: ${cycle}` },
      ])
  }

  const rolloutPlan = (strategy?: string, waves?: string, soak?: string): RolloutPlan => {
    try {
      return planFrom(strategy, waves, soak)
    } catch (error) {
      throw rolloutProblem(error)
    }
  }

  const startRollout = async (
    c: Context,
    name: string,
    from: number,
    to: number,
    selector: Selector | undefined,
    plan: RolloutPlan,
  ) => {
    try {
      return await ctx.rollouts.begin(name, from, to, selector, plan, actorOf(c))
    } catch (error) {
      throw rolloutProblem(error)
    }
  }

  // A rollout of a stored version: a canary of the latest, or a rollback to an earlier one.
  app.post('/:name/rollouts', async (c) => {
    const name = c.req.param('name')
    const pipeline = await ctx.store.getPipeline(name)
    if (!pipeline) throw notFound(`pipeline ${name}`)
    const body = ((await c.req.json().catch(() => ({}))) ?? {}) as {
      version?: unknown
      strategy?: unknown
      waves?: unknown
      soak?: unknown
    }
    const version = body.version === undefined ? pipeline.latestVersion : body.version
    if (typeof version !== 'number' || !Number.isInteger(version))
      throw badRequest('version must be an integer', [{ path: 'version', message: 'expected an integer' }])
    const record = await ctx.store.getPipelineVersion(name, version)
    if (!record) throw notFound(`pipeline ${name} version ${version}`)
    const waves = Array.isArray(body.waves)
      ? body.waves.join(',')
      : typeof body.waves === 'string'
        ? body.waves
        : undefined
    const plan = rolloutPlan(
      typeof body.strategy === 'string' ? body.strategy : undefined,
      waves,
      typeof body.soak === 'string' ? body.soak : undefined,
    )
    const from = pipeline.stableVersion ?? pipeline.latestVersion
    if (from === version && plan.strategy === 'all')
      throw conflict(`pipeline ${name} already runs version ${version}`)
    const selector = await ctx.catalog.selectorOf(name, version)
    const rollout = await startRollout(c, name, from, version, selector, plan)
    return c.json(rollout, 201)
  })

  app.get('/:name/rollouts', async (c) => {
    const name = c.req.param('name')
    if (!(await ctx.store.getPipeline(name))) throw notFound(`pipeline ${name}`)
    return c.json({ items: await ctx.store.listRollouts(name) })
  })

  const save = async (c: Context, parsed: ParsedPipeline, mode: 'create' | 'apply') => {
    const name = parsed.pipeline.metadata.name
    parsed.pipeline.spec.sinks.forEach((sink, i) => {
      if (sink.type === 'central' && sink.mode === 'upsert' && !ctx.warehouse.supportsUpsert) {
        throw badRequest('mode upsert needs a PostgreSQL warehouse', [
          {
            path: `spec.sinks[${i}].mode`,
            message: 'upsert needs a PostgreSQL warehouse: start the control plane with --warehouse-url',
          },
        ])
      }
    })
    const hash = specHash(parsed.canonical)
    const existing = await ctx.store.getPipeline(name)
    if (mode === 'create' && existing)
      throw conflict(`pipeline ${name} already exists; PUT /api/v1/pipelines/${name} adds a version`)
    const expected = expectedVersion(c)
    if (existing && expected === undefined) {
      const latest = await ctx.store.getPipelineVersion(name, existing.latestVersion)
      if (latest?.hash === hash) return c.json({ name, version: latest.version, hash, unchanged: true }, 200)
    }
    await checkAfter(name, parsed)
    // How the new version reaches the agents: at once (default), or in canary waves.
    const plan = rolloutPlan(c.req.query('strategy'), c.req.query('waves'), c.req.query('soak'))
    const active = (await ctx.store.listRollouts(name)).find(isActive)
    if (active)
      throw conflict(
        `pipeline ${name} has a ${active.state} rollout of version ${active.toVersion} (${active.id}); abort it or let it finish before adding a version`,
      )
    const selector = parsed.pipeline.spec.selector
    if (plan.strategy === 'canary' && (await ctx.rollouts.eligible(selector)).length === 0)
      throw conflict(`no agent matches the selector of pipeline ${name}; a canary rollout needs at least one`)
    const previous = existing ? (existing.stableVersion ?? existing.latestVersion) : 0
    const result = await ctx.store.addPipelineVersion(
      {
        name,
        hash,
        specJson: parsed.canonical,
        author: actorOf(c),
        createdAt: Date.now(),
      },
      expected,
    )
    if ('conflict' in result) {
      throw conflict(
        `pipeline ${name} is at version ${result.conflict}, not ${expected}: someone else changed it; reload and apply again`,
      )
    }
    await ctx.audit(c, 'pipeline.apply', name, { version: result.record.version, hash })
    // Until the rollout says otherwise, agents keep the version they ran.
    if (existing && existing.stableVersion === undefined) await ctx.store.setStableVersion(name, previous)
    const rollout = await startRollout(c, name, previous, result.record.version, selector, plan)
    return c.json(
      { name, version: result.record.version, hash, created: !existing, rollout: rolloutSummary(rollout) },
      existing ? 200 : 201,
    )
  }

  app.get('/', async (c) => {
    const items = await Promise.all(
      (await ctx.store.listPipelines()).map(async (p) =>
        summary(p, await ctx.store.getPipelineVersion(p.name, p.latestVersion)),
      ),
    )
    return c.json({ items: items.sort((a, b) => a.name.localeCompare(b.name)) })
  })

  app.post('/', async (c) => save(c, await readSpec(c), 'create'))

  app.put('/:name', async (c) => {
    const parsed = await readSpec(c)
    if (parsed.pipeline.metadata.name !== c.req.param('name')) {
      throw badRequest(
        `metadata.name is "${parsed.pipeline.metadata.name}" but the URL names "${c.req.param('name')}"`,
        [{ path: formatPath(['metadata', 'name']), message: `must be "${c.req.param('name')}"` }],
      )
    }
    return save(c, parsed, 'apply')
  })

  app.get('/:name', async (c) => {
    const p = await ctx.store.getPipeline(c.req.param('name'))
    if (!p) throw notFound(`pipeline ${c.req.param('name')}`)
    const latest = await ctx.store.getPipelineVersion(p.name, p.latestVersion)
    return c.json({
      ...summary(p, latest),
      spec: latest ? (JSON.parse(latest.specJson) as unknown) : undefined,
    })
  })

  app.get('/:name/versions', async (c) => {
    const versions = await ctx.store.listPipelineVersions(c.req.param('name'))
    if (versions.length === 0) throw notFound(`pipeline ${c.req.param('name')}`)
    return c.json({ items: versions.map(versionView).reverse() })
  })

  // What changed between two versions, as a unified diff of their YAML (default: the one before).
  app.get('/:name/versions/:version/diff', async (c) => {
    const name = c.req.param('name')
    const version = Number(c.req.param('version'))
    const against = c.req.query('against') === undefined ? version - 1 : Number(c.req.query('against'))
    if (!Number.isInteger(version) || !Number.isInteger(against))
      throw badRequest('versions are integers', [{ path: 'against', message: 'expected an integer' }])
    const to = await ctx.store.getPipelineVersion(name, version)
    if (!to) throw notFound(`pipeline ${name} version ${version}`)
    const from = against >= 1 ? await ctx.store.getPipelineVersion(name, against) : undefined
    if (against >= 1 && !from) throw notFound(`pipeline ${name} version ${against}`)
    const yaml = (v: PipelineVersionRecord | undefined) =>
      v ? stringifyYaml(JSON.parse(v.specJson) as unknown, { lineWidth: 0 }) : ''
    const diff = createTwoFilesPatch(
      from ? `${name}@${from.version}` : '/dev/null',
      `${name}@${to.version}`,
      yaml(from),
      yaml(to),
      undefined,
      undefined,
      { context: 3 },
    )
    return c.json({
      name,
      from: from?.version ?? null,
      to: to.version,
      author: to.author,
      createdAt: to.createdAt,
      diff,
    })
  })

  app.get('/:name/versions/:version', async (c) => {
    const v = await ctx.store.getPipelineVersion(c.req.param('name'), Number(c.req.param('version')))
    if (!v) throw notFound(`version ${c.req.param('version')} of pipeline ${c.req.param('name')}`)
    return c.json(versionView(v))
  })

  app.delete('/:name', async (c) => {
    const name = c.req.param('name')
    if (!(await ctx.store.deletePipeline(name))) throw notFound(`pipeline ${name}`)
    ctx.events.emit('pipelines', { name, deleted: true })
    await ctx.audit(c, 'pipeline.delete', name)
    return c.body(null, 204)
  })

  /** The connected agents a pipeline is assigned to (only `only`, when given). */
  async function agentsRunning(name: string, only: string | undefined): Promise<string[]> {
    if (!(await ctx.store.getPipeline(name))) throw notFound(`pipeline ${name}`)
    const targets: string[] = []
    for (const agent of await ctx.store.listAgents()) {
      if (only && agent.id !== only) continue
      if (!ctx.sessions.isConnected(agent.id)) continue
      if ((await ctx.catalog.assignmentsFor(agent)).some((a) => a.name === name)) targets.push(agent.id)
    }
    if (targets.length === 0)
      throw new ApiError(
        409,
        'Conflict',
        only
          ? `agent ${only} is not connected or does not run pipeline ${name}`
          : `no connected agent runs pipeline ${name}`,
      )
    return targets
  }

  /** Each agent's answer to a command, with its JSON result spread in. */
  async function ask(
    targets: string[],
    command: Parameters<typeof ctx.sessions.command>[1],
    timeoutMs?: number,
  ) {
    return Promise.all(
      targets.map(async (agentId) => {
        const r = await ctx.sessions.command(agentId, command, timeoutMs)
        const result = r?.resultJson ? (JSON.parse(r.resultJson) as Record<string, unknown>) : {}
        const answer: Record<string, unknown> & { agentId: string; ok: boolean } = {
          agentId,
          ok: r?.ok ?? false,
          ...(r?.error ? { error: r.error } : r ? {} : { error: 'agent is not connected' }),
          ...result,
        }
        return answer
      }),
    )
  }

  // The quarantine stays at the site: listing and replaying ask the agents that run the pipeline.
  app.get('/:name/quarantine', async (c) => {
    const name = c.req.param('name')
    const targets = await agentsRunning(name, c.req.query('agent'))
    const limit = Number(c.req.query('limit') ?? 20)
    if (!Number.isInteger(limit) || limit < 0 || limit > 10_000)
      throw badRequest(`limit must be an integer from 0 to 10000, got ${c.req.query('limit')}`)
    const items = await ask(targets, {
      kind: {
        case: 'listQuarantine',
        value: create(ListQuarantineSchema, { pipeline: name, runId: c.req.query('run') ?? '', limit }),
      },
    })
    const total = items.reduce((n, i) => n + (typeof i.total === 'number' ? i.total : 0), 0)
    return c.json({ pipeline: name, total, items })
  })

  app.post('/:name/quarantine/replay', async (c) => {
    const name = c.req.param('name')
    const body = (await c.req.json().catch(() => ({}))) as { agent?: string; run?: string }
    const targets = await agentsRunning(name, body.agent)
    const items = await ask(
      targets,
      {
        kind: {
          case: 'replayQuarantine',
          value: create(ReplayQuarantineSchema, { pipeline: name, runId: body.run ?? '' }),
        },
      },
      REPLAY_TIMEOUT_MS,
    )
    await ctx.audit(c, 'quarantine.replay', name, { ...(body.run ? { run: body.run } : {}), agents: targets })
    // Each agent answers for itself (ok, or the reason its replay failed).
    return c.json({ pipeline: name, items })
  })

  app.post('/:name/run', async (c) => {
    const name = c.req.param('name')
    const body = (await c.req.json().catch(() => ({}))) as { agent?: string }
    const targets = await agentsRunning(name, body.agent)
    const results = await Promise.all(
      targets.map(async (agentId) => {
        const r = await ctx.sessions.command(agentId, {
          kind: { case: 'runNow', value: create(RunNowSchema, { pipeline: name }) },
        })
        return { agentId, ok: r?.ok ?? false, ...(r?.error ? { error: r.error } : {}) }
      }),
    )
    await ctx.audit(c, 'pipeline.run', name, { agents: targets })
    return c.json({ items: results }, 202)
  })

  return app
}
