/**
 * Every REST route in one table: its role, what it does, its query parameters and the schema of
 * its JSON body. The same table gives the auth middleware the route's role, validates request
 * bodies before the handler runs, and generates the OpenAPI document (GET /api/v1/openapi.json).
 */
import { duration, labels, pipelineSchema } from '@outpost/shared'
import * as z from 'zod'
import type { Role } from '../store/types.js'

export const BODIES = {
  pipeline: pipelineSchema.describe(
    'A pipeline document, as YAML (application/yaml) or JSON; see docs/reference/pipeline.md.',
  ),
  apiToken: z.strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/, 'name must be 1-63 letters, digits, ., _, @ or -'),
    role: z.enum(['viewer', 'operator', 'admin'], { error: 'role must be one of viewer, operator, admin' }),
    ttl: duration.optional(),
  }),
  enrollmentToken: z.strictObject({
    ttl: duration.optional().describe('How long the token can be used (default 24h).'),
    maxUses: z.number().int().min(1).optional().describe('Enrolments it allows (default 1).'),
    labels: labels.optional().describe('Labels every agent enrolled with it gets.'),
    description: z.string().max(200).optional(),
  }),
  agentPatch: z.strictObject({ labels: labels.optional(), name: z.string().min(1).max(128).optional() }),
  command: z.strictObject({ type: z.literal('run_now'), pipeline: z.string().min(1) }),
  probe: z.strictObject({
    kind: z.enum(['test_connection', 'preview', 'schema']),
    spec: z.unknown().describe('A pipeline document (object or YAML text).'),
    target: z.string().optional().describe('source (default) or sinks[N].'),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  runNow: z.strictObject({ agent: z.string().optional().describe('Only this agent.') }),
  replay: z.strictObject({ run: z.string().optional(), agent: z.string().optional() }),
  rollout: z.strictObject({
    version: z.number().int().min(1).optional().describe('Default: the latest.'),
    strategy: z.enum(['all', 'canary']).optional(),
    waves: z.union([z.string(), z.array(z.union([z.string(), z.number()]))]).optional(),
    soak: duration.optional(),
  }),
  alertNote: z.strictObject({ note: z.string().max(500).optional() }),
  alertSettings: z.strictObject({
    agentOfflineAfter: duration.optional(),
    runFailuresInARow: z.number().int().min(1).max(1000).optional(),
    outboxAge: duration.optional(),
    diskBudgetRatio: z.number().gt(0).max(1).optional(),
  }),
} as const

export interface RouteDoc {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  /** Under /api/v1; `:name` is a path parameter. */
  path: string
  role: Role
  summary: string
  body?: keyof typeof BODIES
  query?: Record<string, string>
}

const r = (
  method: RouteDoc['method'],
  path: string,
  role: Role,
  summary: string,
  extra: Partial<Pick<RouteDoc, 'body' | 'query'>> = {},
): RouteDoc => ({ method, path, role, summary, ...extra })

export const ROUTES: readonly RouteDoc[] = [
  r('GET', '/openapi.json', 'viewer', 'This document.'),
  r('GET', '/whoami', 'viewer', "The token's name and role."),
  r('GET', '/agents', 'viewer', 'Agents with state, health, applied versions and drift.', {
    query: {
      selector: 'region=eu,role in (pos,kiosk),gpu,!legacy',
      state: 'online, degraded, offline or revoked',
    },
  }),
  r('GET', '/agents/:id', 'viewer', 'One agent.'),
  r(
    'GET',
    '/agents/:id/metrics',
    'viewer',
    "The agent's rows read and written and its outbox, in 10 s buckets.",
    {
      query: { minutes: 'how far back, 1-360 (default 15)' },
    },
  ),
  r(
    'GET',
    '/agents/:id/history',
    'viewer',
    "The agent's state changes, newest first: state, since, until, duration, why it was degraded.",
    { query: { limit: 'how many, 1-200 (default 200)' } },
  ),
  r('PATCH', '/agents/:id', 'admin', "Set an agent's labels or name.", { body: 'agentPatch' }),
  r('POST', '/agents/:id/revoke', 'admin', 'Revoke an agent: its stream closes, its credential is refused.'),
  r('POST', '/agents/:id/commands', 'operator', 'Send a command to a connected agent.', { body: 'command' }),
  r(
    'POST',
    '/agents/:id/probe',
    'operator',
    'Test a connection, preview rows or infer a schema at the site.',
    {
      body: 'probe',
    },
  ),
  r('GET', '/pipelines', 'viewer', 'Pipelines with their latest version.'),
  r('POST', '/pipelines', 'operator', 'Create a pipeline (409 when it exists).', { body: 'pipeline' }),
  r('GET', '/pipelines/:name', 'viewer', 'A pipeline and its latest spec.'),
  r(
    'PUT',
    '/pipelines/:name',
    'operator',
    'Create or add a version; If-Match: <version> refuses concurrent edits.',
    {
      body: 'pipeline',
      query: {
        waves: 'canary waves, e.g. 1,25%,100%',
        soak: 'soak per wave, e.g. 10m',
        strategy: 'all or canary',
      },
    },
  ),
  r(
    'DELETE',
    '/pipelines/:name',
    'operator',
    'Delete a pipeline (its versions stay for runs and the audit log).',
  ),
  r('GET', '/pipelines/:name/versions', 'viewer', 'Versions, newest first, with author and time.'),
  r('GET', '/pipelines/:name/versions/:version', 'viewer', 'One version and its spec.'),
  r('GET', '/pipelines/:name/versions/:version/diff', 'viewer', "Unified diff of the version's YAML.", {
    query: { against: 'version to compare with (default: the one before)' },
  }),
  r('POST', '/pipelines/:name/run', 'operator', 'Run now on every connected agent that has it.', {
    body: 'runNow',
  }),
  r(
    'GET',
    '/pipelines/:name/quarantine',
    'operator',
    'Rows quarantined at the sites, by rule and run, with samples.',
    {
      query: { run: 'one run only', agent: 'one agent only', limit: 'entries per agent (default 20)' },
    },
  ),
  r(
    'POST',
    '/pipelines/:name/quarantine/replay',
    'operator',
    'Replay quarantined rows through the current version.',
    {
      body: 'replay',
    },
  ),
  r('GET', '/pipelines/:name/rollouts', 'viewer', "A pipeline's rollouts, newest first."),
  r(
    'POST',
    '/pipelines/:name/rollouts',
    'operator',
    'Roll a stored version out (or back), at once or in waves.',
    {
      body: 'rollout',
    },
  ),
  r('GET', '/rollouts', 'viewer', 'Rollouts, newest first.', { query: { pipeline: 'one pipeline only' } }),
  r('GET', '/rollouts/:id', 'viewer', "A rollout with every agent's wave and status."),
  r('POST', '/rollouts/:id/pause', 'operator', 'Pause a running rollout.'),
  r('POST', '/rollouts/:id/resume', 'operator', 'Resume a paused rollout.'),
  r('POST', '/rollouts/:id/abort', 'operator', 'Abort: every agent goes back to the version it ran before.'),
  r('GET', '/runs', 'viewer', 'Runs, newest first.', {
    query: {
      pipeline: '',
      agent: '',
      status: 'running, succeeded, failed or cancelled',
      limit: '1-1000',
      before: 'ms',
    },
  }),
  r('GET', '/runs/:id', 'viewer', 'One run with counts, errors and the quality report.'),
  r('GET', '/alerts', 'viewer', 'Alerts, newest first.', {
    query: { state: 'firing, acknowledged or resolved', limit: '' },
  }),
  r('GET', '/alerts/settings', 'viewer', 'Thresholds of the alert rules.'),
  r('PUT', '/alerts/settings', 'admin', 'Change thresholds of the alert rules.', { body: 'alertSettings' }),
  r('GET', '/alerts/:id', 'viewer', 'One alert with its history.'),
  r('POST', '/alerts/:id/acknowledge', 'operator', 'Acknowledge an alert.', { body: 'alertNote' }),
  r('POST', '/alerts/:id/resolve', 'operator', 'Resolve an alert.', { body: 'alertNote' }),
  r('GET', '/enrollment-tokens', 'admin', 'Enrolment tokens (never the token itself).'),
  r('POST', '/enrollment-tokens', 'admin', 'Create an enrolment token; shown once.', {
    body: 'enrollmentToken',
  }),
  r('DELETE', '/enrollment-tokens/:id', 'admin', 'Revoke an enrolment token.'),
  r('GET', '/api-tokens', 'admin', 'API tokens (never the token itself).'),
  r('POST', '/api-tokens', 'admin', 'Create an API token; shown once.', { body: 'apiToken' }),
  r('DELETE', '/api-tokens/:id', 'admin', 'Revoke an API token.'),
  r('GET', '/audit', 'viewer', 'The audit log, newest first.', {
    query: {
      action: 'e.g. pipeline or agent.revoke',
      actor: 'e.g. token:ci',
      target: '',
      limit: '',
      before: 'seq',
    },
  }),
  r('GET', '/dead-letters', 'viewer', 'Batches the control plane refused, with the reason.'),
  r('GET', '/metrics/throughput', 'viewer', 'Rows read and written across the fleet, in 10 s buckets.', {
    query: { minutes: 'how far back (default 15)' },
  }),
  r('GET', '/events', 'viewer', 'Server-sent events: agent, run, pipelines, throughput, alert, rollout.'),
]

function matches(pattern: string, path: string): boolean {
  const a = pattern.split('/')
  const b = path.replace(/\/+$/, '').split('/')
  return a.length === b.length && a.every((part, i) => part.startsWith(':') || part === b[i])
}

/** The route a request is for (path relative to /api/v1); undefined for a route the table does not know. */
export function findRoute(method: string, path: string): RouteDoc | undefined {
  const m = method === 'HEAD' ? 'GET' : method
  // Literal segments win over parameters (/alerts/settings before /alerts/:id).
  return ROUTES.filter((r) => r.method === m && matches(r.path, path)).sort(
    (x, y) => x.path.split(':').length - y.path.split(':').length,
  )[0]
}

/** The OpenAPI 3.1 document, from the table and the body schemas. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  const problem = {
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  }
  for (const route of ROUTES) {
    const openPath = route.path.replace(/:([A-Za-z]+)/g, '{$1}')
    const params = [
      ...[...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...Object.entries(route.query ?? {}).map(([name, description]) => ({
        name,
        in: 'query',
        required: false,
        schema: { type: 'string' },
        ...(description ? { description } : {}),
      })),
    ]
    const body = route.body
      ? z.toJSONSchema(BODIES[route.body], { io: 'input', unrepresentable: 'any' })
      : undefined
    const entry: Record<string, unknown> = {
      summary: route.summary,
      'x-outpost-role': route.role,
      description: `Needs the ${route.role} role.`,
      ...(params.length ? { parameters: params } : {}),
      ...(body
        ? {
            requestBody: {
              required: route.body !== 'runNow' && route.body !== 'replay' && route.body !== 'alertNote',
              content:
                route.body === 'pipeline'
                  ? { 'application/yaml': { schema: body }, 'application/json': { schema: body } }
                  : { 'application/json': { schema: body } },
            },
          }
        : {}),
      responses: {
        [route.method === 'POST' && /tokens|rollouts$|^\/pipelines$/.test(route.path) ? '201' : '200']: {
          description: 'OK',
          content: { [route.path === '/events' ? 'text/event-stream' : 'application/json']: {} },
        },
        '400': { description: 'Invalid input; errors name the field', ...problem },
        '401': { description: 'No valid API token', ...problem },
        '403': { description: `Needs the ${route.role} role`, ...problem },
        '404': { description: 'Not found', ...problem },
      },
    }
    paths[openPath] = { ...(paths[openPath] ?? {}), [route.method.toLowerCase()]: entry }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Outpost control plane', version },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (outpost api-token create).' },
      },
      schemas: {
        Problem: {
          type: 'object',
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  path: { type: 'string' },
                  message: { type: 'string' },
                  line: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
    paths,
  }
}
