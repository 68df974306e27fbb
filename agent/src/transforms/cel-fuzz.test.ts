// Fuzzing CEL as filter and derive use it: any expression text is either accepted or refused
// with a message; an accepted expression, run over rows of awkward values (nulls, 64-bit ints,
// NaN, lone surrogates, dates out of range), keeps, filters or quarantines every row with a
// reason, never throws out of the step, and what it produces encodes into a batch.
import { celProblem, compileCel } from '@outpost/shared'
import { type Column, decodeColumns, encodeColumns, type Value } from '@outpost/shared/batch'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import { deriveTransform } from './derive.js'
import { filterTransform } from './filter.js'
import { TEST_CONTEXT } from './test-chain.js'
import { type Rejection, TransformConfigError } from './types.js'

const COLUMNS: Column[] = [
  { name: 'i', type: 'int' },
  { name: 'f', type: 'float' },
  { name: 'd', type: 'decimal' },
  { name: 's', type: 'string' },
  { name: 'b', type: 'bool' },
  { name: 't', type: 'timestamp' },
  { name: 'day', type: 'date' },
  { name: 'j', type: 'json' },
  { name: 'raw', type: 'bytes' },
]

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const awkwardText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', '\uD800', '\u0000', 'NaN', '1e400', '-0', '9223372036854775808', 'é', '🚀'),
)

/** A cell of each column type, as sources and casts make them; null often. */
const cell: Record<string, fc.Arbitrary<Value>> = {
  i: fc.oneof(
    fc.integer(),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0),
    fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).filter((v) => !Number.isSafeInteger(Number(v))),
  ),
  f: fc.double(),
  d: fc.oneof(
    fc.double().map(String),
    fc.constantFrom('0.1', '-0', '1e400', 'NaN', '123456789012345678901234.5'),
  ),
  s: awkwardText,
  b: fc.boolean(),
  // Microseconds; the extremes are beyond what a JavaScript Date holds.
  t: fc.oneof(
    fc.integer({ min: -62_135_596_800_000_000, max: 253_402_300_799_000_000 }),
    fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  ),
  day: fc.integer({ min: -200_000_000, max: 200_000_000 }),
  j: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.constantFrom('{', 'nul', '[1,', '"\\uD800"', '{"a":null}', '12345678901234567890'),
  ),
  raw: fc.uint8Array({ maxLength: 8 }),
}

const row: fc.Arbitrary<Value[]> = fc.tuple(
  ...COLUMNS.map((c) => fc.option(cell[c.name] as fc.Arbitrary<Value>, { freq: 4 })),
)

const stringLiteral = awkwardText.map((s) => JSON.stringify(s))

const literal = fc.oneof(
  fc.bigInt({ min: INT64_MIN * 2n, max: INT64_MAX * 2n }).map(String),
  fc.integer({ min: -5, max: 5 }).map(String),
  fc.bigInt({ min: 0n, max: 2n ** 64n }).map((v) => `${v}u`),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .map((v) => (Number.isInteger(v) ? `${v}.0` : String(v))),
  fc.constantFrom(
    'double("NaN")',
    'double("inf")',
    '-0.0',
    '1e308',
    '0x7fffffffffffffff',
    'null',
    'true',
    'false',
  ),
  stringLiteral,
  fc.constantFrom('b"\\xff\\x00"', 'b""', "'''multi\nline'''", 'r"\\d+"'),
  fc.constantFrom(
    'timestamp("2024-02-29T12:00:00Z")',
    'timestamp("0001-01-01T00:00:00Z")',
    'timestamp("9999-12-31T23:59:59Z")',
    'duration("1h")',
    'duration("-87600h")',
  ),
)

const variable = fc.constantFrom(...COLUMNS.map((c) => c.name), 'now', 'missing')

/** Well-formed CEL (mostly; a wrong type is a runtime error, which is the point). */
const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => {
  const e = tie('e')
  return {
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      variable,
      literal,
      fc.tuple(fc.constantFrom('-', '!'), e).map(([op, x]) => `${op}(${x})`),
      fc
        .tuple(
          e,
          fc.constantFrom('+', '-', '*', '/', '%', '==', '!=', '<', '<=', '>', '>=', '&&', '||', 'in'),
          e,
        )
        .map(([a, op, b]) => `(${a} ${op} ${b})`),
      fc.tuple(e, e, e).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
      fc
        .tuple(
          fc.constantFrom(
            'size',
            'string',
            'int',
            'uint',
            'double',
            'bytes',
            'timestamp',
            'duration',
            'dyn',
            'type',
          ),
          e,
        )
        .map(([f, x]) => `${f}(${x})`),
      fc
        .tuple(
          e,
          fc.constantFrom('startsWith', 'endsWith', 'contains', 'matches', 'getFullYear', 'getHours'),
          e,
        )
        .map(([x, m, y]) => (m.startsWith('get') ? `${x}.${m}()` : `${x}.${m}(${y})`)),
      fc.tuple(e, e).map(([x, y]) => `${x}[${y}]`),
      fc.tuple(e, fc.constantFrom('a', 'x', 'length')).map(([x, f]) => `${x}.${f}`),
      fc.tuple(e, fc.constantFrom('a', 'x')).map(([x, f]) => `has(${x}.${f})`),
      fc.array(e, { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
      fc
        .array(fc.tuple(e, e), { maxLength: 2 })
        .map((kv) => `{${kv.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
      fc
        .tuple(e, fc.constantFrom('exists', 'all', 'exists_one', 'map', 'filter'), e)
        .map(([list, macro, body]) => `${list}.${macro}(v, ${body.replaceAll('missing', 'v')})`),
    ),
  }
}).e

/** Filter and derive bound and run as in a pipeline; every row is accounted for and the output encodes. */
function runSteps(expr: string, rows: Value[][]): void {
  const check = (
    step: { bind: typeof filterTransform.bind } | { bind: typeof deriveTransform.bind },
    options: unknown,
  ) => {
    let bound: ReturnType<typeof filterTransform.bind>
    try {
      bound = (step.bind as (o: unknown, c: Column[], x: { pipeline: string }) => typeof bound)(
        options,
        COLUMNS,
        {
          pipeline: 'p',
        },
      )
    } catch (error) {
      // derive cannot always tell an expression's type; that is refused with a message.
      expect(error).toBeInstanceOf(TransformConfigError)
      expect((error as Error).message).toMatch(/^derive out: /)
      return
    }
    const rejected: Rejection[] = []
    let filtered = 0
    const frame = bound.run(
      { columns: COLUMNS, rows: rows.map((r) => r.slice()), records: rows.map((_, i) => i) },
      { reject: (r) => rejected.push(r), filtered: (n) => (filtered += n) },
      TEST_CONTEXT,
    )
    expect(frame.rows.length + filtered + rejected.length).toBe(rows.length)
    for (const r of rejected) expect(r.reason.trim()).not.toBe('')
    // What the worker does next: the rows become a columnar batch.
    const wire = encodeColumns({ columns: bound.columns, rows: frame.rows })
    expect(decodeColumns(wire, frame.rows.length).rows.length).toBe(frame.rows.length)
  }
  check(filterTransform, expr)
  check(deriveTransform, { out: expr })
  check(deriveTransform, { out: { expr, type: 'string' } })
}

describe('CEL under fuzzing', () => {
  it(
    'accepts an expression or refuses it with a message and a position, for any text',
    () => {
      const soup = fc
        .array(
          fc.oneof(
            fc.string({ maxLength: 4 }),
            fc.constantFrom('(', ')', '[', ']', '{', '}', '.', ',', '?', ':', '"', "'", '\\', 'b"', 'r"'),
            fc.constantFrom('i', 's', 'now', 'has(', 'size(', '.exists(x,', '&&', '||', '!', '-', 'in', 'u'),
          ),
          { maxLength: 40 },
        )
        .map((parts) => parts.join(''))
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 80 }), soup, expression), (text) => {
          const problem = celProblem(text)
          if (problem) {
            expect(problem.message).toMatch(/^invalid CEL expression ".*" at position \d+: \S/s)
            expect(problem.offset).toBeGreaterThanOrEqual(0)
          } else {
            expect(typeof compileCel(text)).toBe('function')
          }
        }),
        fuzzBudget(2_000, 2),
      )
    },
    fuzzTimeout(2),
  )

  it(
    'runs accepted expressions over awkward rows without throwing out of filter or derive',
    () => {
      fc.assert(
        fc.property(expression, fc.array(row, { minLength: 1, maxLength: 6 }), (expr, rows) => {
          fc.pre(expr.length <= 2_000 && celProblem(expr) === undefined)
          runSteps(expr, rows)
        }),
        fuzzBudget(1_000, 4),
      )
    },
    fuzzTimeout(4),
  )
})

describe('CEL: counterexamples found by fuzzing', () => {
  const derive = (options: Parameters<typeof deriveTransform.bind>[0], rows: Value[][]) => {
    const bound = deriveTransform.bind(options, COLUMNS, { pipeline: 'p' })
    const rejected: Rejection[] = []
    const frame = bound.run(
      { columns: COLUMNS, rows, records: rows.map((_, i) => i) },
      { reject: (r) => rejected.push(r), filtered: () => {} },
      TEST_CONTEXT,
    )
    encodeColumns({ columns: bound.columns, rows: frame.rows })
    return { columns: bound.columns, rows: frame.rows, rejected }
  }
  const blank = (values: Record<string, Value>): Value[] => COLUMNS.map((c) => values[c.name] ?? null)

  it('quarantines a row whose date is beyond what a JavaScript Date holds, instead of failing the batch', () => {
    const r = derive({ out: { expr: 'day', type: 'string' } }, [
      blank({ day: -100_000_001 }),
      blank({ day: 19_000 }),
    ])
    expect(r.rows.map((row) => row[COLUMNS.length])).toEqual(['2022-01-08T00:00:00Z'])
    expect(r.rejected).toEqual([
      { record: 0, rule: 'derive', column: 'out', reason: 'derive out "day": timestamp out of range' },
    ])
  })

  it('derives uint values as int cells, and quarantines those beyond the int range', () => {
    const r = derive({ out: 'uint(i)', list: '[1u, 2]' }, [blank({ i: 7 }), blank({ i: 2n ** 62n })])
    expect(r.columns.slice(-2)).toEqual([
      { name: 'out', type: 'int' },
      { name: 'list', type: 'json' },
    ])
    expect(r.rows.map((row) => row.slice(-2))).toEqual([
      [7, '[1,2]'],
      [2n ** 62n, '[1,2]'],
    ])
    const big = derive({ out: '18446744073709551615u' }, [blank({})])
    expect(big.rows).toEqual([])
    expect(big.rejected).toEqual([
      expect.objectContaining({
        reason: 'derive out "18446744073709551615u": 18446744073709551615 is beyond the range of int',
      }),
    ])
  })

  it('writes a duration inside a json result as CEL text', () => {
    expect(derive({ out: '{"wait": duration("90s")}' }, [blank({})]).rows[0]?.at(-1)).toBe('{"wait":"90s"}')
  })
})
