/**
 * Records from a JSON HTTP API. The main thread makes the requests (authentication, pagination,
 * rate limit, retries with backoff on 429 and 5xx honouring Retry-After); each page goes to the
 * worker, which reads its records and tells the reader what the next page is. The cursor keeps
 * the page to resume from within a run and, for incremental reads, the highest value seen.
 */
import { httpSourceSpec, SourceError } from '@outpost/shared'
import type * as z from 'zod'
import { Backoff } from '../runtime/backoff.js'
import { sleep } from '../runtime/run.js'
import { recordOrUnreadable, rowsFromObjects } from './infer.js'
import { DecimalText, parseJson } from './json-text.js'
import { type DecodedRows, defineSource, type SourceChunk } from './types.js'

type HttpOptions = z.output<typeof httpSourceSpec.schema>

/** Where the next page is, as learnt from the previous one. */
interface Resume {
  page?: number
  offset?: number
  token?: string
  url?: string
}

interface HttpCursor {
  /** Sent as the incremental parameter for the whole run. */
  since?: string | undefined
  /** The page to continue with after a crash in the middle of a run. */
  resume?: Resume | undefined
}

interface PageState {
  records: number
  nextToken?: string | undefined
  nextUrl?: string | undefined
  /** Highest value of the incremental field on the page. */
  max?: string | undefined
}

export const CURSOR = ['http', 'cursor']

function at(value: unknown, path: string | undefined): unknown {
  if (!path) return value
  let current = value
  for (const key of path.split('.')) {
    // Own keys only: records_path constructor is not Object.
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined
    current = (current as Record<string, unknown>)[key]
  }
  return current
}

function nextFromLink(header: string | null): string | undefined {
  if (!header) return undefined
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part)
    if (m) return m[1]
  }
  return undefined
}

function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

function compare(a: string, b: string): number {
  const x = Number(a)
  const y = Number(b)
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(x) && Number.isFinite(y)) return x - y
  return a < b ? -1 : a > b ? 1 : 0
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}

/** What went wrong with a fetch, in words: fetch itself only says "fetch failed". */
function fetchFailure(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError') return 'no answer in time (see the timeout option)'
  const code = e?.cause?.code
  if (code && NETWORK_ERRORS[code]) return NETWORK_ERRORS[code]
  return e?.cause?.message ?? e?.message ?? String(error)
}

class Requester {
  private token: { value: string; expires: number } | undefined
  private last = 0

  constructor(
    private readonly options: HttpOptions,
    private readonly signal: AbortSignal,
  ) {}

  private async oauthToken(force: boolean): Promise<string> {
    const auth = this.options.auth
    if (auth?.type !== 'oauth2') return ''
    if (!force && this.token && this.token.expires > Date.now() + 30_000) return this.token.value
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: auth.client_id,
      client_secret: auth.client_secret,
    })
    if (auth.scope) body.set('scope', auth.scope)
    const response = await fetch(auth.token_url, {
      method: 'POST',
      body,
      signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.options.timeout)]),
    }).catch((error: unknown) => {
      throw new SourceError(
        `OAuth2 token request to ${auth.token_url} failed: ${fetchFailure(error)}`,
        true,
        { cause: error },
      )
    })
    if (!response.ok)
      throw new SourceError(
        `OAuth2 token request to ${auth.token_url} was refused: HTTP ${response.status}; check client_id and client_secret`,
        response.status >= 500,
      )
    const json = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number }
    if (!json.access_token)
      throw new SourceError(`OAuth2 token response from ${auth.token_url} has no access_token`, false)
    this.token = { value: json.access_token, expires: Date.now() + (json.expires_in ?? 3600) * 1000 }
    return this.token.value
  }

  /** One page: authentication, rate limit and retries. */
  async get(url: URL): Promise<{ body: Uint8Array; link: string | null }> {
    const { options } = this
    const backoff = new Backoff(1000, 60_000)
    let refreshed = false
    for (let attempt = 0; ; attempt++) {
      if (options.rate_limit) {
        const wait = this.last + 1000 / options.rate_limit.requests_per_second - Date.now()
        if (wait > 0) await sleep(wait, this.signal)
      }
      this.last = Date.now()
      const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
      const target = new URL(url)
      const auth = options.auth
      if (auth?.type === 'bearer') headers.authorization = `Bearer ${auth.token}`
      if (auth?.type === 'basic')
        headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
      if (auth?.type === 'api_key') {
        if (auth.in === 'header') headers[auth.name] = auth.value
        else target.searchParams.set(auth.name, auth.value)
      }
      if (auth?.type === 'oauth2') headers.authorization = `Bearer ${await this.oauthToken(false)}`
      let response: Response
      try {
        response = await fetch(target, {
          method: options.method,
          headers: options.method === 'POST' ? { ...headers, 'content-type': 'application/json' } : headers,
          ...(options.method === 'POST' && options.body !== undefined
            ? { body: JSON.stringify(options.body) }
            : {}),
          signal: AbortSignal.any([this.signal, AbortSignal.timeout(options.timeout)]),
        })
      } catch (error) {
        if (this.signal.aborted) throw error
        if (attempt >= options.retries)
          throw new SourceError(
            `${options.method} ${url.origin}${url.pathname} failed: ${fetchFailure(error)}`,
            true,
            { cause: error },
          )
        await sleep(backoff.next(), this.signal)
        continue
      }
      if (response.status === 401 && auth?.type === 'oauth2' && !refreshed) {
        refreshed = true
        await this.oauthToken(true)
        continue
      }
      if (response.status === 429 || response.status >= 500) {
        await response.arrayBuffer().catch(() => undefined)
        if (attempt >= options.retries)
          throw new SourceError(
            `${url.origin}${url.pathname} answered HTTP ${response.status} ${attempt + 1} times; giving up for this run`,
            true,
          )
        await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoff.next(), this.signal)
        continue
      }
      if (!response.ok) {
        const hint = response.status === 401 || response.status === 403 ? '; check the credentials' : ''
        throw new SourceError(
          `${url.origin}${url.pathname} answered HTTP ${response.status} ${response.statusText}${hint}`,
          false,
        )
      }
      return {
        body: await boundedBody(response, url, options.max_response_bytes),
        link: response.headers.get('link'),
      }
    }
  }
}

/** Reads a response body, refusing one over `limit` bytes before holding more than that. */
async function boundedBody(response: Response, url: URL, limit: number): Promise<Uint8Array> {
  const tooLarge = (size: string) =>
    new SourceError(
      `${url.origin}${url.pathname} sent a response of ${size}, over max_response_bytes (${limit})`,
      false,
    )
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared > limit) {
    await response.body?.cancel().catch(() => {})
    throw tooLarge(`${declared} bytes`)
  }
  const parts: Uint8Array[] = []
  let size = 0
  for await (const part of response.body ?? []) {
    size += part.byteLength
    if (size > limit) {
      await response.body?.cancel().catch(() => {})
      throw tooLarge(`more than ${limit} bytes`)
    }
    parts.push(part)
  }
  return Buffer.concat(parts, size)
}

export const httpSource = defineSource<HttpOptions>({
  spec: httpSourceSpec,
  open(options, context) {
    let observed: PageState | undefined
    return {
      async *chunks(signal) {
        const requester = new Requester(options, signal)
        const saved = context.cursors.get(CURSOR) as HttpCursor | undefined
        const since = saved?.since ?? options.incremental?.initial
        let resume: Resume = saved?.resume ?? {}
        let max = since
        const p = options.pagination
        for (let page = 0; page < options.max_pages; page++) {
          if (signal.aborted) return
          const url = new URL(resume.url ?? options.url)
          if (!resume.url) {
            for (const [k, v] of Object.entries(options.query)) url.searchParams.set(k, v)
            if (options.incremental && since !== undefined)
              url.searchParams.set(options.incremental.param, since)
            if (p?.type === 'page') {
              url.searchParams.set(p.param, String(resume.page ?? p.start))
              if (p.size_param && p.size) url.searchParams.set(p.size_param, String(p.size))
            }
            if (p?.type === 'offset') {
              url.searchParams.set(p.offset_param, String(resume.offset ?? 0))
              url.searchParams.set(p.limit_param, String(p.limit))
            }
            if (p?.type === 'cursor' && resume.token) url.searchParams.set(p.param, resume.token)
          }
          const { body, link } = await requester.get(url)
          const linked = p?.type === 'link_header' ? nextFromLink(link) : undefined
          if (linked !== undefined && !URL.canParse(linked, options.url))
            throw new SourceError(`the Link header's next page is not a URL: ${linked.slice(0, 200)}`, false)
          observed = undefined
          const current = resume
          const chunk: SourceChunk = {
            bytes: body,
            decodeState: {
              records_path: options.records_path,
              field: options.incremental?.field,
              cursor_path: p?.type === 'cursor' ? p.cursor_path : undefined,
              next_url_path: p?.type === 'next_url' ? p.next_url_path : undefined,
            },
            label: `${url.origin}${url.pathname}`,
            bytesRead: body.length,
            barrier: true,
            cursor: () => {
              const state = observed
              if (state?.max !== undefined && (max === undefined || compare(state.max, max) > 0))
                max = state.max
              const next = state ? nextPage(current, state, link) : undefined
              return [
                {
                  key: CURSOR,
                  value: (next ? { since, resume: next } : { since: max }) satisfies HttpCursor,
                },
              ]
            },
          }
          yield chunk
          const state = observed as PageState | undefined
          if (!state) return
          const next = nextPage(current, state, link)
          if (!next) return
          resume = next
        }
      },
      observe(_chunk, decoded) {
        observed = decoded.state as PageState
      },
      async close() {},
    }

    function nextPage(current: Resume, state: PageState, link: string | null): Resume | undefined {
      const p = options.pagination
      if (!p || state.records === 0) return undefined
      switch (p.type) {
        case 'page':
          return { page: (current.page ?? p.start) + 1 }
        case 'offset':
          return state.records < p.limit ? undefined : { offset: (current.offset ?? 0) + p.limit }
        case 'cursor':
          return state.nextToken ? { token: state.nextToken } : undefined
        case 'link_header': {
          const next = nextFromLink(link)
          return next ? { url: new URL(next, options.url).href } : undefined
        }
        case 'next_url':
          return state.nextUrl ? { url: new URL(state.nextUrl, options.url).href } : undefined
      }
    }
  },

  decode(_options, bytes, decodeState): DecodedRows {
    const state = decodeState as {
      records_path?: string
      field?: string
      cursor_path?: string
      next_url_path?: string
    }
    let body: unknown
    try {
      body = parseJson(new TextDecoder().decode(bytes))
    } catch (error) {
      // The exact-number parser recurses per level of nesting.
      if (error instanceof RangeError)
        throw new SourceError('the response is nested too deeply to read', false)
      throw new SourceError(`the response is not JSON: ${(error as Error).message}`, false)
    }
    const records = at(body, state.records_path)
    if (!Array.isArray(records)) {
      throw new SourceError(
        `${state.records_path ? `records_path ${state.records_path}` : 'the response body'} is ${records === undefined ? 'missing' : records === null ? 'null' : typeof records}, not an array of records`,
        false,
      )
    }
    let max: string | undefined
    if (state.field) {
      for (const r of records) {
        const v = at(r, state.field)
        if (v === null || v === undefined) continue
        const text = v instanceof DecimalText ? v.text : String(v)
        if (max === undefined || compare(text, max) > 0) max = text
      }
    }
    const token = state.cursor_path ? at(body, state.cursor_path) : undefined
    const nextUrl = state.next_url_path ? at(body, state.next_url_path) : undefined
    // Checked here, where the page is decoded, so a bad one fails this page with its path and
    // not the commit later. Any http(s) base resolves a relative URL the same way.
    if (typeof nextUrl === 'string' && nextUrl !== '' && !URL.canParse(nextUrl, 'http://base.invalid/'))
      throw new SourceError(
        `next_url_path ${state.next_url_path} is ${JSON.stringify(nextUrl.slice(0, 200))}, not a URL`,
        false,
      )
    const rows = rowsFromObjects(records.map(recordOrUnreadable))
    const page: PageState = {
      records: records.length,
      ...(max !== undefined ? { max } : {}),
      ...(typeof token === 'string' && token !== '' ? { nextToken: token } : {}),
      ...(typeof nextUrl === 'string' && nextUrl !== '' ? { nextUrl } : {}),
    }
    return { ...rows, state: page }
  },
})
