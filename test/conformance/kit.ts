/**
 * The connector conformance kit: one dataset of awkward values, one way to compare what came out,
 * and the checks every source and every sink must pass (see sources.test.ts and sinks.test.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLogger } from '@outpost/agent'
import { expect } from 'vitest'
import { type LocalRunReport, runLocal } from '../../agent/src/runtime/local-run.js'
import type { SecretResolver } from '../../agent/src/secrets.js'

export const log = createLogger({ level: 'error', write: () => {} })

/** A row as canonical text: what every connector must give back, whatever its native types. */
export interface Row {
  id: string
  name: string | null
  amount: string | null
  big: string | null
  at: string | null
  ok: string | null
}
export const COLUMNS = ['id', 'name', 'amount', 'big', 'at', 'ok'] as const

/** The casts that type text-only formats (CSV, Excel) into the dataset's types. */
export const CASTS = '[{ cast: { id: int, amount: decimal, big: int, at: timestamp, ok: bool } }]'

function row(i: number): Row {
  return {
    id: String(i),
    name: `row ${i} ✓`,
    amount: `${i}.25`,
    big: String(BigInt(i) * 1_000_000_007n),
    at: `2024-03-0${1 + (i % 9)}T12:${String(i % 60).padStart(2, '0')}:00.000123Z`,
    ok: i % 2 === 0 ? 'true' : 'false',
  }
}

/** Unicode, quotes, separators, line breaks, nulls, the limits of int64, decimals and time. */
export const DATASET: Row[] = [
  {
    id: '1',
    name: 'Zoë 🚀 "quoted", a;b\tc\\d\nsecond line',
    amount: '99999999999999999999.000001',
    big: '9223372036854775807',
    at: '9999-12-31T23:59:59.999999Z',
    ok: 'true',
  },
  {
    id: '2',
    name: 'ünïcödé 中文 العربية',
    amount: '-0.000001',
    big: '-9223372036854775808',
    at: '1970-01-01T00:00:00Z',
    ok: 'false',
  },
  { id: '3', name: null, amount: null, big: null, at: null, ok: null },
  ...Array.from({ length: 37 }, (_, i) => row(i + 4)),
]
/** The first run reads these; the rest arrive later and the next run must read only them. */
export const FIRST = DATASET.slice(0, 25)
export const LATER = DATASET.slice(25)

/** The dataset's column types. */
export const TYPES = {
  id: 'int',
  name: 'string',
  amount: 'decimal',
  big: 'int',
  at: 'timestamp',
  ok: 'bool',
} as const

/** The dataset as typed values (what a decoder or a worker makes of it). */
export function typedRows(rows: Row[]): unknown[][] {
  return rows.map((r) => [
    BigInt(r.id),
    r.name,
    r.amount,
    r.big === null ? null : BigInt(r.big),
    r.at === null ? null : BigInt(Date.parse(r.at)) * 1000n + BigInt(/\.\d{3}(\d{3})/.exec(r.at)?.[1] ?? 0),
    r.ok === null ? null : r.ok === 'true',
  ])
}

/** Canonical text for a decimal: no trailing zeros after the point. */
function decimalText(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text
}

/** Canonical text for a UTC timestamp: ISO with the fraction's trailing zeros removed. */
function timestampText(text: string): string {
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|\+00(?::?00)?)?$/.exec(text)
  if (!m) return text
  const fraction = (m[3] ?? '').replace(/0+$/, '')
  return `${m[1]}T${m[2]}${fraction ? `.${fraction}` : ''}Z`
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'object' && !(value instanceof Date)) return JSON.stringify(value)
  if (value instanceof Date) return value.toISOString()
  return String(value)
}

/** A row from a connector, with native values, as canonical text. */
export function canonical(values: Record<string, unknown>): Row {
  const ok = text(values.ok)
  const at = text(values.at)
  const amount = text(values.amount)
  return {
    id: text(values.id) ?? '',
    name: text(values.name),
    amount: amount === null ? null : decimalText(amount),
    big: text(values.big),
    at: at === null ? null : timestampText(at),
    ok:
      ok === null ? null : ok === '1' || ok === 'true' ? 'true' : ok === '0' || ok === 'false' ? 'false' : ok,
  }
}

export function expected(rows: Row[], adjust: (row: Row) => Row = (r) => r): Row[] {
  return rows.map((r) => canonical({ ...adjust({ ...r }) }))
}

export function byId(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => Number(a.id) - Number(b.id))
}

/** Rows of every NDJSON file under a directory. */
export function ndjsonRows(dir: string): Record<string, unknown>[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .flatMap((e) =>
      readFileSync(join(e.parentPath, e.name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    )
}

export interface RunOptions {
  stateDir?: string
  secrets?: SecretResolver
  deliveryTimeoutMs?: number
}

/** Runs a pipeline once, in process, and returns its report (spec errors throw). */
export async function run(spec: string, options: RunOptions = {}): Promise<LocalRunReport> {
  const result = await runLocal(spec, { log, threads: 1, ...options })
  if (result.kind !== 'ran') throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('; '))
  return result.report
}

/** What a failing connector must say: a clear message, and whether trying again may help. */
export interface ExpectedFailure {
  what: string
  message: string | RegExp
  retryable: boolean
}

export function expectFailure(report: LocalRunReport, failure: ExpectedFailure): void {
  expect(report.status, failure.what).toBe('failed')
  const error = report.errors.find((e) => e.stage !== 'parse')
  expect(error, `${failure.what}: ${JSON.stringify(report.errors)}`).toBeDefined()
  if (typeof failure.message === 'string') expect(error?.message).toContain(failure.message)
  else expect(error?.message).toMatch(failure.message)
  expect(error?.retryable ?? false, `${failure.what}: retryable`).toBe(failure.retryable)
}

export const YAML_HEAD = (name: string) => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  retry: { attempts: 1 }
`
