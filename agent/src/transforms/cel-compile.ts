/**
 * A subset of CEL compiled to a plain closure over a row: scalar columns read straight from the
 * cells, ints kept as JS numbers while they are safe. The closure returns what cel-js returns for
 * the same row (ints as bigint) and throws wherever cel-js throws; anything outside the subset is
 * left to cel-js (compileRowCel returns undefined).
 */
import { type CelNode, type ColumnTypeName, celSyntaxTree } from '@outpost/shared'
import type { Value } from '@outpost/shared/batch'
import { plainFloat } from './convert.js'

export type RowProgram = (row: readonly Value[]) => unknown

/** A failure cel-js would report for the same row; `code` is cel-js's code for it. */
export class CelRowError extends Error {
  override name = 'CelRowError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * An int inside the closures: a number while it is a safe integer (never -0), else a bigint. The
 * slow paths are cel-js's bigint arithmetic with its int64 checks.
 */
type Int = number | bigint
type Kind = 'int' | 'double' | 'string' | 'bool' | 'null'
type Eval = (row: readonly Value[]) => unknown

interface Typed {
  kind: Kind
  /** The value can be null at run time (a column, or a ternary with a null branch). */
  nullable: boolean
  run: Eval
}

const MAX_INT = 2n ** 63n - 1n
const MIN_INT = -(2n ** 63n)
const SAFE = Number.MAX_SAFE_INTEGER

const COLUMN_KIND: Partial<Record<ColumnTypeName, Kind>> = {
  int: 'int',
  float: 'double',
  decimal: 'double',
  string: 'string',
  bool: 'bool',
}

/**
 * The expression as a closure over a row, or undefined when it is outside the compiled subset (or
 * does not type-check: cel-js then throws the type error for every row, which it keeps doing).
 */
export function compileRowCel(
  expression: string,
  used: readonly { index: number; name: string; type: ColumnTypeName }[],
): RowProgram | undefined {
  const ast = celSyntaxTree(expression)
  if (!ast) return undefined
  // As in activationFor: a later column of the same name wins.
  const columns = new Map(used.map((c) => [c.name, c]))
  const typed = compileNode(ast, columns)
  if (!typed) return undefined
  const run = typed.run
  if (typed.kind !== 'int') return run as RowProgram
  return (row) => {
    const v = run(row) as Int | null
    return typeof v === 'number' ? BigInt(v) : v
  }
}

type Columns = ReadonlyMap<string, { index: number; type: ColumnTypeName }>

function compileNode(node: CelNode, columns: Columns): Typed | undefined {
  switch (node.op) {
    case 'value':
      return literal(node.args)
    case 'id':
      return column(node.args as string, columns)
    case '-_':
    case '!_':
      return unary(node.op, node.args as CelNode, columns)
    case '&&':
    case '||':
      return logical(node.op, node.args as [CelNode, CelNode], columns)
    case '?:':
      return ternary(node.args as [CelNode, CelNode, CelNode], columns)
    case 'in':
      return membership(node.args as [CelNode, CelNode], columns)
    case '[]':
      return splitIndex(node.args as [CelNode, CelNode], columns)
    case 'call': {
      const [name, args] = node.args as [string, CelNode[]]
      return args.length === 1 ? conversion(name, args[0]!, columns) : undefined
    }
    case 'rcall': {
      const [name, receiver, args] = node.args as [string, CelNode, CelNode[]]
      if (name === 'size' && args.length === 0) return conversion(name, receiver, columns)
      return args.length === 1 ? stringMethod(name, receiver, args[0]!, columns) : undefined
    }
    default:
      return BINARY.has(node.op) ? binary(node.op, node.args as [CelNode, CelNode], columns) : undefined
  }
}

function literal(value: unknown): Typed | undefined {
  const constant = (kind: Kind, v: unknown): Typed => ({ kind, nullable: false, run: () => v })
  switch (typeof value) {
    case 'bigint':
      return constant('int', toInt(value))
    case 'number':
      return constant('double', value)
    case 'string':
      return constant('string', value)
    case 'boolean':
      return constant('bool', value)
    default:
      return value === null ? constant('null', null) : undefined
  }
}

function column(name: string, columns: Columns): Typed | undefined {
  const col = columns.get(name)
  const kind = col && COLUMN_KIND[col.type]
  if (!col || !kind) return undefined
  const i = col.index
  if (col.type === 'int') {
    return {
      kind,
      nullable: true,
      run: (row) => {
        const v = row[i] as number | bigint | null
        return typeof v === 'number' ? (Number.isSafeInteger(v) ? v + 0 : BigInt(v)) : v
      },
    }
  }
  if (col.type === 'decimal') {
    return {
      kind,
      nullable: true,
      run: (row) => {
        const v = row[i]
        if (v === null) return null
        // Decimal text as cast leaves it: plainFloat gives Number()'s double, several times faster.
        return (typeof v === 'string' ? plainFloat(v) : undefined) ?? Number(v)
      },
    }
  }
  return { kind, nullable: true, run: (row) => row[i] }
}

/** An int from a bigint: a number when safe. */
function toInt(v: bigint): Int {
  return v <= SAFE && v >= -SAFE ? Number(v) : v
}

function checkedInt(v: bigint): Int {
  if (v > MAX_INT || v < MIN_INT) throw new CelRowError('numeric_overflow', `integer overflow: ${v}`)
  return v
}

const big = (v: Int): bigint => (typeof v === 'bigint' ? v : BigInt(v))

const INT_OPS: Record<string, (a: Int, b: Int) => Int> = {
  '+': (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') {
      const r = a + b
      if (r <= SAFE && r >= -SAFE) return r
    }
    return checkedInt(big(a) + big(b))
  },
  '-': (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') {
      const r = a - b
      if (r <= SAFE && r >= -SAFE) return r
    }
    return checkedInt(big(a) - big(b))
  },
  '*': (a, b) => {
    if (typeof a === 'number' && typeof b === 'number') {
      // Rounding is monotonic, so a product beyond 2^53 never rounds back into the safe range.
      const r = a * b + 0
      if (r <= SAFE && r >= -SAFE) return r
    }
    return checkedInt(big(a) * big(b))
  },
  // cel-js checks neither quotient nor remainder for overflow (MIN_INT / -1 is 2^63).
  '/': (a, b) => {
    // biome-ignore lint/suspicious/noDoubleEquals: a number or a bigint zero
    if (b == 0) throw new CelRowError('division_by_zero', 'division by zero')
    // Exact: a % b and a - a % b are integers no larger than a.
    if (typeof a === 'number' && typeof b === 'number') return (a - (a % b)) / b + 0
    return big(a) / big(b)
  },
  '%': (a, b) => {
    // biome-ignore lint/suspicious/noDoubleEquals: a number or a bigint zero
    if (b == 0) throw new CelRowError('modulo_by_zero', 'modulo by zero')
    if (typeof a === 'number' && typeof b === 'number') return (a % b) + 0
    return big(a) % big(b)
  },
}

const DOUBLE_OPS: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
}

// Bigints and numbers compare exactly with each other in JavaScript, as cel-js relies on too.
const COMPARE: Record<string, (a: never, b: never) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
}

const BINARY = new Set(['+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!='])

function typeName(kind: Kind, v: unknown): string {
  return v === null ? 'null' : kind
}

function noOverload(text: string): CelRowError {
  return new CelRowError('no_such_overload', `no such overload: ${text}`)
}

/** `run`, with a null at run time (a column's) refused as cel-js refuses it. */
function nonNull(t: Typed, refuse: () => CelRowError): Eval {
  if (!t.nullable) return t.run
  const run = t.run
  return (row) => {
    const v = run(row)
    if (v === null) throw refuse()
    return v
  }
}

function binary(op: string, args: [CelNode, CelNode], columns: Columns): Typed | undefined {
  const l = compileNode(args[0], columns)
  const r = compileNode(args[1], columns)
  if (!l || !r) return undefined
  const left = l.run
  const right = r.run
  if (op === '==' || op === '!=') {
    // Same kinds, or null: cel-js compares with ===; ints may be a number and a bigint here.
    if (l.kind !== r.kind && l.kind !== 'null' && r.kind !== 'null') return undefined
    if (l.kind === 'int' && r.kind === 'int') {
      // biome-ignore lint/suspicious/noDoubleEquals: a safe number equals the same bigint; null only null
      if (op === '==') return { kind: 'bool', nullable: false, run: (row) => left(row) == right(row) }
      // biome-ignore lint/suspicious/noDoubleEquals: as above
      return { kind: 'bool', nullable: false, run: (row) => left(row) != right(row) }
    }
    if (op === '==') return { kind: 'bool', nullable: false, run: (row) => left(row) === right(row) }
    return { kind: 'bool', nullable: false, run: (row) => left(row) !== right(row) }
  }
  const numeric = (k: Kind) => k === 'int' || k === 'double'
  let apply: (a: never, b: never) => unknown
  let kind: Kind
  const compare = COMPARE[op]
  if (compare) {
    if (!(l.kind === r.kind ? l.kind !== 'null' : numeric(l.kind) && numeric(r.kind))) return undefined
    apply = compare
    kind = 'bool'
  } else if (l.kind !== r.kind) {
    return undefined
  } else if (l.kind === 'int') {
    apply = INT_OPS[op] as typeof apply
    kind = 'int'
  } else if (l.kind === 'double' && DOUBLE_OPS[op]) {
    apply = DOUBLE_OPS[op]
    kind = 'double'
  } else if (l.kind === 'string' && op === '+') {
    apply = (a: string, b: string) => a + b
    kind = 'string'
  } else {
    return undefined
  }
  const lk = l.kind
  const rk = r.kind
  if (!l.nullable && !r.nullable) {
    return { kind, nullable: false, run: (row) => apply(left(row) as never, right(row) as never) }
  }
  return {
    kind,
    nullable: false,
    run: (row) => {
      const a = left(row)
      const b = right(row)
      if (a === null || b === null) throw noOverload(`${typeName(lk, a)} ${op} ${typeName(rk, b)}`)
      return apply(a as never, b as never)
    },
  }
}

function unary(op: '-_' | '!_', arg: CelNode, columns: Columns): Typed | undefined {
  const t = compileNode(arg, columns)
  if (!t) return undefined
  const sign = op[0]
  const run = nonNull(t, () => noOverload(`${sign}null`))
  if (op === '!_')
    return t.kind === 'bool' ? { kind: 'bool', nullable: false, run: (row) => !run(row) } : undefined
  if (t.kind === 'double') return { kind: 'double', nullable: false, run: (row) => -(run(row) as number) }
  if (t.kind !== 'int') return undefined
  return {
    kind: 'int',
    nullable: false,
    // Like cel-js, no overflow check: -(-2^63) is 2^63.
    run: (row) => {
      const v = run(row) as Int
      return typeof v === 'number' ? -v + 0 : -v
    },
  }
}

function logicalOperandError(v: unknown): CelRowError {
  return new CelRowError(
    'invalid_logical_operand',
    `Logical operator requires bool operands, got '${v === null ? 'null' : typeof v}'`,
  )
}

/**
 * CEL's commutative && and ||: a side that decides the result (false for &&, true for ||) wins
 * over an error or a non-bool on the other side, whichever side it is on.
 */
function logical(op: '&&' | '||', args: [CelNode, CelNode], columns: Columns): Typed | undefined {
  const l = compileNode(args[0], columns)
  const r = compileNode(args[1], columns)
  if (!l || !r || l.kind !== 'bool' || r.kind !== 'bool') return undefined
  const left = l.run
  const right = r.run
  const decides = op === '||'
  return {
    kind: 'bool',
    nullable: false,
    run: (row) => {
      let a: unknown
      let failure: unknown
      try {
        a = left(row)
      } catch (error) {
        failure = error
      }
      if (a === decides) return decides
      const b = right(row)
      if (failure === undefined && a === !decides) {
        if (typeof b === 'boolean') return b
        throw logicalOperandError(b)
      }
      if (b === decides) return decides
      if (b === !decides) throw failure ?? logicalOperandError(a)
      throw logicalOperandError(b)
    },
  }
}

function ternary(args: [CelNode, CelNode, CelNode], columns: Columns): Typed | undefined {
  const c = compileNode(args[0], columns)
  const l = compileNode(args[1], columns)
  const r = compileNode(args[2], columns)
  if (!c || !l || !r || c.kind !== 'bool') return undefined
  if (l.kind !== r.kind && l.kind !== 'null' && r.kind !== 'null') return undefined
  const condition = c.run
  const yes = l.run
  const no = r.run
  return {
    kind: l.kind === 'null' ? r.kind : l.kind,
    nullable: l.nullable || r.nullable || l.kind === 'null' || r.kind === 'null',
    run: (row) => {
      const v = condition(row)
      if (v === true) return yes(row)
      if (v === false) return no(row)
      throw new CelRowError('invalid_condition_type', `Ternary condition must be bool, got 'null'`)
    },
  }
}

/** `x in [a, b, ...]` with elements of x's kind; cel-js compares as == does, null only to null. */
function membership(args: [CelNode, CelNode], columns: Columns): Typed | undefined {
  const x = compileNode(args[0], columns)
  if (!x || x.kind === 'null' || args[1].op !== 'list') return undefined
  const elements: Eval[] = []
  for (const node of args[1].args as CelNode[]) {
    const e = compileNode(node, columns)
    if (!e || e.kind !== x.kind) return undefined
    elements.push(e.run)
  }
  const value = x.run
  const ints = x.kind === 'int'
  return {
    kind: 'bool',
    nullable: false,
    run: (row) => {
      const v = value(row)
      // cel-js evaluates every element (the last first) before it looks.
      const list = new Array<unknown>(elements.length)
      for (let i = elements.length - 1; i >= 0; i--) list[i] = (elements[i] as Eval)(row)
      // biome-ignore lint/suspicious/noDoubleEquals: a safe number equals the same bigint
      return ints ? list.some((e) => e == v) : list.some((e) => e === v)
    },
  }
}

/** `receiver.name(arg)` on two strings: cel-js evaluates the argument first, and refuses a null. */
function stringCall<T>(
  name: string,
  receiver: CelNode,
  arg: CelNode,
  columns: Columns,
  method: (a: string, b: string) => T,
): ((row: readonly Value[]) => T) | undefined {
  const s = compileNode(receiver, columns)
  const x = compileNode(arg, columns)
  if (!s || !x || s.kind !== 'string' || x.kind !== 'string') return undefined
  const text = s.run
  const other = x.run
  return (row) => {
    const b = other(row)
    const a = text(row)
    if (a === null || b === null) {
      throw new CelRowError(
        'no_matching_overload',
        `found no matching overload for '${typeName('string', a)}.${name}(${typeName('string', b)})'`,
      )
    }
    return method(a as string, b as string)
  }
}

/** `s.split(sep)[k]`, the only list the subset makes. */
function splitIndex(args: [CelNode, CelNode], columns: Columns): Typed | undefined {
  const [list, indexNode] = args
  if (list.op !== 'rcall') return undefined
  const [name, receiver, splitArgs] = list.args as [string, CelNode, CelNode[]]
  if (name !== 'split' || splitArgs.length !== 1) return undefined
  // The operands of the call, set by `operands` just before the part is taken.
  let text = ''
  let sep = ''
  const operands = stringCall(name, receiver, splitArgs[0]!, columns, (a, b) => {
    text = a
    sep = b
    return true
  })
  const k = compileNode(indexNode, columns)
  if (!operands || !k || k.kind !== 'int') return undefined
  const index = nonNull(k, () => new CelRowError('no_such_key', 'No such key: null'))
  return {
    kind: 'string',
    nullable: false,
    run: (row) => {
      operands(row)
      const at = Number(index(row) as Int)
      const part = splitPart(text, sep, at)
      if (part !== undefined) return part
      const size = text.split(sep).length
      throw new CelRowError(
        'index_out_of_bounds',
        // cel-js's wording, down to `size undefined` for the empty list ''.split('') makes.
        `No such key: index out of bounds, index ${at} ${at < 0 ? '< 0' : `>= size ${size || undefined}`}`,
      )
    },
  }
}

/** text.split(sep)[at] without making the list: the common `email.split('@')[1]`, per row. */
function splitPart(text: string, sep: string, at: number): string | undefined {
  if (sep === '' || at < 0) return text.split(sep)[at]
  let from = 0
  for (let k = 0; k < at; k++) {
    const next = text.indexOf(sep, from)
    if (next < 0) return undefined
    from = next + sep.length
  }
  const end = text.indexOf(sep, from)
  return end < 0 ? text.slice(from) : text.slice(from, end)
}

const STRING_METHODS: Record<string, (a: string, b: string) => boolean> = {
  contains: (a, b) => a.includes(b),
  startsWith: (a, b) => a.startsWith(b),
  endsWith: (a, b) => a.endsWith(b),
}

function stringMethod(name: string, receiver: CelNode, arg: CelNode, columns: Columns): Typed | undefined {
  const method = STRING_METHODS[name]
  const run = method && stringCall(name, receiver, arg, columns, method)
  return run && { kind: 'bool', nullable: false, run }
}

function codePoints(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

/** cel-js's double(string). */
function parseDouble(v: string): number {
  const refuse = () =>
    new CelRowError('double_conversion_error', 'double() type error: cannot convert to double')
  if (!v || v !== v.trim()) throw refuse()
  switch (v.toLowerCase()) {
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Number.POSITIVE_INFINITY
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY
    case 'nan':
      return Number.NaN
  }
  const parsed = Number(v)
  if (Number.isNaN(parsed)) throw refuse()
  return parsed
}

/** cel-js's int(string): BigInt's syntax (so '' is 0 and 0b1 is 1), no hex, within int64. */
function parseInt64(v: string): Int {
  if (v === v.trim() && v.length <= 20 && !v.includes('0x')) {
    try {
      const n = BigInt(v)
      if (n <= MAX_INT && n >= MIN_INT) return toInt(n)
    } catch {}
  }
  throw new CelRowError('int_conversion_error', 'int() type error: cannot convert to int')
}

/** cel-js's int(double): truncated, and only NaN and infinities refused (int(1e300) is a bigint). */
function truncate(v: number): Int {
  if (!Number.isFinite(v)) throw new CelRowError('numeric_overflow', 'int() type error: integer overflow')
  const t = Math.trunc(v)
  return Number.isSafeInteger(t) ? t + 0 : BigInt(t)
}

function doubleToString(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return `${v}`
}

const CONVERSIONS: Record<string, Partial<Record<Kind, [Kind, (v: never) => unknown]>>> = {
  double: {
    double: ['double', (v: number) => v],
    int: ['double', (v: Int) => Number(v)],
    string: ['double', parseDouble],
  },
  int: {
    int: ['int', (v: Int) => v],
    double: ['int', truncate],
    string: ['int', parseInt64],
  },
  string: {
    string: ['string', (v: string) => v],
    int: ['string', (v: Int) => `${v}`],
    double: ['string', doubleToString],
    bool: ['string', (v: boolean) => `${v}`],
  },
  size: { string: ['int', codePoints] },
}

function conversion(name: string, arg: CelNode, columns: Columns): Typed | undefined {
  const x = compileNode(arg, columns)
  const entry = x && CONVERSIONS[name]?.[x.kind]
  if (!x || !entry) return undefined
  const [kind, convert] = entry
  const run = nonNull(
    x,
    () => new CelRowError('no_matching_overload', `found no matching overload for '${name}(null)'`),
  )
  return { kind, nullable: false, run: (row) => convert(run(row) as never) }
}
