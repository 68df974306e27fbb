/**
 * REST API authentication and roles. Every request under /api/v1 carries `Authorization: Bearer
 * <token>` (never a query parameter or a cookie); the token's hash is looked up in the store, and
 * the route's required role comes from the route table (api/routes.ts), so no route can be added
 * without a rule (a route the table does not know needs admin). Roles are ordered: viewer < operator < admin.
 *   viewer   reads the fleet, pipelines, runs, dead letters, metrics and the audit log;
 *   operator also changes pipelines, runs them, probes sites and lists or replays quarantined rows;
 *   admin    also manages enrolment tokens, API tokens and agents (labels, revocation).
 * Failed authentication is rate limited per client address.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { ApiError } from '../api/problem.js'
import { findRoute, type RouteDoc } from '../api/routes.js'
import { hashSecret, newSecret, randomId } from '../grpc/credentials.js'
import type { ApiTokenRecord, Role, Store } from '../store/types.js'

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin']

export const rank = (role: Role) => ROLES.indexOf(role)

/** The role a request needs (path relative to /api/v1); routes the table does not name need admin. */
export function requiredRole(method: string, path: string): Role {
  return findRoute(method, path)?.role ?? 'admin'
}

export interface Principal {
  tokenId: string
  name: string
  role: Role
}

/** Hono variables set by the middleware: who calls, and the route table's entry for the request. */
export type AuthVariables = { principal: Principal; route: RouteDoc | undefined }

export function actorOf(c: Context): string {
  const p = c.get('principal') as Principal | undefined
  return p ? `token:${p.name}` : 'anonymous'
}

export function newApiToken(name: string, role: Role, createdBy: string, now = Date.now()) {
  const token = newSecret('opa_')
  const record: ApiTokenRecord = {
    id: randomId('key-', 10),
    name,
    role,
    hash: hashSecret(token),
    createdAt: now,
    createdBy,
  }
  return { token, record }
}

/** Counts failed authentications per client, in a sliding minute. */
class FailureLimiter {
  private readonly failures = new Map<string, number[]>()
  constructor(private readonly perMinute: number) {}

  blocked(client: string, now: number): number | undefined {
    const recent = (this.failures.get(client) ?? []).filter((t) => t > now - 60_000)
    if (recent.length === 0) this.failures.delete(client)
    else this.failures.set(client, recent)
    return recent.length >= this.perMinute ? Math.ceil((recent[0]! + 60_000 - now) / 1000) : undefined
  }

  fail(client: string, now: number): void {
    const list = this.failures.get(client) ?? []
    list.push(now)
    this.failures.set(client, list)
    // Bounded memory under a flood of distinct addresses.
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string)
  }
}

function clientOf(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return incoming?.socket?.remoteAddress ?? 'local'
}

export function authMiddleware(
  store: Store,
  options: { failuresPerMinute?: number } = {},
): MiddlewareHandler<{ Variables: AuthVariables }> {
  const limiter = new FailureLimiter(options.failuresPerMinute ?? 20)
  return async (c, next) => {
    const now = Date.now()
    const client = clientOf(c)
    const wait = limiter.blocked(client, now)
    if (wait !== undefined) {
      c.header('retry-after', String(wait))
      throw new ApiError(429, 'Too Many Requests', `too many failed authentications; try again in ${wait} s`)
    }
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    const refuse = (detail: string): never => {
      limiter.fail(client, now)
      c.header('www-authenticate', 'Bearer realm="outpost"')
      throw new ApiError(401, 'Unauthorized', detail)
    }
    if (!match) refuse('an API token is required: send Authorization: Bearer <token>')
    const token = await store.findApiToken(hashSecret(match![1]!))
    if (!token) return refuse('unknown API token')
    if (token.revokedAt) return refuse('API token revoked')
    if (token.expiresAt !== undefined && token.expiresAt <= now) return refuse('API token expired')
    // Path relative to the API root, whatever it is mounted under.
    const path = c.req.path.replace(/^\/api\/v1/, '') || '/'
    const route = findRoute(c.req.method, path)
    // Routes the table does not name need admin.
    const needed = route?.role ?? 'admin'
    if (rank(token.role) < rank(needed))
      throw new ApiError(
        403,
        'Forbidden',
        `${c.req.method} ${path} needs the ${needed} role; token ${token.name} has ${token.role}`,
      )
    c.set('principal', { tokenId: token.id, name: token.name, role: token.role })
    c.set('route', route)
    await next()
  }
}
