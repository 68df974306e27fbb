/**
 * Column profiles for the quality report. A worker profiles each batch (counts, nulls, rule
 * failures, min/max/sum, distinct values, frequent values); the main thread merges the batches of
 * a run and judges the thresholds at its end. Distinct values are counted exactly (53-bit hashes)
 * for columns with a uniqueness threshold and estimated with a HyperLogLog sketch for the rest.
 */
import type { ColumnTypeName, ValidateSpec } from '@outpost/shared'
import { type Column, formatValue, type Value } from '@outpost/shared/batch'

const HLL_BITS = 10
const HLL_SIZE = 1 << HLL_BITS
const TOP_PER_BATCH = 20
/**
 * Distinct values whose frequency a batch counts. Values first seen after this many others in a
 * batch are not counted towards its top values (they still count everywhere else): a column
 * that varies this much has few frequent values, and counting every one of them cost more than
 * the rest of the profile.
 */
const TOP_DISTINCT = 1024
const TOP_KEPT = 200
/** Beyond this many distinct values per column, exact counting gives way to the estimate. */
const EXACT_LIMIT = 2_000_000

export interface ColumnBatchProfile {
  name: string
  type: ColumnTypeName
  count: number
  nulls: number
  /** Rows that broke an error rule on this column. */
  invalid: number
  min?: number
  max?: number
  sum?: number
  numbers?: number
  hll: Uint8Array
  /** Hashes of the distinct values, for columns whose uniqueness has a threshold. */
  exact?: Float64Array
  top: [string, number][]
}

export interface RuleCount {
  name: string
  severity: 'error' | 'warn'
  failed: number
}

export interface BatchProfile {
  rows: number
  columns: ColumnBatchProfile[]
  rules: RuleCount[]
}

/** The last steps of MurmurHash3's 32-bit finaliser: every input bit reaches every output bit. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** 53 bits of a string's hash (two 32-bit FNV-1a variants, mixed). */
function hash(text: string): number {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  a ^= a >>> 16
  a = Math.imul(a, 0x85ebca6b)
  a ^= a >>> 13
  b ^= b >>> 15
  b = Math.imul(b, 0xc2b2ae35)
  b ^= b >>> 16
  return (a >>> 0) * 2 ** 21 + ((b >>> 0) & 0x1fffff)
}

const float = new Float64Array(1)
const words = new Uint32Array(float.buffer)

/**
 * 53 bits of a number's hash, from its 64 bits (no text: formatting every timestamp of a batch
 * cost more than the rest of its profile). 0 and -0 are one value, as are all NaNs.
 */
function hashNumber(n: number): number {
  float[0] = n === 0 ? 0 : Number.isNaN(n) ? Number.NaN : n
  // a and hi ^ a determine both words, so distinct numbers only collide in the truncation to 53 bits.
  const a = fmix((words[0] as number) + Math.imul(words[1] as number, 0x9e3779b1))
  const b = fmix((words[1] as number) ^ a)
  return a * 2 ** 21 + (b & 0x1fffff)
}

/** The hash of a value as it is counted in a profile (see `countKey`). */
function hashKey(key: CountKey): number {
  return typeof key === 'number' ? hashNumber(key) : hash(String(key))
}

/**
 * A cell as the key it is counted under: the value itself, so a batch's values are never turned
 * into text (the top values are formatted once, at the end). Keys are equal exactly when the
 * cells' texts are: a safe bigint becomes its number, bytes become their base64 text.
 */
type CountKey = string | number | bigint | boolean

function countKey(v: Exclude<Value, null>, type: ColumnTypeName): CountKey {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v
  if (v instanceof Uint8Array) return formatValue(v, type) ?? ''
  return v
}

/**
 * The `n` most frequent entries, most frequent first and ties in first-seen order: what a stable
 * sort of all entries by count would give, without sorting them all.
 */
function topEntries<K>(counts: Map<K, number>, n: number): [K, number][] {
  const top: [K, number][] = []
  for (const [key, count] of counts) {
    if (top.length === n && count <= (top[n - 1] as [K, number])[1]) continue
    let i = top.length < n ? top.length : n - 1
    while (i > 0 && (top[i - 1] as [K, number])[1] < count) {
      top[i] = top[i - 1] as [K, number]
      i--
    }
    top[i] = [key, count]
  }
  return top
}

function hllAdd(registers: Uint8Array, h: number): void {
  const hi = Math.floor(h / 2 ** 21) >>> 0
  const index = hi >>> (32 - HLL_BITS)
  const rest = (hi << HLL_BITS) >>> 0
  const rank = rest === 0 ? 32 - HLL_BITS + 1 : Math.clz32(rest) + 1
  if (rank > (registers[index] as number)) registers[index] = rank
}

function hllEstimate(registers: Uint8Array): number {
  let sum = 0
  let zeros = 0
  for (const r of registers) {
    sum += 2 ** -r
    if (r === 0) zeros++
  }
  const alpha = 0.7213 / (1 + 1.079 / HLL_SIZE)
  const estimate = (alpha * HLL_SIZE * HLL_SIZE) / sum
  if (estimate <= 2.5 * HLL_SIZE && zeros > 0) return HLL_SIZE * Math.log(HLL_SIZE / zeros)
  return estimate
}

/** Columns whose distinct values are counted exactly. */
export function exactColumns(spec: ValidateSpec | undefined, columns: readonly Column[]): Set<string> {
  const names = new Set<string>()
  for (const level of [spec?.thresholds?.fail, spec?.thresholds?.warn]) {
    const u = level?.uniqueness
    if (u === undefined) continue
    if (typeof u === 'number') for (const c of columns) names.add(c.name)
    else for (const name of Object.keys(u)) names.add(name)
  }
  return names
}

/** Profiles one batch: `invalid[c]` counts rows that broke an error rule on column c. */
export function profileBatch(
  columns: readonly Column[],
  rows: readonly Value[][],
  invalid: readonly number[],
  exact: Set<string>,
  rules: RuleCount[],
): BatchProfile {
  const profiles = columns.map((col, c): ColumnBatchProfile => {
    const hll = new Uint8Array(HLL_SIZE)
    const hashes: number[] | undefined = exact.has(col.name) ? [] : undefined
    // Values are counted exactly, up to TOP_DISTINCT distinct values per batch (see TOP_DISTINCT).
    const counts = new Map<CountKey, number>()
    const numeric = col.type === 'int' || col.type === 'float' || col.type === 'decimal'
    let nulls = 0
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    let sum = 0
    let numbers = 0
    for (let r = 0; r < rows.length; r++) {
      const v = (rows[r] as Value[])[c]
      if (v === null || v === undefined) {
        nulls++
        continue
      }
      const key = countKey(v, col.type)
      const seen = counts.get(key)
      if (seen !== undefined) {
        // A value already counted in this batch is already in the sketch and the hashes.
        counts.set(key, seen + 1)
      } else {
        if (counts.size < TOP_DISTINCT) counts.set(key, 1)
        const h = hashKey(key)
        hllAdd(hll, h)
        hashes?.push(h)
      }
      if (numeric) {
        const n = Number(v)
        if (Number.isFinite(n)) {
          numbers++
          sum += n
          if (n < min) min = n
          if (n > max) max = n
        }
      }
    }
    const top = topEntries(counts, TOP_PER_BATCH).map(([key, count]): [string, number] => [
      // Bytes were counted as their text already.
      col.type === 'bytes' ? String(key) : (formatValue(key as Value, col.type) ?? ''),
      count,
    ])
    return {
      name: col.name,
      type: col.type,
      count: rows.length,
      nulls,
      invalid: invalid[c] ?? 0,
      hll,
      top,
      ...(numbers > 0 ? { min, max, sum, numbers } : {}),
      ...(hashes ? { exact: Float64Array.from(new Set(hashes)) } : {}),
    }
  })
  return { rows: rows.length, columns: profiles, rules }
}

export interface ColumnQuality {
  name: string
  type: ColumnTypeName
  rows: number
  nulls: number
  completeness: number
  uniqueness: number
  /** Whether uniqueness was counted exactly or estimated. */
  distinctExact: boolean
  distinct: number
  validity: number
  min?: number
  max?: number
  mean?: number
  top: { value: string; count: number }[]
}

export interface ThresholdResult {
  metric: 'completeness' | 'uniqueness' | 'validity'
  column: string
  value: number
  limit: number
  level: 'fail' | 'warn'
}

export interface QualityReport {
  rows: number
  columns: ColumnQuality[]
  rules: RuleCount[]
  /** Thresholds that were not met. */
  breaches: ThresholdResult[]
  status: 'ok' | 'warn' | 'fail'
}

interface ColumnAccumulator {
  type: ColumnTypeName
  rows: number
  nulls: number
  invalid: number
  min?: number
  max?: number
  sum: number
  numbers: number
  hll: Uint8Array
  exact?: Set<number>
  top: Map<string, number>
}

/** Merges a run's batch profiles; `report` judges the thresholds. */
export class RunQuality {
  private rows = 0
  private readonly columns = new Map<string, ColumnAccumulator>()
  private readonly rules = new Map<string, RuleCount>()

  add(batch: BatchProfile): void {
    this.rows += batch.rows
    for (const r of batch.rules) {
      const known = this.rules.get(r.name)
      if (known) known.failed += r.failed
      else this.rules.set(r.name, { ...r })
    }
    for (const p of batch.columns) {
      let acc = this.columns.get(p.name)
      if (!acc) {
        acc = {
          type: p.type,
          rows: 0,
          nulls: 0,
          invalid: 0,
          sum: 0,
          numbers: 0,
          hll: new Uint8Array(HLL_SIZE),
          top: new Map(),
        }
        if (p.exact) acc.exact = new Set()
        this.columns.set(p.name, acc)
      }
      acc.rows += p.count
      acc.nulls += p.nulls
      acc.invalid += p.invalid
      if (p.numbers) {
        acc.numbers += p.numbers
        acc.sum += p.sum ?? 0
        acc.min = Math.min(acc.min ?? Number.POSITIVE_INFINITY, p.min ?? Number.POSITIVE_INFINITY)
        acc.max = Math.max(acc.max ?? Number.NEGATIVE_INFINITY, p.max ?? Number.NEGATIVE_INFINITY)
      }
      for (let i = 0; i < HLL_SIZE; i++)
        if ((p.hll[i] as number) > (acc.hll[i] as number)) acc.hll[i] = p.hll[i] as number
      if (acc.exact && p.exact) {
        for (const h of p.exact) acc.exact.add(h)
        if (acc.exact.size > EXACT_LIMIT) delete acc.exact
      }
      for (const [value, count] of p.top) acc.top.set(value, (acc.top.get(value) ?? 0) + count)
      if (acc.top.size > TOP_KEPT * 2) {
        acc.top = new Map([...acc.top].sort((a, b) => b[1] - a[1]).slice(0, TOP_KEPT))
      }
    }
  }

  get empty(): boolean {
    return this.rows === 0 && this.columns.size === 0
  }

  report(spec: ValidateSpec | undefined): QualityReport {
    const columns: ColumnQuality[] = [...this.columns].map(([name, a]) => {
      const present = a.rows - a.nulls
      const distinct = a.exact ? a.exact.size : Math.min(present, Math.round(hllEstimate(a.hll)))
      return {
        name,
        type: a.type,
        rows: a.rows,
        nulls: a.nulls,
        completeness: a.rows === 0 ? 1 : present / a.rows,
        uniqueness: present === 0 ? 1 : distinct / present,
        distinctExact: a.exact !== undefined,
        distinct,
        validity: a.rows === 0 ? 1 : (a.rows - a.invalid) / a.rows,
        ...(a.numbers > 0 ? { min: a.min as number, max: a.max as number, mean: a.sum / a.numbers } : {}),
        top: [...a.top]
          .sort((x, y) => y[1] - x[1])
          .slice(0, 10)
          .map(([value, count]) => ({ value, count })),
      }
    })
    const breaches: ThresholdResult[] = []
    for (const level of ['fail', 'warn'] as const) {
      const t = spec?.thresholds?.[level]
      if (!t) continue
      for (const metric of ['completeness', 'uniqueness', 'validity'] as const) {
        const limit = t[metric]
        if (limit === undefined) continue
        for (const col of columns) {
          const wanted = typeof limit === 'number' ? limit : limit[col.name]
          if (wanted === undefined) continue
          if (col[metric] < wanted)
            breaches.push({ metric, column: col.name, value: col[metric], limit: wanted, level })
        }
      }
    }
    const status = breaches.some((b) => b.level === 'fail') ? 'fail' : breaches.length > 0 ? 'warn' : 'ok'
    return { rows: this.rows, columns, rules: [...this.rules.values()], breaches, status }
  }
}

export function describeBreach(b: ThresholdResult): string {
  return `${b.metric} of ${b.column} is ${b.value.toFixed(4)}, below the ${b.level} threshold ${b.limit}`
}
