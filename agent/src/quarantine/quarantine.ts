/**
 * The quarantine at the site: every row a cast, a rule or the decoder rejected, with the reason,
 * the offending value, the run and the row as read. Operators list it and, after pushing a fix,
 * replay it through the pipeline's current version. A replay is a run like any other (trigger
 * "replay"): its chunks come from here instead of the source, and each chunk's entries leave the
 * quarantine in the same LMDB transaction that commits the chunk's batch, so every replayed row
 * lands exactly once, however often a replay is interrupted and started again.
 */
import { type Column, jsonValue, type Value } from '@outpost/shared/batch'
import type { SourceChunk, SourceReader } from '../sources/types.js'
import type { AgentState, QuarantineEntry } from '../state/store.js'
import { rowBytes } from '../workers/row-limits.js'
import { encodeReplayChunk } from './codec.js'

export type QuarantineKey = [pipeline: string, runId: string, seq: number]

/** Rows per replay chunk, and about the most bytes (rows over the row limits are big). */
const REPLAY_CHUNK_ROWS = 2000
const REPLAY_CHUNK_BYTES = 4 * 1024 * 1024
/**
 * Longest text shown in a listing: listings travel in one gRPC message, and rows quarantined for
 * their size would not fit.
 */
export const LISTED_TEXT_CHARS = 1000

function clip<T>(value: T): T | string {
  if (typeof value !== 'string' || value.length <= LISTED_TEXT_CHARS) return value
  return `${value.slice(0, LISTED_TEXT_CHARS)}… (${value.length} characters)`
}

export interface QuarantineListing {
  pipeline: string
  total: number
  /** Entries that can be replayed (rows the decoder could not read at all cannot). */
  replayable: number
  byRule: Record<string, number>
  byRun: { runId: string; version: number; rows: number }[]
  /** The first `limit` entries, oldest first, with the row as JSON values. */
  entries: {
    runId: string
    seq: number
    version: number
    source: string
    record: number
    rule: string
    reason: string
    column?: string
    value?: string
    row: Record<string, unknown>
    at: string
  }[]
}

/** Keys of a pipeline's entries (of one run, when given), oldest first. */
function keysOf(state: AgentState, pipeline: string, runId?: string): QuarantineKey[] {
  const keys: QuarantineKey[] = []
  for (const key of state.quarantine.getKeys({ start: runId ? [pipeline, runId] : [pipeline] })) {
    const k = key as QuarantineKey
    if (k[0] !== pipeline || (runId !== undefined && k[1] !== runId)) break
    keys.push(k)
  }
  return keys
}

/** The columns of the row as read; entries written before columns were kept get text columns. */
function columnsOf(entry: QuarantineEntry): Column[] | undefined {
  if (entry.columns) return entry.columns.length > 0 ? entry.columns : undefined
  const names = Object.keys(entry.row)
  if (names.length === 0 || (names.length === 1 && names[0] === '_raw')) return undefined
  if (!names.every((n) => entry.row[n] === null || typeof entry.row[n] === 'string')) return undefined
  return names.map((name) => ({ name, type: 'string' }))
}

function jsonRow(entry: QuarantineEntry): Record<string, unknown> {
  const columns = columnsOf(entry)
  if (!columns) return { ...entry.row }
  return Object.fromEntries(
    columns.map((c) => [c.name, jsonValue((entry.row[c.name] ?? null) as Value, c.type)]),
  )
}

export function listQuarantine(
  state: AgentState,
  pipeline: string,
  options: { runId?: string; limit?: number } = {},
): QuarantineListing {
  const limit = options.limit ?? 20
  const listing: QuarantineListing = { pipeline, total: 0, replayable: 0, byRule: {}, byRun: [], entries: [] }
  const runs = new Map<string, { runId: string; version: number; rows: number }>()
  for (const key of keysOf(state, pipeline, options.runId)) {
    const entry = state.quarantine.get(key)
    if (!entry) continue
    listing.total++
    if (columnsOf(entry)) listing.replayable++
    listing.byRule[entry.rule] = (listing.byRule[entry.rule] ?? 0) + 1
    const run = runs.get(key[1]) ?? { runId: key[1], version: entry.version, rows: 0 }
    run.rows++
    runs.set(key[1], run)
    if (listing.entries.length < limit) {
      listing.entries.push({
        runId: key[1],
        seq: key[2],
        version: entry.version,
        source: entry.source,
        record: entry.record,
        rule: entry.rule,
        reason: entry.reason,
        ...(entry.column !== undefined ? { column: entry.column } : {}),
        ...(entry.value !== undefined ? { value: clip(entry.value) } : {}),
        row: Object.fromEntries(Object.entries(jsonRow(entry)).map(([name, v]) => [name, clip(v)])),
        at: new Date(entry.at).toISOString(),
      })
    }
  }
  listing.byRun = [...runs.values()]
  return listing
}

/** What a replay chunk carries besides its rows: the entries it settles and where each row came from. */
export interface ReplayOrigin {
  keys: QuarantineKey[]
  sources: string[]
  records: number[]
}

/**
 * Reads a pipeline's quarantined rows as source chunks, oldest first: consecutive entries with the
 * same source and columns form a chunk. Entries of the replay's own run are never read back, and
 * rows that were never decoded stay where they are.
 */
export function quarantineReader(
  state: AgentState,
  pipeline: string,
  filter: { runId?: string },
  ownRunId: string,
): SourceReader {
  return {
    async *chunks(signal: AbortSignal): AsyncIterable<SourceChunk> {
      const keys = keysOf(state, pipeline, filter.runId).filter((k) => k[1] !== ownRunId)
      let pending:
        | {
            columns: Column[]
            signature: string
            source: string
            rows: Value[][]
            bytes: number
            origin: ReplayOrigin
          }
        | undefined
      const flush = (): SourceChunk | undefined => {
        if (!pending || pending.rows.length === 0) return undefined
        const { columns, rows, origin, source } = pending
        pending = undefined
        const bytes = encodeReplayChunk(columns, rows)
        return {
          bytes,
          decodeState: undefined,
          label: source,
          bytesRead: 0,
          replay: origin,
          cursor: () => [],
        }
      }
      for (const key of keys) {
        if (signal.aborted) return
        const entry = state.quarantine.get(key)
        if (!entry) continue
        const columns = columnsOf(entry)
        if (!columns) continue
        const signature = `${entry.source}\u0000${columns.map((c) => `${c.name}:${c.type}`).join(',')}`
        const full =
          pending && (pending.rows.length >= REPLAY_CHUNK_ROWS || pending.bytes >= REPLAY_CHUNK_BYTES)
        if (pending && (pending.signature !== signature || full)) {
          const chunk = flush()
          if (chunk) yield chunk
        }
        pending ??= {
          columns,
          signature,
          source: entry.source,
          rows: [],
          bytes: 0,
          origin: { keys: [], sources: [], records: [] },
        }
        const row = columns.map((c) => (entry.row[c.name] ?? null) as Value)
        pending.rows.push(row)
        pending.bytes += rowBytes(row)
        pending.origin.keys.push(key)
        pending.origin.sources.push(entry.source)
        pending.origin.records.push(entry.record)
      }
      const last = flush()
      if (last) yield last
    },
    async close() {},
  }
}

/** Replay runs carry their filter in the trigger: `replay` or `replay:<runId>`. */
export function replayTrigger(runId?: string): string {
  return runId ? `replay:${runId}` : 'replay'
}

export function parseReplayTrigger(trigger: string): { runId?: string } | undefined {
  if (trigger === 'replay') return {}
  if (trigger.startsWith('replay:')) return { runId: trigger.slice('replay:'.length) }
  return undefined
}
