/** The one error type at the HTTP boundary, rendered as application/problem+json (RFC 9457). */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export interface ProblemField {
  path: string
  message: string
  line?: number
  column?: number
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    detail?: string,
    readonly errors?: ProblemField[],
  ) {
    super(detail ?? title)
  }
}

export function problem(c: Context, error: ApiError): Response {
  return c.body(
    JSON.stringify({
      type: `https://outpost.dev/problems/${error.title.toLowerCase().replaceAll(' ', '-')}`,
      title: error.title,
      status: error.status,
      detail: error.message,
      ...(error.errors ? { errors: error.errors } : {}),
    }),
    error.status,
    { 'content-type': 'application/problem+json' },
  )
}

export const notFound = (what: string) => new ApiError(404, 'Not Found', `${what} not found`)
export const badRequest = (detail: string, errors?: ProblemField[]) =>
  new ApiError(400, 'Bad Request', detail, errors)

/** An integer query parameter within [min, max] (`fallback` when absent); 400 naming it otherwise. */
export function intQuery(c: Context, name: string, fallback: number, min: number, max: number): number {
  const value = Number(c.req.query(name) ?? fallback)
  if (!Number.isInteger(value) || value < min || value > max)
    throw badRequest(`${name} must be an integer from ${min} to ${max}`, [
      { path: name, message: `expected ${min}-${max}` },
    ])
  return value
}
export const conflict = (detail: string) => new ApiError(409, 'Conflict', detail)
