// Fuzzing the HTTP source with what an API might answer: bodies of the wrong shape (records_path
// at a scalar, an object, null or nothing), deep nesting, long arrays of mixed values, numbers
// beyond a double, and bytes that are not JSON at all, served by a real HTTP server. Each page
// either gives rows (odd records quarantined with a reason) or fails with a SourceError that
// names the path or the shape; nothing else escapes the worker's code.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { canonicalJson, SourceError } from '@outpost/shared'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import { createLogger } from '../log.js'
import { CompiledCache } from '../workers/compiled.js'
import { processChunk } from '../workers/process.js'
import { httpSource } from './http.js'

let body: Uint8Array = new Uint8Array()
let link = ''
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', ...(link ? { link } : {}) })
  res.end(body)
})
let base = ''
beforeAll(async () => {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const cache = new CompiledCache()
const log = createLogger({ level: 'error', write: () => {} })

interface Outcome {
  rows: number
  quarantined: { reason: string }[]
  error?: SourceError
}

/** Reads what the server answers, page by page, as a run does: the reader fetches, the worker decodes. */
async function read(source: Record<string, unknown>): Promise<Outcome[]> {
  const document = {
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: 'fuzz' },
    spec: {
      source: { type: 'http', url: `${base}/items`, retries: 0, max_pages: 3, ...source },
      sinks: [
        { type: 'file', path: '/out', format: 'ndjson' },
        { type: 'central', table: 'items' },
      ],
    },
  }
  const specJson = canonicalJson(document)
  const options = httpSource.spec.schema.parse(document.spec.source) as Parameters<typeof httpSource.open>[0]
  const reader = httpSource.open(options, {
    pipeline: 'fuzz',
    cursors: { get: () => undefined },
    log,
    chunkBytes: 1 << 20,
  })
  const outcomes: Outcome[] = []
  // The run stops at the first page it cannot fetch (the reader throws) or decode (the worker does).
  try {
    for await (const chunk of reader.chunks(new AbortController().signal)) {
      const result = await processChunk(cache, {
        type: 'process',
        pipelineKey: specJson,
        specJson,
        bytes: chunk.bytes,
        decodeState: chunk.decodeState,
        meta: {
          agentId: 'agt-1',
          pipeline: 'fuzz',
          version: 1,
          runId: 'r1',
          nowMs: 0,
          maxBatchBytes: 1 << 20,
        },
      })
      const decoded = { records: result.recordCount, state: result.decodeState }
      reader.observe?.(chunk, decoded)
      chunk.cursor({ records: result.recordCount, decoded })
      outcomes.push({ rows: result.rowsPassed, quarantined: result.quarantined })
    }
  } catch (error) {
    outcomes.push({ rows: 0, quarantined: [], error: error as SourceError })
  } finally {
    await reader.close()
  }
  return outcomes
}

function expectClear(outcomes: Outcome[], recordsPath: string | undefined): void {
  expect(outcomes.length).toBeGreaterThan(0)
  for (const o of outcomes) {
    for (const q of o.quarantined) expect(q.reason.trim()).not.toBe('')
    if (!o.error) continue
    expect(o.error, String(o.error)).toBeInstanceOf(SourceError)
    expect(o.error.retryable).toBe(false)
    const shape = recordsPath ? `records_path ${recordsPath} is` : 'the response body is'
    const starts = [
      shape,
      'the response is not JSON',
      'the response is nested too deeply',
      'next_url_path meta.next is',
      "the Link header's next page is not a URL",
    ]
    expect(
      starts.some((start) => o.error?.message.startsWith(start)),
      o.error.message,
    ).toBe(true)
  }
}

const scalar = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, 1.5, 1e308, 'x', '', '\u0000', '🚀', '\uD800'),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 10 }),
)
/** JSON text, including numbers no double holds (JSON.stringify cannot write those). */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar.map((s) => JSON.stringify(s)),
    fc.constantFrom(
      '9223372036854775807',
      '-99999999999999999999.000001',
      '1e400',
      '0.1e-400',
      '12345678901234567',
    ),
    fc.array(tie('v'), { maxLength: 5 }).map((xs) => `[${xs.join(',')}]`),
    fc
      .array(
        fc.tuple(fc.constantFrom('id', 'name', 'a', 'b.c', '', '__proto__', 'constructor', 'é'), tie('v')),
        {
          maxLength: 5,
        },
      )
      .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).v

const deep = fc
  .tuple(fc.integer({ min: 1, max: 50_000 }), fc.constantFrom('[', '{"a":'))
  .map(([n, open]) => `${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}`)

const records = fc.oneof(
  fc.array(jsonText, { maxLength: 20 }).map((xs) => `[${xs.join(',')}]`),
  // A long page of mixed values.
  fc
    .tuple(fc.integer({ min: 1_000, max: 5_000 }), fc.array(jsonText, { minLength: 1, maxLength: 4 }))
    .map(([n, xs]) => `[${Array.from({ length: n }, (_, i) => xs[i % xs.length]).join(',')}]`),
  fc
    .integer({ min: 1, max: 40 })
    .map((n) => `[${Array.from({ length: n }, (_, i) => `{"id":${i},"a":${deepText(i * 150)}}`).join(',')}]`),
  deep,
  jsonText,
)

function deepText(n: number): string {
  return `${'['.repeat(n)}${n}${']'.repeat(n)}`
}

const encode = (text: string) => new TextEncoder().encode(text)

/** What the server answers, and the records_path the pipeline gives. */
const page: fc.Arbitrary<{ answer: Uint8Array; records_path?: string }> = fc.oneof(
  { weight: 3, arbitrary: records.map((r) => ({ answer: encode(r) })) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        records,
        jsonText,
        fc.constantFrom(
          'data',
          'data',
          'data',
          'meta.next',
          'data.a',
          'missing',
          '0',
          '__proto__',
          'constructor',
        ),
      )
      .map(([r, next, path]) => ({
        answer: encode(`{"data":${r},"meta":{"next":${next}}}`),
        records_path: path,
      })),
  },
  // Not JSON: random bytes, cut short, invalid UTF-8 after a BOM.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((answer) => ({ answer })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(records, fc.nat())
      .map(([t, cut]) => ({ answer: encode(t.slice(0, t.length === 0 ? 0 : cut % t.length)) })),
  },
  {
    weight: 1,
    arbitrary: records.map((t) => ({ answer: new Uint8Array([0xef, 0xbb, 0xbf, ...encode(t), 0xff]) })),
  },
)

const paging = fc.record(
  {
    incremental: fc.constant({ field: 'id', param: 'since' }),
    pagination: fc.constantFrom(
      { type: 'cursor', cursor_path: 'meta.next' },
      { type: 'next_url', next_url_path: 'meta.next' },
      { type: 'page' },
      { type: 'offset', limit: 2 },
      { type: 'link_header' },
    ),
  },
  { requiredKeys: [] },
)

/** A Link header as a server might send one (printable ASCII, as HTTP allows). */
const linkHeader = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '<//>; rel="next"',
    '<http://[::1/>; rel=next',
    '</items?page=2>; rel="next"',
    '<>; rel=next',
  ),
  fc
    .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 })
    .map((target) => `<${target}>; rel="next"`),
)

describe('http source under fuzzing', () => {
  it(
    'gives rows or a clear error for whatever JSON (or not) the server answers',
    async () => {
      await fc.assert(
        fc.asyncProperty(page, paging, linkHeader, async ({ answer, records_path }, options, next) => {
          body = answer
          link = next
          const source = records_path === undefined ? options : { ...options, records_path }
          expectClear(await read(source), records_path)
        }),
        fuzzBudget(200, 5),
      )
    },
    fuzzTimeout(5),
  )
})

describe('http source: counterexamples found by fuzzing', () => {
  it('fails the page with the path when the next page URL is not a URL, instead of throwing at commit', async () => {
    link = '<//>; rel="next"'
    body = encode('[{"id":1}]')
    const linked = await read({ pagination: { type: 'link_header' } })
    expect(linked[0]?.error?.message).toBe("the Link header's next page is not a URL: //")
    link = ''
    body = encode('{"data":[null],"meta":{"next":"//"}}')
    const pages = await read({
      records_path: 'data',
      pagination: { type: 'next_url', next_url_path: 'meta.next' },
    })
    expect(pages).toHaveLength(1)
    expect(pages[0]?.error).toBeInstanceOf(SourceError)
    expect(pages[0]?.error?.message).toBe('next_url_path meta.next is "//", not a URL')
  })

  it('quarantines a record nested too deeply to keep as JSON; the other records are read', async () => {
    body = encode(`[{"id":1,"a":${deepText(20_000)}},{"id":2,"a":[1]}]`)
    const [page] = await read({})
    expect(page).toMatchObject({
      rows: 1,
      quarantined: [{ record: 0, rule: 'parse', reason: 'a value is nested too deeply to keep as JSON' }],
    })
    body = encode(`{"data":${deepText(50_000)}}`)
    expect((await read({ records_path: 'data' }))[0]?.quarantined).toEqual([
      expect.objectContaining({ record: 0, reason: 'expected a JSON object, got an array', value: '' }),
    ])
    body = encode(`{"data":[${deepText(50_000)}],"big":12345678901234567890}`)
    expect((await read({ records_path: 'data' }))[0]?.error?.message).toBe(
      'the response is nested too deeply to read',
    )
  })

  it('names an array where a record should be, and looks records_path up in the body only', async () => {
    body = encode('[[1, 2], {"id": 1}]')
    expect((await read({}))[0]?.quarantined).toEqual([
      expect.objectContaining({ record: 0, reason: 'expected a JSON object, got an array' }),
    ])
    body = encode('{"data": []}')
    expect((await read({ records_path: 'constructor' }))[0]?.error?.message).toBe(
      'records_path constructor is missing, not an array of records',
    )
  })
})
