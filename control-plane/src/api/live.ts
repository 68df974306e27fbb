/** Server-sent events for the console: agents, runs, pipelines, throughput, alerts and rollouts as they change. */
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { ControlPlaneContext } from '../context.js'
import { agentView } from '../fleet/views.js'
import { THROUGHPUT_BUCKET_MS } from '../ingest/telemetry.js'
import type { AgentRecord, AlertRecord, RolloutRecord, RunRecord, ThroughputPoint } from '../store/types.js'

export function liveRoutes(ctx: ControlPlaneContext): Hono {
  const app = new Hono()

  app.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      let id = 0
      let open = true
      // Coalesce agent updates (heartbeats) to at most one per agent per second.
      const pendingAgents = new Map<string, AgentRecord>()
      const send = (event: string, data: unknown) => {
        if (!open) return
        void stream.writeSSE({ id: String(++id), event, data: JSON.stringify(data) }).catch(() => {
          open = false
        })
      }
      const onAgent = (a: AgentRecord) => pendingAgents.set(a.id, a)
      const onRun = (r: RunRecord) => send('run', r)
      const onPipelines = (p: unknown) => send('pipelines', p)
      const onThroughput = (p: ThroughputPoint) =>
        send('throughput', { ...p, bucketMs: THROUGHPUT_BUCKET_MS })
      const onAlert = (a: AlertRecord) => send('alert', a)
      const onRollout = (r: RolloutRecord) => send('rollout', r)
      ctx.events.on('agent', onAgent)
      ctx.events.on('run', onRun)
      ctx.events.on('pipelines', onPipelines)
      ctx.events.on('throughput', onThroughput)
      ctx.events.on('alert', onAlert)
      ctx.events.on('rollout', onRollout)
      const flush = setInterval(() => {
        const agents = [...pendingAgents.values()]
        pendingAgents.clear()
        for (const a of agents) void agentView(a, ctx.catalog).then((v) => send('agent', v))
      }, 1000)
      const keepalive = setInterval(() => {
        if (open) void stream.write(': keepalive\n\n').catch(() => (open = false))
      }, 15_000)
      send('hello', { at: Date.now() })
      await new Promise<void>((resolve) => stream.onAbort(resolve))
      open = false
      clearInterval(flush)
      clearInterval(keepalive)
      ctx.events.off('agent', onAgent)
      ctx.events.off('run', onRun)
      ctx.events.off('pipelines', onPipelines)
      ctx.events.off('throughput', onThroughput)
      ctx.events.off('alert', onAlert)
      ctx.events.off('rollout', onRollout)
    }),
  )

  app.get('/metrics/throughput', async (c) => {
    const minutes = Number(c.req.query('minutes') ?? 15)
    const since =
      Date.now() - Math.min(Math.max(1, Number.isFinite(minutes) ? minutes : 15), 7 * 24 * 60) * 60_000
    return c.json({ bucketMs: THROUGHPUT_BUCKET_MS, points: await ctx.store.throughput(since) })
  })

  return app
}
