/**
 * Partial aggregates: what a batch contributes to each group, mergeable in any grouping of
 * batches, and plain data (no bigints, no Sets) so they cross threads and sit in LMDB with the
 * source cursor. Sums of int and decimal columns are exact (decimal text, added as scaled bigints).
 */
import type { ColumnTypeName } from '@outpost/shared'
import type { Column, Value } from '@outpost/shared/batch'
import { rowKey } from './keys.js'

export type MetricKind = 'rows' | 'sum' | 'avg' | 'min' | 'max' | 'count' | 'count_distinct'

export interface MetricInfo {
  name: string
  kind: MetricKind
  /** Input column index; -1 for a row count. */
  index: number
  input: ColumnTypeName
  output: ColumnTypeName
}

/**
 * One metric's state: a count; a sum (float: number, exact: decimal text; null before any value);
 * an average as [sum, n]; a min or max value; distinct value keys.
 */
export type MetricState = number | string | null | [number | string, number] | Value | string[]

export interface AggregatePartial {
  /** The aggregate's output columns (group columns, then metrics). */
  columns: Column[]
  /** The source columns the chain was bound to (the emit binds the steps after the aggregate from them). */
  sourceColumns: Column[]
  metrics: MetricInfo[]
  /** group key → [group values, metric states]. */
  groups: [string, Value[], MetricState[]][]
}

const EXACT = new Set<ColumnTypeName>(['int', 'decimal'])

// --- exact decimal text arithmetic ---------------------------------------------------------

function parseDecimal(text: string): { v: bigint; scale: number } {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim())
  if (!m) return { v: 0n, scale: 0 }
  const frac = m[3] ?? ''
  let v = BigInt(`${m[2] || '0'}${frac}`)
  let scale = frac.length - Number(m[4] ?? 0)
  if (scale < 0) {
    v *= 10n ** BigInt(-scale)
    scale = 0
  }
  return { v: m[1] === '-' ? -v : v, scale }
}

function formatDecimal(v: bigint, scale: number): string {
  const negative = v < 0n
  const digits = (negative ? -v : v).toString().padStart(scale + 1, '0')
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`
  return negative ? `-${text}` : text
}

export function addDecimal(a: string, b: string): string {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  const scale = Math.max(x.scale, y.scale)
  return formatDecimal(x.v * 10n ** BigInt(scale - x.scale) + y.v * 10n ** BigInt(scale - y.scale), scale)
}

function compareDecimal(a: string, b: string): number {
  const x = parseDecimal(a)
  const y = parseDecimal(b)
  const scale = Math.max(x.scale, y.scale)
  const d = x.v * 10n ** BigInt(scale - x.scale) - y.v * 10n ** BigInt(scale - y.scale)
  return d < 0n ? -1 : d > 0n ? 1 : 0
}

function compare(a: Value, b: Value, type: ColumnTypeName): number {
  if (type === 'decimal') return compareDecimal(String(a), String(b))
  if (a instanceof Uint8Array || b instanceof Uint8Array) return 0
  return a! < b! ? -1 : a! > b! ? 1 : 0
}

// --- states ----------------------------------------------------------------------------------

export function initial(m: MetricInfo): MetricState {
  switch (m.kind) {
    case 'rows':
    case 'count':
      return 0
    case 'count_distinct':
      return []
    default:
      return null
  }
}

function numberOrText(v: Value, exact: boolean): number | string {
  return exact ? (typeof v === 'string' ? v : String(v)) : Number(v)
}

/** Adds one row to a group's states (distinct values collect in `distinct` until `seal`). */
export function accumulate(
  states: MetricState[],
  row: readonly Value[],
  metrics: readonly MetricInfo[],
  distinct: (Set<string> | undefined)[],
): void {
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i]!
    if (m.kind === 'rows') {
      states[i] = (states[i] as number) + 1
      continue
    }
    const v = row[m.index] ?? null
    if (v === null || (typeof v === 'number' && Number.isNaN(v) && m.kind !== 'count')) continue
    switch (m.kind) {
      case 'count':
        states[i] = (states[i] as number) + 1
        break
      case 'count_distinct': {
        let set = distinct[i]
        if (!set) {
          set = new Set(states[i] as string[])
          distinct[i] = set
        }
        set.add(rowKey([v], [0]))
        break
      }
      case 'sum': {
        const exact = EXACT.has(m.input)
        const s = states[i] as number | string | null
        const x = numberOrText(v, exact)
        states[i] =
          s === null ? x : exact ? addDecimal(s as string, x as string) : (s as number) + (x as number)
        break
      }
      case 'avg': {
        const exact = EXACT.has(m.input)
        const s = states[i] as [number | string, number] | null
        const x = numberOrText(v, exact)
        states[i] =
          s === null
            ? [x, 1]
            : [exact ? addDecimal(s[0] as string, x as string) : (s[0] as number) + (x as number), s[1] + 1]
        break
      }
      case 'min':
      case 'max': {
        const cur = states[i] as Value
        const better = m.kind === 'min' ? compare(v, cur, m.input) < 0 : compare(v, cur, m.input) > 0
        if (cur === null || better) states[i] = v
        break
      }
    }
  }
}

/** Turns collected distinct sets back into plain arrays. */
export function seal(states: MetricState[], distinct: (Set<string> | undefined)[]): void {
  distinct.forEach((set, i) => {
    if (set) states[i] = [...set]
  })
}

/** Merges group states b into a (same metrics). */
export function merge(a: MetricState[], b: readonly MetricState[], metrics: readonly MetricInfo[]): void {
  for (let i = 0; i < metrics.length; i++) {
    const m = metrics[i]!
    const x = a[i]
    const y = b[i]
    if (y === null || y === undefined) continue
    if (x === null || x === undefined) {
      a[i] = Array.isArray(y) ? [...y] : y
      continue
    }
    const exact = EXACT.has(m.input)
    switch (m.kind) {
      case 'rows':
      case 'count':
        a[i] = (x as number) + (y as number)
        break
      case 'count_distinct':
        a[i] = [...new Set([...(x as string[]), ...(y as string[])])]
        break
      case 'sum':
        a[i] = exact ? addDecimal(x as string, y as string) : (x as number) + (y as number)
        break
      case 'avg': {
        const [sx, nx] = x as [number | string, number]
        const [sy, ny] = y as [number | string, number]
        a[i] = [exact ? addDecimal(sx as string, sy as string) : (sx as number) + (sy as number), nx + ny]
        break
      }
      case 'min':
        if (compare(y as Value, x as Value, m.input) < 0) a[i] = y
        break
      case 'max':
        if (compare(y as Value, x as Value, m.input) > 0) a[i] = y
        break
    }
  }
}

/** The output values of a group's metrics. */
export function finish(states: readonly MetricState[], metrics: readonly MetricInfo[]): Value[] {
  return metrics.map((m, i) => {
    const s = states[i]
    switch (m.kind) {
      case 'rows':
      case 'count':
        return s as number
      case 'count_distinct':
        return (s as string[]).length
      case 'sum': {
        if (s === null) return null
        if (m.output === 'decimal') return s as string
        if (m.output === 'int') {
          const big = BigInt(s as string)
          return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(big)
            : big
        }
        return s as number
      }
      case 'avg': {
        if (s === null) return null
        const [sum, n] = s as [number | string, number]
        return Number(sum) / n
      }
      default:
        return (s ?? null) as Value
    }
  })
}

/** Merges partials (of one pipeline version's aggregate) into one. */
export function mergePartials(partials: readonly AggregatePartial[]): AggregatePartial | undefined {
  const [first, ...rest] = partials
  if (!first) return undefined
  const groups = new Map(
    first.groups.map(([k, g, s]) => [k, [g, s.map((x) => (Array.isArray(x) ? [...x] : x))]] as const),
  )
  for (const p of rest) {
    for (const [key, values, states] of p.groups) {
      const known = groups.get(key)
      if (known) merge(known[1] as MetricState[], states, first.metrics)
      else groups.set(key, [values, states.slice()])
    }
  }
  return { ...first, groups: [...groups.entries()].map(([k, [g, s]]) => [k, g, s as MetricState[]]) }
}
