// The compiled subset against cel-js: for random expressions of the subset over random rows, the
// closure returns what cel-js returns (same JS value, ints as bigint) or throws where it throws.
import { compileCel } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fuzzBudget, fuzzTimeout } from '../../../test/helpers/fuzz.js'
import { CelRowError, compileRowCel } from './cel-compile.js'
import { celOverRows, describeCelError, referencedColumns } from './cel-values.js'

const COLUMNS: Column[] = [
  { name: 'i', type: 'int' },
  { name: 'j', type: 'int' },
  { name: 'f', type: 'float' },
  { name: 'd', type: 'decimal' },
  { name: 's', type: 'string' },
  { name: 'e', type: 'string' },
  { name: 'b', type: 'bool' },
  { name: 't', type: 'timestamp' },
]
const NOW = new Date('2026-01-01T00:00:00Z')

type Outcome = { value: unknown } | { threw: string }

function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() }
  } catch (error) {
    return { threw: describeCelError(error) }
  }
}

/** Both programs over one row: cel-js as filter and derive run it, and the compiled closure. */
function both(expression: string, columns: Column[] = COLUMNS) {
  const used = referencedColumns(expression, columns)
  const compiled = compileRowCel(expression, used)
  // Text cel-js cannot parse (a lone surrogate in a literal) is not compiled either.
  let program: ReturnType<typeof compileCel>
  try {
    program = compileCel(expression)
  } catch (error) {
    expect(compiled).toBeUndefined()
    program = () => {
      throw error
    }
  }
  const interpreted = celOverRows(program, used, NOW)
  return {
    compiled,
    cel: (row: Value[]) => outcome(() => interpreted(row)),
    mine: (row: Value[]) => outcome(() => (compiled as NonNullable<typeof compiled>)(row)),
  }
}

/** The same outcome: Object.is on the value (NaN, -0, bigint against number all count). */
function expectSame(mine: Outcome, cel: Outcome, context: string): void {
  if ('threw' in cel) {
    expect('threw' in mine ? 'threw' : mine, context).toBe('threw')
    // Where cel-js's wording is specific, ours is the same.
    if (/^(integer overflow|division by zero|modulo by zero|No such key)/.test(cel.threw))
      expect((mine as { threw: string }).threw, context).toBe(cel.threw)
    return
  }
  expect('value' in mine, `${context}: threw ${(mine as { threw?: string }).threw}`).toBe(true)
  const a = (mine as { value: unknown }).value
  const b = cel.value
  expect(typeof a, context).toBe(typeof b)
  expect(Object.is(a, b), `${context}: ${String(a)} vs ${String(b)}`).toBe(true)
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const edgeInts = [
  0n,
  1n,
  -1n,
  2n,
  7n,
  2n ** 53n - 1n,
  2n ** 53n,
  -(2n ** 53n),
  2n ** 62n,
  INT64_MAX,
  INT64_MIN,
]
const text = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.constantFrom(
    '',
    '@',
    'a@b',
    'x@y@z',
    '@@',
    'é@🚀',
    '\uD800',
    ' 1',
    '12',
    '-0',
    'NaN',
    'inf',
    '0x10',
    '1e3',
  ),
)

/** Cells as sources and casts make them; null often. */
const cells: Record<string, fc.Arbitrary<Value>> = {
  i: fc.oneof(
    fc.integer({ min: -20, max: 20 }),
    fc.constantFrom(...edgeInts).map((v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v)),
    fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  ),
  f: fc.oneof(fc.double(), fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, 1.5, -2.5)),
  d: fc.oneof(fc.double().map(String), fc.constantFrom('0.1', '-0', '1e400', 'NaN', '500.01', '0')),
  s: text,
  b: fc.boolean(),
  t: fc.integer({ min: 0, max: 2 ** 50 }),
}
cells.j = cells.i as fc.Arbitrary<Value>
cells.e = cells.s as fc.Arbitrary<Value>

const row: fc.Arbitrary<Value[]> = fc.tuple(
  ...COLUMNS.map((c) => fc.option(cells[c.name] as fc.Arbitrary<Value>, { freq: 4 })),
)

const intLiteral = fc.oneof(
  fc.integer({ min: -5, max: 9 }).map(String),
  fc.constantFrom(...edgeInts).map(String),
  fc.constant('0x7fffffffffffffff'),
)
const doubleLiteral = fc.oneof(
  fc.constantFrom('0.0', '-0.0', '1.5', '500.0', '1e308', '-2.5', '0.1'),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .map((v) => (/^-?\d+$/.test(String(v)) ? `${v}.0` : String(v))),
)
const stringLiteral = text.map((s) => JSON.stringify(s))

/** Expressions of the subset, by the kind of value they make; a few outside it too. */
const exprs = fc.letrec<{ int: string; double: string; string: string; bool: string; any: string }>((tie) => {
  const int = tie('int')
  const double = tie('double')
  const str = tie('string')
  const bool = tie('bool')
  const pick = <T>(...xs: fc.Arbitrary<T>[]) => fc.oneof({ depthSize: 'small', withCrossShrink: true }, ...xs)
  const op = (a: fc.Arbitrary<string>, ops: string[], b: fc.Arbitrary<string>) =>
    fc.tuple(a, fc.constantFrom(...ops), b).map(([x, o, y]) => `(${x} ${o} ${y})`)
  const ternary = (x: fc.Arbitrary<string>) =>
    fc
      .tuple(bool, x, fc.oneof({ arbitrary: x, weight: 4 }, { arbitrary: fc.constant('null'), weight: 1 }))
      .map(([c, a, b]) => `(${c} ? ${a} : ${b})`)
  const numeric = fc.oneof(int, double)
  return {
    int: pick(
      fc.constantFrom('i', 'j'),
      intLiteral,
      op(int, ['+', '-', '*', '/', '%'], int),
      int.map((x) => `-${x}`),
      fc.oneof(int, double, str).map((x) => `int(${x})`),
      str.map((x) => `size(${x})`),
      str.map((x) => `${x}.size()`),
      ternary(int),
    ),
    double: pick(
      fc.constantFrom('f', 'd'),
      doubleLiteral,
      op(double, ['+', '-', '*', '/'], double),
      double.map((x) => `-${x}`),
      fc.oneof(int, double, str).map((x) => `double(${x})`),
      ternary(double),
    ),
    string: pick(
      fc.constantFrom('s', 'e'),
      stringLiteral,
      op(str, ['+'], str),
      fc.oneof(int, double, str, bool).map((x) => `string(${x})`),
      fc
        .tuple(str, fc.oneof(fc.constantFrom('"@"', '""', '"x"'), str), fc.oneof(intLiteral, int))
        .map(([x, sep, k]) => `${x}.split(${sep})[${k}]`),
      ternary(str),
    ),
    bool: pick(
      fc.constantFrom('b', 'true', 'false'),
      op(numeric, ['<', '<=', '>', '>='], numeric),
      op(str, ['<', '>=', '==', '!='], str),
      op(int, ['==', '!='], int),
      op(double, ['==', '!='], double),
      op(bool, ['==', '!=', '&&', '||', '&&', '||'], bool),
      // Only a dyn (a column) compares with null: cel-js refuses "" == null when it checks.
      fc.constantFrom('i', 'f', 'd', 's', 'b').map((x) => `(${x} == null)`),
      bool.map((x) => `!${x}`),
      fc
        .tuple(str, fc.constantFrom('contains', 'startsWith', 'endsWith'), str)
        .map(([x, m, y]) => `${x}.${m}(${y})`),
      fc.tuple(int, fc.array(int, { maxLength: 3 })).map(([x, xs]) => `(${x} in [${xs.join(', ')}])`),
      fc.tuple(str, fc.array(str, { maxLength: 3 })).map(([x, xs]) => `(${x} in [${xs.join(', ')}])`),
      fc.tuple(double, fc.array(double, { maxLength: 2 })).map(([x, xs]) => `(${x} in [${xs.join(', ')}])`),
      ternary(bool),
    ),
    // Outside the subset, or ill-typed: these must fall back (or agree, if they compile).
    any: pick(
      int,
      double,
      str,
      bool,
      fc.constantFrom(
        't',
        'now',
        'missing',
        '[1, 2]',
        's.matches("a")',
        '5u',
        'i + f',
        'f == i',
        'b ? i : s',
      ),
      fc.tuple(int, double).map(([x, y]) => `(${x} == ${y})`),
    ),
  }
})

describe('compiled CEL', () => {
  it(
    'agrees with cel-js on every row for random expressions of the subset',
    () => {
      let total = 0
      let compiled = 0
      fc.assert(
        fc.property(exprs.any, fc.array(row, { minLength: 1, maxLength: 8 }), (expression, rows) => {
          const pair = both(expression)
          total++
          if (!pair.compiled) return
          compiled++
          for (const r of rows) expectSame(pair.mine(r), pair.cel(r), `${expression} over ${String(r)}`)
        }),
        fuzzBudget(3_000, 6),
      )
      // The generator aims at the subset; most of what it makes should compile.
      expect(compiled / total).toBeGreaterThan(0.5)
    },
    fuzzTimeout(6),
  )

  const benchmarkRow = (values: Record<string, Value>): Value[] =>
    BENCH.map((c) => (c.name in values ? (values[c.name] as Value) : null))
  const BENCH: Column[] = [
    { name: 'id', type: 'int' },
    { name: 'amount', type: 'decimal' },
    { name: 'created_at', type: 'timestamp' },
    { name: 'qty', type: 'int' },
    { name: 'score', type: 'float' },
    { name: 'active', type: 'bool' },
    { name: 'email', type: 'string' },
  ]

  it.each([
    'amount > 0.0 && active',
    'amount > 0.0',
    'amount > 500.0',
    'double(qty) * amount',
    "email.split('@')[1]",
  ])('compiles the benchmark expression %s and agrees with cel-js', (expression) => {
    const pair = both(expression, BENCH)
    expect(pair.compiled).toBeTypeOf('function')
    const rows = [
      benchmarkRow({ id: 1, amount: '12.50', qty: 3, active: true, email: 'a@example.com' }),
      benchmarkRow({ id: 2, amount: '-1', qty: 2n ** 60n, active: false, email: 'no-at-sign' }),
      benchmarkRow({ id: 3, amount: '600', qty: 0, active: true, email: '' }),
      benchmarkRow({ id: 4 }),
    ]
    for (const r of rows) expectSame(pair.mine(r), pair.cel(r), expression)
  })

  it('keeps cel-js wording for the errors it reports', () => {
    const messages = (expression: string, r: Record<string, Value>) => {
      const pair = both(expression)
      expect(pair.compiled).toBeTypeOf('function')
      const row = COLUMNS.map((c) => (c.name in r ? (r[c.name] as Value) : null))
      return [pair.mine(row), pair.cel(row)]
    }
    expect(messages('i + 1', { i: INT64_MAX })).toEqual([
      { threw: 'integer overflow: 9223372036854775808' },
      { threw: 'integer overflow: 9223372036854775808' },
    ])
    expect(messages('i / j', { i: 1, j: 0 })[0]).toEqual({ threw: 'division by zero' })
    expect(messages('i % 0', { i: 1 })[0]).toEqual({ threw: 'modulo by zero' })
    expect(messages('s.split("@")[1]', { s: 'plain' })).toEqual([
      { threw: 'No such key: index out of bounds, index 1 >= size 1' },
      { threw: 'No such key: index out of bounds, index 1 >= size 1' },
    ])
    const [mine] = messages('f > 0.0', {})
    expect(mine).toEqual({ threw: 'no such overload: null > double' })
  })

  it('matches the corners of cel-js semantics', () => {
    const value = (expression: string, r: Record<string, Value> = {}) => {
      const pair = both(expression)
      expect(pair.compiled, expression).toBeTypeOf('function')
      const row = COLUMNS.map((c) => (c.name in r ? (r[c.name] as Value) : null))
      const mine = pair.mine(row)
      expectSame(mine, pair.cel(row), expression)
      return mine
    }
    // Commutative logic: a deciding side wins over an error on the other.
    expect(value('(1 / 0 == 1) && false')).toEqual({ value: false })
    expect(value('f > 0.0 || true')).toEqual({ value: true })
    expect(value('b && false')).toEqual({ value: false })
    expect(value('b && true')).toHaveProperty('threw')
    // No overflow check on negation, division or int(double).
    expect(value('-i', { i: INT64_MIN })).toEqual({ value: 2n ** 63n })
    expect(value('i / -1', { i: INT64_MIN })).toEqual({ value: 2n ** 63n })
    expect(value('int(1e20)')).toEqual({ value: 100000000000000000000n })
    expect(value('i * -1 == 0', { i: 0 })).toEqual({ value: true })
    expect(value('1.0 / double(i * -1)', { i: 0 })).toEqual({ value: Number.POSITIVE_INFINITY })
    expect(value('string(f)', { f: Number.NEGATIVE_INFINITY })).toEqual({ value: '-Inf' })
    expect(value('int("")')).toEqual({ value: 0n })
    expect(value('size("🚀é")')).toEqual({ value: 2n })
    expect(value('i == null')).toEqual({ value: true })
    expect(value('f in [f]', { f: Number.NaN })).toEqual({ value: false })
    expect(value('s.split("")[0]', { s: '' })).toEqual({
      threw: 'No such key: index out of bounds, index 0 >= size undefined',
    })
  })

  it.each([
    'now',
    't',
    'missing',
    '[1, 2]',
    's.split("@")',
    's.matches("a")',
    '5u',
    'i + f',
    'f == i',
    'i == 1.0',
    'b ? i : s',
    '1 + 1.0',
    'f % 2.0',
    'has(x.y)',
    '[1, 2].exists(v, v > 1)',
  ])('leaves %s to cel-js', (expression) => {
    expect(compileRowCel(expression, referencedColumns(expression, COLUMNS))).toBeUndefined()
  })

  it('throws its own error class, named for the condition', () => {
    const program = compileRowCel('i / 0', referencedColumns('i / 0', COLUMNS))
    expect(() => program?.([1])).toThrow(CelRowError)
  })
})
