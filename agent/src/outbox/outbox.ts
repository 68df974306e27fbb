/**
 * The agent's outbox: everything it must deliver (data batches, run events, metrics, batches for
 * local sinks) waits here, in LMDB, until its destination has acknowledged it. Entries live in
 * lanes (`nats`, `sink:<pipeline>:<index>`), each in order; sequence numbers are global,
 * monotonic and never reused.
 */
import { EventEmitter } from 'node:events'
import type { AgentState } from '../state/store.js'

export const NATS_LANE = 'nats'

export function sinkLane(pipeline: string, sinkIndex: number): string {
  return `sink:${pipeline}:${sinkIndex}`
}

export interface OutboxHeader {
  /** Stable id; the JetStream Nats-Msg-Id for the nats lane, the batch id for sinks. */
  id: string
  kind: 'data' | 'run' | 'metrics' | 'sink' | 'sink-end'
  createdAt: number
  subject?: string
  pipeline?: string
  version?: number
  sink?: number
  rows?: number
  /** For sink-end entries: whether the run succeeded. */
  succeeded?: boolean
}

export interface OutboxRecord {
  lane: string
  seq: number
  header: OutboxHeader
  payload: Uint8Array
  bytes: number
}

export interface PendingAppend {
  lane: string
  header: OutboxHeader
  payload: Uint8Array
}

export interface OutboxStats {
  batches: number
  bytes: number
  oldestCreatedAt: number | undefined
  lanes: Record<string, { batches: number; bytes: number }>
}

const MAX_KEY: [string, number] = ['\uffff', Number.MAX_SAFE_INTEGER]

function frame(header: OutboxHeader, payload: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify(header))
  const out = Buffer.allocUnsafe(4 + head.length + payload.length)
  out.writeUInt32LE(head.length, 0)
  head.copy(out, 4)
  out.set(payload, 4 + head.length)
  return out
}

function unframe(lane: string, seq: number, value: Buffer): OutboxRecord {
  const headLength = value.readUInt32LE(0)
  const header = JSON.parse(value.toString('utf8', 4, 4 + headLength)) as OutboxHeader
  return { lane, seq, header, payload: value.subarray(4 + headLength), bytes: value.length }
}

export class Outbox extends EventEmitter<{ append: [lane: string]; remove: [] }> {
  private nextSeq: number
  private readonly lanes = new Map<string, { batches: number; bytes: number }>()

  constructor(private readonly state: AgentState) {
    super()
    let maxSeq = Number(state.meta.get('outboxSeq') ?? 0)
    for (const { key, value } of state.outbox.getRange({})) {
      const [lane, seq] = key
      const stats = this.laneStats(lane)
      stats.batches++
      stats.bytes += value.length
      if (seq > maxSeq) maxSeq = seq
    }
    this.nextSeq = maxSeq + 1
  }

  private laneStats(lane: string) {
    let stats = this.lanes.get(lane)
    if (!stats) {
      stats = { batches: 0, bytes: 0 }
      this.lanes.set(lane, stats)
    }
    return stats
  }

  /**
   * Puts entries into the outbox from inside a `state.root.transactionSync` callback, so that they
   * commit together with whatever else the callback writes (the source cursor). Call `committed`
   * with the returned token once the transaction has committed.
   */
  appendInTransaction(entries: readonly PendingAppend[]): AppendToken {
    const token: AppendToken = { entries: [] }
    for (const entry of entries) {
      const seq = this.nextSeq++
      const value = frame(entry.header, entry.payload)
      this.state.outbox.put([entry.lane, seq], value)
      token.entries.push({ lane: entry.lane, bytes: value.length })
    }
    this.state.meta.put('outboxSeq', this.nextSeq - 1)
    return token
  }

  committed(token: AppendToken): void {
    const lanes = new Set<string>()
    for (const e of token.entries) {
      const stats = this.laneStats(e.lane)
      stats.batches++
      stats.bytes += e.bytes
      lanes.add(e.lane)
    }
    for (const lane of lanes) this.emit('append', lane)
  }

  /** Appends in a (synchronous, durable) transaction of its own. */
  async append(entries: readonly PendingAppend[]): Promise<void> {
    this.committed(this.state.root.transactionSync(() => this.appendInTransaction(entries)))
  }

  /** Up to `limit` entries of a lane after `afterSeq`, in order. */
  read(lane: string, afterSeq: number, limit: number): OutboxRecord[] {
    const out: OutboxRecord[] = []
    for (const { key, value } of this.state.outbox.getRange({
      start: [lane, afterSeq + 1],
      end: [lane, MAX_KEY[1]],
      limit,
    })) {
      out.push(unframe(lane, key[1], value))
    }
    return out
  }

  /** Deletes acknowledged entries. */
  async remove(records: readonly Pick<OutboxRecord, 'lane' | 'seq' | 'bytes'>[]): Promise<void> {
    this.removeSync(records)
  }

  private removeSync(records: readonly Pick<OutboxRecord, 'lane' | 'seq' | 'bytes'>[]): void {
    if (records.length === 0) return
    this.state.root.transactionSync(() => {
      for (const r of records) this.state.outbox.remove([r.lane, r.seq])
    })
    for (const r of records) {
      const stats = this.laneStats(r.lane)
      stats.batches--
      stats.bytes -= r.bytes
    }
    this.emit('remove')
  }

  /** Bytes waiting in all lanes. */
  totalBytes(): number {
    let bytes = 0
    for (const s of this.lanes.values()) bytes += s.bytes
    return bytes
  }

  /** Resolves at the next removal, after `timeoutMs`, or when the signal aborts. */
  nextRemoval(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.off('remove', done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.once('remove', done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /**
   * Removes a pipeline's oldest undelivered data (central batches and local sink batches,
   * oldest first by sequence) until at least `bytesNeeded` are freed. Run events and metrics are
   * never dropped.
   */
  dropOldest(pipeline: string, bytesNeeded: number): { batches: number; rows: number } {
    const candidates: OutboxRecord[] = []
    for (const lane of this.lanesWithData()) {
      if (lane !== NATS_LANE && !lane.startsWith(`sink:${pipeline}:`)) continue
      for (const r of this.read(lane, 0, 10_000)) {
        if (r.header.pipeline === pipeline && (r.header.kind === 'data' || r.header.kind === 'sink'))
          candidates.push(r)
      }
    }
    candidates.sort((a, b) => a.seq - b.seq)
    const victims: OutboxRecord[] = []
    let freed = 0
    for (const r of candidates) {
      if (freed >= bytesNeeded) break
      victims.push(r)
      freed += r.bytes
    }
    if (victims.length === 0) return { batches: 0, rows: 0 }
    this.removeSync(victims)
    // A batch goes to every sink of the pipeline: count its rows once, by batch id.
    const rows = new Map<string, number>()
    for (const v of victims) rows.set(v.header.id, v.header.rows ?? 0)
    return { batches: rows.size, rows: [...rows.values()].reduce((a, b) => a + b, 0) }
  }

  lanesWithData(): string[] {
    return [...this.lanes.entries()].filter(([, s]) => s.batches > 0).map(([lane]) => lane)
  }

  stats(): OutboxStats {
    let batches = 0
    let bytes = 0
    let oldest: number | undefined
    const lanes: OutboxStats['lanes'] = {}
    for (const [lane, s] of this.lanes) {
      if (s.batches <= 0) continue
      batches += s.batches
      bytes += s.bytes
      lanes[lane] = { ...s }
      const first = this.read(lane, 0, 1)[0]
      if (first && (oldest === undefined || first.header.createdAt < oldest)) oldest = first.header.createdAt
    }
    return { batches, bytes, oldestCreatedAt: oldest, lanes }
  }
}

export interface AppendToken {
  entries: { lane: string; bytes: number }[]
}
