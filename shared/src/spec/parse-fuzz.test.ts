// Fuzzing the pipeline spec parser (the control plane's API, `outpost apply` and the console all
// use it): whatever text or value comes in, it answers with a result, never an exception, never
// takes long, and every error it reports says what is wrong and where.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import {
  type ParsedPipeline,
  type ParseResult,
  parsePipeline,
  parsePipelines,
  validatePipeline,
} from './parse.js'

/** A single parse slower than this is treated as a hang. */
const SLOW_MS = 1_500

function expectAnswer(run: () => ParseResult<ParsedPipeline> | ParseResult<ParsedPipeline>[]): void {
  const started = performance.now()
  const results = [run()].flat()
  expect(performance.now() - started).toBeLessThan(SLOW_MS)
  for (const result of results) {
    if (result.ok) continue
    expect(result.errors.length).toBeGreaterThan(0)
    for (const e of result.errors) {
      expect(e.message.trim()).not.toBe('')
      // A field path, or at least the line it is on.
      expect(e.path !== '' || e.line !== undefined, JSON.stringify(e)).toBe(true)
    }
  }
}

/** As a single document (the API, the console) and as a stream of them (`outpost apply -f`). */
function expectTextAnswered(text: string): void {
  expectAnswer(() => parsePipeline(text))
  expectAnswer(() => parsePipelines(text))
}

const VALID = {
  apiVersion: 'outpost/v1',
  kind: 'Pipeline',
  metadata: { name: 'store-sales', labels: { team: 'retail' } },
  spec: {
    description: 'Paid sales.',
    selector: { region: 'eu', role: ['pos', 'kiosk'] },
    schedule: '*/15 * * * *',
    source: {
      type: 'http',
      url: 'https://api.example.com/v1/sales',
      auth: { type: 'bearer', token: '${secret:API}' },
      pagination: { type: 'cursor', cursor_path: 'meta.next' },
      body: { query: { nested: [1, 2, { deep: true }] } },
    },
    transforms: [
      { rename: { cust_id: 'customer_id' } },
      { cast: { amount: 'decimal', sold_at: { type: 'timestamp', timezone: 'Europe/Berlin' } } },
      { filter: "amount > 0.0 && country in ['DE', 'FR']" },
      { derive: { total: 'amount * 2.0', tag: { expr: 'string(amount)', type: 'string' } } },
    ],
    validate: {
      rules: [{ not_null: 'customer_id' }, { regex: 'country', pattern: '^[A-Z]{2}$' }],
      thresholds: { fail: { completeness: 0.5 } },
    },
    sinks: [
      { type: 'file', path: '/out', format: 'ndjson' },
      { type: 'central', table: 'sales' },
    ],
    retry: { attempts: 5, backoff: '2s' },
    timeout: '10m',
  },
}

type Path = (string | number)[]

/** Every path to a value in the document (objects and arrays included). */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix]
  if (value === null || typeof value !== 'object') return out
  for (const [k, v] of Object.entries(value))
    out.push(...pathsOf(v, [...prefix, Array.isArray(value) ? Number(k) : k]))
  return out
}
const PATHS = pathsOf(VALID)

const DEEP = '\u0000DEEP\u0000'

function nested(depth: number, leaf: unknown): unknown {
  let v = leaf
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}

const wrongValue = fc.oneof(
  fc.constantFrom(
    null,
    true,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER * 1024,
    2 ** 64,
    '',
    ' ',
    '${secret:X}',
    '__SECRET_X_',
    '\u0000',
    '🚀',
    [],
    {},
    [null],
    { type: 'nope' },
  ),
  fc.string({ maxLength: 30 }),
  fc.integer({ min: 2, max: 60 }).map((d) => nested(d, 1)),
  fc.jsonValue({ maxDepth: 4 }),
)

type Mutation =
  | { kind: 'set'; path: Path; value: unknown }
  | { kind: 'delete'; path: Path }
  | { kind: 'unknown-key'; path: Path; key: string; value: unknown }
  | { kind: 'deep'; path: Path; depth: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value: wrongValue }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }),
  fc.record({
    kind: fc.constant('unknown-key' as const),
    path: fc.constantFrom(...PATHS),
    key: fc.oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', 'type'),
    ),
    value: wrongValue,
  }),
  fc.record({
    kind: fc.constant('deep' as const),
    path: fc.constantFrom(...PATHS),
    depth: fc.oneof(fc.integer({ min: 50, max: 400 }), fc.integer({ min: 2_000, max: 20_000 })),
  }),
)

function apply(document: unknown, m: Mutation): unknown {
  if (m.path.length === 0) {
    if (m.kind === 'set') return m.value
    if (m.kind === 'deep') return DEEP
    if (m.kind === 'delete') return undefined
  }
  const copy = structuredClone(document) as Record<string | number, unknown>
  let parent: Record<string | number, unknown> = copy
  for (const key of m.path.slice(0, -1)) {
    const next = parent[key]
    // An earlier mutation removed or replaced what this path went through.
    if (next === null || typeof next !== 'object') return copy
    parent = next as Record<string | number, unknown>
  }
  const last = m.path[m.path.length - 1] as string | number
  switch (m.kind) {
    case 'set':
      parent[last] = m.value
      break
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1)
      else delete parent[last]
      break
    case 'unknown-key': {
      const target = m.path.length === 0 ? copy : parent[last]
      if (target !== null && typeof target === 'object' && !Array.isArray(target))
        Object.defineProperty(target, m.key, {
          value: m.value,
          enumerable: true,
          writable: true,
          configurable: true,
        })
      else parent[last] = { [m.key]: m.value }
      break
    }
    case 'deep':
      parent[last] = DEEP
      break
  }
  return copy
}

/** The mutated document as a value, as JSON text and as YAML text; deep nesting spliced into the text. */
function renderings(document: unknown, m: Mutation): { value: unknown; texts: string[] } {
  const depth = m.kind === 'deep' ? m.depth : 0
  const value = JSON.parse(
    JSON.stringify(document ?? null).replace(
      JSON.stringify(DEEP),
      JSON.stringify(nested(Math.min(depth, 300), 0)),
    ),
  ) as unknown
  const open = '['.repeat(depth)
  const close = ']'.repeat(depth)
  const json = (JSON.stringify(document) ?? '').replace(JSON.stringify(DEEP), `${open}0${close}`)
  const yaml = stringify(document ?? null).replace(JSON.stringify(DEEP), `${open}0${close}`)
  return { value: m.kind === 'deep' && depth > 300 ? nested(depth, 0) : value, texts: [json, yaml] }
}

describe('spec parser under fuzzing', () => {
  it(
    'answers any text with a result, never an exception',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })),
          (text) => {
            expectTextAnswered(text)
          },
        ),
        fuzzBudget(1_500, 2.5),
      )
    },
    fuzzTimeout(2.5),
  )

  it(
    'answers YAML-ish token soup (anchors, aliases, tags, flow and block collections, references)',
    () => {
      const token = fc.constantFrom(
        'apiVersion: outpost/v1\n',
        'kind: Pipeline\n',
        'metadata: {name: p}\n',
        'spec:\n',
        '  source: ',
        '  sinks:\n',
        '  - ',
        '{type: csv, path: x}',
        'type: ',
        ': ',
        '- ',
        '\n',
        '  ',
        '\t',
        '{',
        '}',
        '[',
        ']',
        ',',
        '&a ',
        '*a',
        '&b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
        '!!str ',
        '!!binary ',
        '!!map ',
        '!custom ',
        '"',
        "'",
        '#',
        '---\n',
        '...\n',
        '? ',
        '|\n',
        '>-\n',
        '%YAML 1.2\n',
        '${secret:DB}',
        '${secret:',
        '__SECRET_',
        '<<: *a\n',
        '.inf',
        '-.inf',
        '.nan',
        '1e400',
        '0x7fffffffffffffffffff',
        '99999999999999999999999',
        'null',
        '~',
        '\u0000',
        '\uFEFF',
        '\uD800',
        '🚀',
      )
      fc.assert(
        fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
          expectTextAnswered(tokens.join(''))
        }),
        fuzzBudget(1_500, 2.5),
      )
    },
    fuzzTimeout(2.5),
  )

  it(
    'answers a valid spec with a random mutation (wrong types, unknown keys, huge numbers, deep nesting)',
    () => {
      expect(validatePipeline(VALID).ok).toBe(true)
      expect(parsePipeline(stringify(VALID)).ok).toBe(true)
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
          let document: unknown = VALID
          for (const m of mutations.slice(0, -1)) {
            if (m.kind !== 'deep') document = apply(document, m)
            if (document === undefined || document === null || typeof document !== 'object') return
          }
          const last = mutations[mutations.length - 1] as Mutation
          const mutated = apply(document, last)
          const { value, texts } = renderings(mutated, last)
          expectAnswer(() => validatePipeline(value))
          for (const text of texts) {
            expectTextAnswered(text)
          }
        }),
        fuzzBudget(200, 2.5),
      )
    },
    fuzzTimeout(2.5),
  )
})

describe('spec parser: counterexamples found by fuzzing', () => {
  const errorsOf = (r: ParseResult<ParsedPipeline>) => (r.ok ? [] : r.errors)

  it('reports an alias without its anchor at its line instead of throwing', () => {
    expect(errorsOf(parsePipeline('apiVersion: outpost/v1\nkind: *!'))).toEqual([
      {
        path: '',
        message: 'Unresolved alias (the anchor must be set before the alias): !',
        line: 2,
        column: 7,
      },
    ])
    expect(errorsOf(parsePipelines('a: 1\n---\n<<: *a\n')[1] as ParseResult<ParsedPipeline>)).toMatchObject([
      { message: expect.stringContaining('Unresolved alias'), line: 3 },
    ])
  })

  it('refuses a document whose aliases would expand beyond 100 copies', () => {
    const bomb = [
      'a: &a [1, 2]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n')
    expect(errorsOf(parsePipeline(bomb))).toEqual([
      { path: '', message: expect.stringContaining('too many alias references'), line: 2, column: 8 },
    ])
  })

  it('refuses values nested deeper than 64 levels with the path, also for JSON request bodies', () => {
    const spec = (body: unknown) => ({
      ...VALID,
      spec: { ...VALID.spec, source: { type: 'http', url: 'http://x/', body } },
    })
    // 10 000 levels overflowed the stack while the document was being canonicalised.
    expect(errorsOf(validatePipeline(spec(nested(10_000, 0))))).toEqual([
      { path: `spec.source.body.a${'[0].a'.repeat(30)}`, message: 'nested more than 64 levels deep' },
    ])
    expect(validatePipeline(spec(nested(50, 0))).ok).toBe(true)
    const tooDeep = errorsOf(parsePipeline(`spec: ${'['.repeat(5_000)}${']'.repeat(5_000)}`))
    expect(tooDeep.length).toBeGreaterThan(0)
    for (const e of tooDeep)
      expect(e).toMatchObject({ path: '', message: 'nested too deeply to read', line: 1 })
  })

  it('refuses a YAML document that contains itself instead of recursing forever', () => {
    // &a on the mapping, and the mapping merges *a: a cycle once converted.
    expect(errorsOf(parsePipeline('&a\n<<: *a\n'))).toEqual([
      { path: '["<<"]', message: 'contains itself (an alias inside its own anchor)', line: 2, column: 5 },
    ])
    expect(errorsOf(parsePipeline('spec: &s\n  x: [*s]\n'))).toEqual([
      expect.objectContaining({
        path: 'spec.x[0]',
        message: 'contains itself (an alias inside its own anchor)',
      }),
    ])
  })

  it('names an infinite number as such', () => {
    const text = stringify({ ...VALID, spec: { ...VALID.spec, retry: { attempts: 1 } } }).replace(
      'attempts: 1',
      'attempts: 1e400',
    )
    expect(errorsOf(parsePipeline(text))).toEqual([
      expect.objectContaining({
        path: 'spec.retry.attempts',
        message: 'expected number, got number Infinity',
      }),
    ])
  })
})
