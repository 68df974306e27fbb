import { describe, expect, it } from 'vitest'
import { formatSpecError, MAX_SPEC_BYTES, parsePipeline, parsePipelines, validatePipeline } from './parse.js'

const valid = `apiVersion: outpost/v1
kind: Pipeline
metadata:
  name: store-sales
  labels: { team: retail }
spec:
  selector: { region: eu, role: [pos, kiosk] }
  schedule: "*/15 * * * *"
  source:
    type: csv
    path: /data/sales/*.csv
  transforms:
    - rename: { cust_id: customer_id }
    - cast: { amount: decimal, sold_at: { type: timestamp, timezone: Europe/Berlin } }
    - filter: "amount > 0.0 && country in ['DE', 'FR']"
  sinks:
    - { type: file, path: /out, format: ndjson }
  retry: { attempts: 5, backoff: 2s }
  timeout: 10m
`

function errorsOf(text: string) {
  const r = parsePipeline(text)
  if (r.ok) throw new Error('expected errors')
  return r.errors
}

describe('parsePipeline', () => {
  it('accepts a full spec and fills in defaults', () => {
    const r = parsePipeline(valid)
    expect(r.ok).toBe(true)
    const spec = r.value!.pipeline.spec
    expect(spec.retry).toEqual({ attempts: 5, backoff: 2000 })
    expect(spec.timeout).toBe(600_000)
    expect(spec.source).toMatchObject({ type: 'csv', header: true, delimiter: ',' })
    expect(spec.sinks[0]).toMatchObject({ type: 'file', format: 'ndjson' })
  })

  it('accepts JSON and YAML of the same document with the same canonical form', () => {
    const fromYaml = parsePipeline(valid)
    const json = JSON.stringify(JSON.parse(fromYaml.value!.canonical))
    const fromJson = parsePipeline(json)
    expect(fromJson.ok).toBe(true)
    expect(fromJson.value!.canonical).toBe(fromYaml.value!.canonical)
    // Key order does not change the canonical text.
    expect(validatePipeline({ kind: 'Pipeline', ...JSON.parse(json) }).value!.canonical).toBe(
      fromYaml.value!.canonical,
    )
  })

  it('names the path and line of every error, and refuses unknown fields', () => {
    const errors = errorsOf(`apiVersion: outpost/v1
kind: Pipeline
metadata:
  name: Store Sales
spec:
  bogus: 1
  source:
    type: csv
    delimiter: ";;"
  sinks:
    - type: file
      format: xml
    - type: s3
`)
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e]))
    expect(byPath['metadata.name']).toMatchObject({ line: 4 })
    expect(byPath['spec.bogus']).toMatchObject({ message: 'unknown field', line: 6 })
    expect(byPath['spec.source.path']).toMatchObject({ message: 'required', line: 7 })
    expect(byPath['spec.source.delimiter']).toMatchObject({
      message: 'delimiter must be exactly one character',
      line: 9,
    })
    expect(byPath['spec.sinks[0].path']).toMatchObject({ message: 'required', line: 11 })
    expect(byPath['spec.sinks[0].format']?.message).toBe(
      'expected one of "csv", "ndjson", "parquet", got "xml"',
    )
    expect(byPath['spec.sinks[1].type']?.message).toContain('unknown type "s3"')
    expect(formatSpecError(byPath['spec.sinks[0].path']!)).toBe(
      'spec.sinks[0].path: required (line 11, column 7)',
    )
  })

  it('reports the problem of the transform that is named, not of every alternative', () => {
    const errors = errorsOf(`apiVersion: outpost/v1
kind: Pipeline
metadata: { name: t }
spec:
  source: { type: csv, path: x.csv }
  sinks: [{ type: file, path: out }]
  transforms:
    - rename: { a: 1 }
    - nope: 1
    - { filter: "a > 1", cast: { a: int } }
    - cast: { a: { type: timestamp, fmt: x } }
`)
    const list =
      'rename, select, drop, cast, trim, fill, filter, derive, dedupe, lookup, aggregate, mask, add_metadata, outliers'
    expect(errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'spec.transforms[0].rename.a: expected string, got number 1',
      `spec.transforms[1].nope: unknown transform: expected one of ${list}`,
      `spec.transforms[2]: a transform has exactly one key (one of ${list}); found filter, cast`,
      'spec.transforms[3].cast.a.fmt: unknown field',
    ])
  })

  it('refuses an invalid CEL expression, naming the expression and the position', () => {
    const errors = errorsOf(`apiVersion: outpost/v1
kind: Pipeline
metadata: { name: t }
spec:
  source: { type: csv, path: x.csv }
  sinks: [{ type: file, path: out }]
  transforms:
    - filter: "amount > "
`)
    expect(errors).toEqual([
      expect.objectContaining({
        path: 'spec.transforms[0].filter',
        message: 'invalid CEL expression "amount > " at position 10: Unexpected token: EOF',
        line: 8,
      }),
    ])
  })

  it('refuses schedules that are invalid or never fire', () => {
    const base = (schedule: string) =>
      `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: t }\nspec:\n  schedule: ${schedule}\n  source: { type: csv, path: x }\n  sinks: [{ type: file, path: o }]\n`
    expect(errorsOf(base('"0 0 30 2 *"'))[0]?.message).toBe('cron "0 0 30 2 *" never fires')
    expect(errorsOf(base('"61 * * * *"'))[0]?.message).toContain('invalid cron')
    expect(errorsOf(base('{ every: 10x }'))[0]).toMatchObject({ path: 'spec.schedule.every' })
    expect(errorsOf(base('{ cron: "* * * * *", timezone: Mars/Olympus }'))[0]).toMatchObject({
      path: 'spec.schedule.timezone',
      message: 'unknown time zone "Mars/Olympus"',
    })
    expect(parsePipeline(base('{ cron: "0 6 * * *", timezone: Europe/Berlin }')).ok).toBe(true)
    expect(parsePipeline(base('manual')).ok).toBe(true)
  })

  it('requires columns when a CSV has no header', () => {
    const errors = errorsOf(
      `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: t }\nspec:\n  source: { type: csv, path: x, header: false }\n  sinks: [{ type: file, path: o }]\n`,
    )
    expect(errors).toEqual([
      expect.objectContaining({ path: 'spec.source.columns', message: 'required when header is false' }),
    ])
  })

  it('reports YAML syntax errors with their line and non-documents clearly', () => {
    expect(errorsOf('a: [1, 2')[0]).toMatchObject({ line: 1 })
    expect(errorsOf('a: 1\na: 2')[0]?.message).toContain('unique')
    expect(errorsOf('- 1')[0]?.message).toContain('expected a Pipeline document')
    expect(errorsOf('')[0]?.message).toContain('expected a Pipeline document')
  })

  it('refuses a spec over 256 KiB, as written or as stored, naming its size and the limit', () => {
    const padded = `${valid}# ${'x'.repeat(MAX_SPEC_BYTES)}\n`
    expect(errorsOf(padded)).toEqual([
      {
        path: '',
        message: `the pipeline spec is ${Buffer.byteLength(padded)} bytes as written; specs may be at most 262144 bytes (256 KiB)`,
      },
    ])
    // Many short renames: small enough as YAML lines are, too large once stored.
    const renames = Object.fromEntries(
      Array.from({ length: 20_000 }, (_, i) => [`column_${i}`, `renamed_${i}`]),
    )
    const doc = JSON.parse(parsePipeline(valid).value!.canonical)
    doc.spec.transforms = [{ rename: renames }]
    const result = validatePipeline(doc)
    expect(result.ok).toBe(false)
    expect(result.errors?.[0]?.message).toMatch(
      /^the pipeline spec is \d+ bytes as JSON; specs may be at most 262144 bytes/,
    )
    // Just under the limit is fine.
    expect(parsePipeline(`${valid}# ${'x'.repeat(MAX_SPEC_BYTES - valid.length - 10)}\n`).ok).toBe(true)
  })

  it('splits a stream of several documents', () => {
    const results = parsePipelines(`${valid}---\n${valid.replace('store-sales', 'other')}---\nkind: nope\n`)
    expect(results.map((r) => r.ok)).toEqual([true, true, false])
  })
})

describe('secret references', () => {
  it('parses ${secret:NAME} anywhere, also inside flow mappings, and keeps lines right', () => {
    const r = parsePipeline(`apiVersion: outpost/v1
kind: Pipeline
metadata: { name: s }
spec:
  source: { type: csv, path: \${secret:DROP_DIR}/in.csv }
  sinks: [{ type: file, path: "/out/\${secret:SUB_DIR}" }]
`)
    expect(r.ok).toBe(true)
    expect(r.value!.pipeline.spec.source).toMatchObject({ path: '${secret:DROP_DIR}/in.csv' })
    expect(r.value!.canonical).toContain('"path":"/out/${secret:SUB_DIR}"')
    const bad = parsePipeline(
      `apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: s }\nspec:\n  source: { type: csv, path: \${secret:X}, bogus: 1 }\n  sinks: [{ type: file, path: o }]\n`,
    )
    expect(bad.errors?.[0]).toMatchObject({ path: 'spec.source.bogus', line: 5, column: 43 })
  })
})
