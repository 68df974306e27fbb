// The http source against a local HTTP server: every authentication and pagination style, rate
// limits, retries on 429 and 5xx honouring Retry-After, incremental reads, and clear errors.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@outpost/agent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLocal } from '../../agent/src/runtime/local-run.js'
import { SecretResolver } from '../../agent/src/secrets.js'

const log = createLogger({ level: 'error', write: () => {} })
const RECORDS = Array.from({ length: 23 }, (_, i) => ({ id: i + 1, name: `r${i + 1}`, updated: 1000 + i }))

type Handler = (req: IncomingMessage, url: URL, res: ServerResponse) => void
const routes = new Map<string, Handler>()
const hits = new Map<string, number[]>()

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

describe('http source', () => {
  let server: Server
  let base: string
  let work: string
  const secrets = new SecretResolver({
    env: {
      OUTPOST_SECRET_TOKEN: 's3cret-token',
      OUTPOST_SECRET_PASS: 'pa55',
      OUTPOST_SECRET_CLIENT: 'client-secret',
    },
  })

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-http-'))
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const times = hits.get(url.pathname) ?? []
      times.push(Date.now())
      hits.set(url.pathname, times)
      const handler = routes.get(url.pathname)
      if (!handler) {
        res.writeHead(404).end()
        return
      }
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => handler(Object.assign(req, { body }), url, res))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`

    // bearer + page numbers
    routes.set('/bearer', (req, url, res) => {
      if (req.headers.authorization !== 'Bearer s3cret-token') return void res.writeHead(401).end()
      const page = Number(url.searchParams.get('page'))
      json(res, { data: RECORDS.slice((page - 1) * 10, page * 10) })
    })
    // basic + offset/limit
    routes.set('/basic', (req, url, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('me:pa55').toString('base64')}`)
        return void res.writeHead(401).end()
      const offset = Number(url.searchParams.get('offset'))
      const limit = Number(url.searchParams.get('limit'))
      json(res, RECORDS.slice(offset, offset + limit))
    })
    // api key in the query + cursor token in the body
    routes.set('/apikey', (_req, url, res) => {
      if (url.searchParams.get('key') !== 's3cret-token') return void res.writeHead(403).end()
      const from = Number(url.searchParams.get('cursor') ?? 0)
      json(res, {
        items: RECORDS.slice(from, from + 8),
        meta: { next: from + 8 < RECORDS.length ? String(from + 8) : null },
      })
    })
    // api key header + Link header
    routes.set('/link', (req, url, res) => {
      if (req.headers['x-api-key'] !== 's3cret-token') return void res.writeHead(403).end()
      const page = Number(url.searchParams.get('p') ?? 1)
      const link = page * 10 < RECORDS.length ? { link: `<${base}/link?p=${page + 1}>; rel="next"` } : {}
      json(res, RECORDS.slice((page - 1) * 10, page * 10), link)
    })
    // OAuth2 client credentials + next URL in the body
    let issued = 0
    routes.set('/token', (req, _url, res) => {
      const form = new URLSearchParams((req as unknown as { body: string }).body)
      if (form.get('client_secret') !== 'client-secret' || form.get('grant_type') !== 'client_credentials')
        return void res.writeHead(401).end()
      issued++
      json(res, { access_token: `tok-${issued}`, expires_in: 3600 })
    })
    routes.set('/oauth', (req, url, res) => {
      if (!/^Bearer tok-\d+$/.test(req.headers.authorization ?? '')) return void res.writeHead(401).end()
      const page = Number(url.searchParams.get('page') ?? 1)
      json(res, {
        results: RECORDS.slice((page - 1) * 12, page * 12),
        next: page * 12 < RECORDS.length ? `/oauth?page=${page + 1}` : null,
      })
    })
    // 503 then 429 with Retry-After, then data
    let flaky = 0
    routes.set('/flaky', (_req, _url, res) => {
      flaky++
      if (flaky === 1) return void res.writeHead(503).end()
      if (flaky === 2) return void res.writeHead(429, { 'retry-after': '1' }).end()
      json(res, RECORDS.slice(0, 5))
    })
    routes.set('/storm', (_req, _url, res) => void res.writeHead(500).end())
    routes.set('/shape', (_req, _url, res) => json(res, { data: { oops: true } }))
    // incremental: records updated after ?since=
    routes.set('/since', (_req, url, res) => {
      const since = Number(url.searchParams.get('since') ?? 0)
      json(
        res,
        RECORDS.filter((r) => r.updated > since),
      )
    })
    routes.set('/rate', (_req, url, res) => {
      const page = Number(url.searchParams.get('page'))
      json(res, page <= 5 ? [{ id: page }] : [])
    })
  })

  afterAll(async () => {
    await new Promise((r) => server.close(r))
    rmSync(work, { recursive: true, force: true })
  })

  let n = 0
  async function load(source: string, stateDir?: string, name = `http-${n + 1}`) {
    const out = join(work, `out-${++n}`)
    const spec = `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: ${name} }\nspec:\n  source: ${source}\n  sinks: [{ type: file, path: ${out}, format: ndjson }]\n`
    const result = await runLocal(spec, { log, secrets, threads: 1, ...(stateDir ? { stateDir } : {}) })
    if (result.kind !== 'ran') throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('; '))
    let ids: number[] = []
    try {
      ids = readdirSync(out, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').split('\n').filter(Boolean))
        .map((l) => (JSON.parse(l) as { id: number }).id)
        .sort((a, b) => a - b)
    } catch {
      ids = []
    }
    return { report: result.report, ids }
  }
  const all = RECORDS.map((r) => r.id)

  it('bearer token with page numbers', async () => {
    const r = await load(
      `{ type: http, url: "${base}/bearer", auth: { type: bearer, token: "\${secret:TOKEN}" }, records_path: data, pagination: { type: page } }`,
    )
    expect(r.ids).toEqual(all)
  })

  it('basic auth with offset and limit', async () => {
    const r = await load(
      `{ type: http, url: "${base}/basic", auth: { type: basic, username: me, password: "\${secret:PASS}" }, pagination: { type: offset, limit: 5 } }`,
    )
    expect(r.ids).toEqual(all)
  })

  it('API key in the query with a cursor token in the body', async () => {
    const r = await load(
      `{ type: http, url: "${base}/apikey", auth: { type: api_key, name: key, in: query, value: "\${secret:TOKEN}" }, records_path: items, pagination: { type: cursor, cursor_path: meta.next } }`,
    )
    expect(r.ids).toEqual(all)
  })

  it('API key header with the Link header', async () => {
    const r = await load(
      `{ type: http, url: "${base}/link", auth: { type: api_key, name: X-API-Key, value: "\${secret:TOKEN}" }, pagination: { type: link_header } }`,
    )
    expect(r.ids).toEqual(all)
  })

  it('OAuth2 client credentials with a next URL in the body', async () => {
    const r = await load(
      `{ type: http, url: "${base}/oauth", auth: { type: oauth2, token_url: "${base}/token", client_id: me, client_secret: "\${secret:CLIENT}" }, records_path: results, pagination: { type: next_url, next_url_path: next } }`,
    )
    expect(r.ids).toEqual(all)
  })

  it('retries 5xx and 429, honouring Retry-After', async () => {
    const started = Date.now()
    const r = await load(`{ type: http, url: "${base}/flaky", retries: 3 }`)
    expect(r.ids).toEqual([1, 2, 3, 4, 5])
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
    expect(hits.get('/flaky')?.length).toBe(3)
  })

  it('keeps to the rate limit', async () => {
    const r = await load(
      `{ type: http, url: "${base}/rate", pagination: { type: page }, rate_limit: { requests_per_second: 10 } }`,
    )
    expect(r.ids).toEqual([1, 2, 3, 4, 5])
    const times = hits.get('/rate') ?? []
    expect(times.length).toBe(6)
    expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThanOrEqual(480)
  })

  it('reads incrementally by a field', async () => {
    const state = join(work, 'since-state')
    const first = await load(
      `{ type: http, url: "${base}/since", incremental: { field: updated, param: since, initial: "1010" } }`,
      state,
      'since',
    )
    expect(first.ids).toEqual(all.slice(11))
    const second = await load(
      `{ type: http, url: "${base}/since", incremental: { field: updated, param: since, initial: "1010" } }`,
      state,
      'since',
    )
    expect(second.ids).toEqual([])
    RECORDS.push({ id: 24, name: 'r24', updated: 2000 })
    const third = await load(
      `{ type: http, url: "${base}/since", incremental: { field: updated, param: since, initial: "1010" } }`,
      state,
      'since',
    )
    RECORDS.pop()
    expect(third.ids).toEqual([24])
  })

  it('fails clearly on wrong credentials, a 500 storm and a body of the wrong shape', async () => {
    const denied = await load(
      `{ type: http, url: "${base}/bearer", auth: { type: bearer, token: wrong }, records_path: data, pagination: { type: page } }`,
    )
    expect(denied.report.status).toBe('failed')
    expect(denied.report.errors[0]?.message).toContain(
      '/bearer answered HTTP 401 Unauthorized; check the credentials',
    )
    const storm = await load(`{ type: http, url: "${base}/storm", retries: 2 }`)
    expect(storm.report.errors.at(-1)?.message).toContain('/storm answered HTTP 500 3 times')
    const shape = await load(`{ type: http, url: "${base}/shape", records_path: data }`)
    expect(shape.report.errors[0]?.message).toContain('records_path data is object, not an array of records')
  })

  it('refuses a response body over max_response_bytes, declared or streamed', async () => {
    const big = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, pad: 'x'.repeat(50) })))
    routes.set('/big', (_req, _url, res) => json(res, JSON.parse(big)))
    routes.set('/big-chunked', (_req, _url, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      for (let i = 0; i < big.length; i += 4096) res.write(big.slice(i, i + 4096))
      res.end()
    })
    for (const path of ['/big', '/big-chunked']) {
      const r = await load(`{ type: http, url: "${base}${path}", max_response_bytes: 65536 }`)
      expect(r.report.status).toBe('failed')
      expect(r.report.errors[0]?.message).toMatch(/sent a response of .*over max_response_bytes \(65536\)/)
      expect(r.report.rowsRead).toBe(0)
    }
    const fits = await load(`{ type: http, url: "${base}/big" }`)
    expect(fits.report.rowsRead).toBe(2000)
  })

  it('never puts a resolved secret into the run report', async () => {
    const r = await load(`{ type: http, url: "${base}/bearer?leak=\${secret:TOKEN}", records_path: data }`)
    expect(JSON.stringify(r.report)).not.toContain('s3cret-token')
  })
})
