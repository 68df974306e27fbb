/** The HTTP side of the control plane: REST under /api/v1, health, and the console's files at /. */
import { existsSync } from 'node:fs'
import { serveStatic } from '@hono/node-server/serve-static'
import { OUTPOST_VERSION } from '@outpost/shared'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { type AuthVariables, authMiddleware } from '../auth/auth.js'
import type { ControlPlaneContext } from '../context.js'
import { agentRoutes } from './agents.js'
import { alertRoutes } from './alerts.js'
import { apiTokenRoutes, auditRoutes } from './api-tokens.js'
import { deadLetterRoutes } from './dead-letters.js'
import { liveRoutes } from './live.js'
import { pipelineRoutes } from './pipelines.js'
import { ApiError, badRequest, problem } from './problem.js'
import { rolloutRoutes } from './rollouts.js'
import { BODIES, openApiDocument } from './routes.js'
import { runRoutes } from './runs.js'
import { tokenRoutes } from './tokens.js'

export interface ApiOptions {
  /** Directory with the built console (index.html and assets); omitted serves no console. */
  consoleDir?: string
  maxBodyBytes?: number
  /** Failed authentications a client may make in a minute before it waits (default 20). */
  authFailuresPerMinute?: number
}

export function createApi(ctx: ControlPlaneContext, options: ApiOptions = {}): Hono {
  const app = new Hono()

  app.onError((error, c) => {
    if (error instanceof ApiError) return problem(c, error)
    if (error instanceof HTTPException)
      return problem(
        c,
        new ApiError(
          error.status as 400,
          error.status === 413 ? 'Payload Too Large' : 'Bad Request',
          error.message,
        ),
      )
    ctx.log.error('request failed', { method: c.req.method, path: c.req.path, error: error.message })
    return problem(
      c,
      new ApiError(500, 'Internal Server Error', 'the request failed; see the control plane log'),
    )
  })
  app.notFound((c) =>
    problem(c, new ApiError(404, 'Not Found', `no route for ${c.req.method} ${c.req.path}`)),
  )

  app.use('*', async (c, next) => {
    await next()
    c.header('x-content-type-options', 'nosniff')
    c.header('referrer-policy', 'no-referrer')
    c.header('x-frame-options', 'DENY')
  })

  app.get('/healthz', (c) => c.json({ status: 'ok' }))
  // Prometheus scrapes without a token, like most exporters: keep the HTTP listener on a private
  // address (the default is 127.0.0.1).
  app.get('/metrics', async (c) => {
    if (!ctx.prometheus) return c.text('metrics are not enabled\n', 404)
    return c.body(await ctx.prometheus.metrics(), 200, { 'content-type': ctx.prometheus.contentType })
  })
  app.get('/readyz', (c) => {
    const nats = ctx.nats.connected
    return c.json(
      { status: nats ? 'ready' : 'degraded', checks: { store: 'ok', nats: nats ? 'ok' : 'unreachable' } },
      nats ? 200 : 503,
    )
  })

  const api = new Hono<{ Variables: AuthVariables }>()
  api.use(
    '*',
    bodyLimit({
      maxSize: options.maxBodyBytes ?? 1024 * 1024,
      onError: () => {
        throw new ApiError(
          413,
          'Payload Too Large',
          `request bodies are limited to ${options.maxBodyBytes ?? 1024 * 1024} bytes`,
        )
      },
    }),
  )
  api.use(
    '*',
    authMiddleware(
      ctx.store,
      options.authFailuresPerMinute ? { failuresPerMinute: options.authFailuresPerMinute } : {},
    ),
  )
  // Request bodies are checked against the route table's schemas before the handler runs.
  api.use('*', async (c, next) => {
    // The auth middleware found the route already.
    const route = c.get('route')
    if (route?.body && route.body !== 'pipeline') {
      const text = await c.req.text()
      if (text.trim() !== '') {
        let value: unknown
        try {
          value = JSON.parse(text)
        } catch (error) {
          throw badRequest(`the body is not JSON: ${(error as Error).message}`)
        }
        const parsed = BODIES[route.body].safeParse(value)
        if (!parsed.success) {
          const errors = parsed.error.issues.map((i) => ({
            path: i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.') || '(body)',
            message: i.code === 'unrecognized_keys' ? 'unknown field' : i.message,
          }))
          throw badRequest(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors)
        }
      }
    }
    await next()
  })
  api.get('/openapi.json', (c) => c.json(openApiDocument(OUTPOST_VERSION)))
  api.get('/whoami', (c) => c.json(c.get('principal')))
  api.route('/agents', agentRoutes(ctx))
  api.route('/pipelines', pipelineRoutes(ctx))
  api.route('/runs', runRoutes(ctx))
  api.route('/enrollment-tokens', tokenRoutes(ctx))
  api.route('/dead-letters', deadLetterRoutes(ctx))
  api.route('/api-tokens', apiTokenRoutes(ctx))
  api.route('/audit', auditRoutes(ctx))
  api.route('/rollouts', rolloutRoutes(ctx))
  api.route('/alerts', alertRoutes(ctx))
  api.route('/', liveRoutes(ctx))
  app.route('/api/v1', api)

  const dir = options.consoleDir
  if (dir && existsSync(dir)) {
    app.use('/*', serveStatic({ root: dir }))
    // Client-side routes fall back to the console's index.
    app.get('*', serveStatic({ root: dir, path: 'index.html' }))
  }
  return app
}
