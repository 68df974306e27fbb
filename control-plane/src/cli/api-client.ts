import { readFileSync } from 'node:fs'
import { join } from 'node:path'
/** A small client for the REST API, used by the CLI commands. */
export class ApiClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: { path: string; message: string; line?: number }[] = [],
  ) {
    super(message)
  }
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async request<T>(
    method: string,
    path: string,
    body?: { json?: unknown; text?: string; contentType?: string },
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.token) headers.authorization = `Bearer ${this.token}`
    let payload: string | undefined
    if (body?.json !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body.json)
    } else if (body?.text !== undefined) {
      headers['content-type'] = body.contentType ?? 'application/yaml'
      payload = body.text
    }
    let response: Response
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
      })
    } catch (error) {
      throw new ApiClientError(
        0,
        `cannot reach the control plane at ${this.baseUrl}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`,
      )
    }
    if (response.status === 204) return undefined as T
    const text = await response.text()
    const data = text ? (JSON.parse(text) as unknown) : undefined
    if (!response.ok) {
      const problem = data as
        | { detail?: string; title?: string; errors?: { path: string; message: string; line?: number }[] }
        | undefined
      throw new ApiClientError(
        response.status,
        problem?.detail ?? problem?.title ?? `HTTP ${response.status}`,
        problem?.errors,
      )
    }
    return data as T
  }
}

/**
 * The API token the CLI sends: $OUTPOST_API_TOKEN, else the file $OUTPOST_TOKEN_FILE names, else
 * the first admin token a control plane on this host wrote into its data directory
 * ($OUTPOST_DATA_DIR or ./.outpost/control-plane, as `outpost up` and `outpost control-plane` use).
 */
export function apiToken(): string | undefined {
  if (process.env.OUTPOST_API_TOKEN) return process.env.OUTPOST_API_TOKEN
  const files = [
    process.env.OUTPOST_TOKEN_FILE,
    join(process.env.OUTPOST_DATA_DIR ?? '.outpost/control-plane', 'admin-token'),
  ].filter((f): f is string => f !== undefined)
  for (const file of files) {
    try {
      return readFileSync(file, 'utf8').trim()
    } catch {
      // Not there: try the next.
    }
  }
  return undefined
}

export function clientFrom(server: string | undefined): ApiClient {
  const base = server ?? process.env.OUTPOST_SERVER ?? 'http://127.0.0.1:7080'
  return new ApiClient(base.endsWith('/') ? base : `${base}/`, apiToken())
}
