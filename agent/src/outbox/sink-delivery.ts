/**
 * Writes the outbox's sink lanes to their local sinks, each lane in order. A batch is removed
 * from the outbox only after its sink has taken it; a failing sink is retried with backoff and
 * holds back only its own lane.
 */
import { isRetryable, SinkError, serializeError } from '@outpost/shared'
import type { FileRoots } from '../file-roots.js'
import type { Logger } from '../log.js'
import { sinks } from '../registry.js'
import { Backoff } from '../runtime/backoff.js'
import { toRunnable } from '../runtime/pipeline.js'
import { sleep } from '../runtime/run.js'
import type { SecretResolver } from '../secrets.js'
import type { SinkImpl, SinkWriter } from '../sinks/types.js'
import type { AgentState } from '../state/store.js'
import type { Outbox, OutboxRecord } from './outbox.js'

export interface SinkDeliveryOptions {
  agentId: string
  state: AgentState
  outbox: Outbox
  log: Logger
  secrets: SecretResolver
  /** The agent's file_roots, when set. */
  fileRoots?: FileRoots | undefined
}

export interface LaneFailure {
  lane: string
  message: string
  retryable: boolean
  since: number
}

export class SinkDelivery {
  private readonly running = new Map<string, Promise<void>>()
  private readonly writers = new Map<string, SinkWriter>()
  private readonly failures = new Map<string, LaneFailure>()
  /** Rows each lane has written since start. */
  readonly deliveredRows = new Map<string, number>()
  private readonly abort = new AbortController()
  private readonly onAppend = (lane: string) => {
    if (lane.startsWith('sink:')) this.kick(lane)
  }

  constructor(private readonly options: SinkDeliveryOptions) {}

  start(): void {
    this.options.outbox.on('append', this.onAppend)
    for (const lane of this.options.outbox.lanesWithData()) if (lane.startsWith('sink:')) this.kick(lane)
  }

  /** Lanes whose sink is failing right now. */
  failing(): LaneFailure[] {
    return [...this.failures.values()]
  }

  private kick(lane: string): void {
    if (this.running.has(lane) || this.abort.signal.aborted) return
    const loop = this.deliverLane(lane).finally(() => {
      this.running.delete(lane)
      // Something may have arrived between the last read and the end of the loop.
      if (!this.abort.signal.aborted && this.options.outbox.read(lane, 0, 1).length > 0) this.kick(lane)
    })
    this.running.set(lane, loop)
  }

  private async deliverLane(lane: string): Promise<void> {
    const { outbox, log } = this.options
    const backoff = new Backoff(500, 60_000)
    while (!this.abort.signal.aborted) {
      const records = outbox.read(lane, 0, 8)
      if (records.length === 0) return
      for (const record of records) {
        for (;;) {
          if (this.abort.signal.aborted) return
          try {
            await this.deliver(record)
            await outbox.remove([record])
            this.deliveredRows.set(lane, (this.deliveredRows.get(lane) ?? 0) + (record.header.rows ?? 0))
            if (this.failures.delete(lane)) log.info('sink recovered', { lane })
            backoff.reset()
            break
          } catch (error) {
            const e = serializeError(error)
            const retryable = isRetryable(error) || e.retryable
            this.failures.set(lane, {
              lane,
              message: e.message,
              retryable,
              since: this.failures.get(lane)?.since ?? Date.now(),
            })
            log.throttled(`sink:${lane}`, 60_000, 'warn', 'sink write failed; retrying', {
              lane,
              batch: record.header.id,
              error: e.message,
              retryable,
            })
            try {
              await sleep(backoff.next(), this.abort.signal)
            } catch {
              return
            }
          }
        }
      }
    }
  }

  private async deliver(record: OutboxRecord): Promise<void> {
    const { header } = record
    const pipeline = header.pipeline as string
    const version = header.version as number
    const sinkIndex = header.sink as number
    const writerKey = `${pipeline}@${version}#${sinkIndex}`
    let writer = this.writers.get(writerKey)
    if (!writer) {
      const stored = this.options.state.specs.get([pipeline, version])
      if (!stored) throw new Error(`spec of ${pipeline} version ${version} is missing from the agent state`)
      const runnable = toRunnable(stored)
      if ('error' in runnable)
        throw new Error(`spec of ${pipeline} version ${version} is invalid: ${runnable.error}`)
      const options = runnable.pipeline.spec.sinks[sinkIndex]
      if (!options) throw new Error(`${pipeline} version ${version} has no sink ${sinkIndex}`)
      const impl = sinks[options.type] as SinkImpl<unknown>
      writer = impl.open(this.options.secrets.resolveDeep(options), {
        agentId: this.options.agentId,
        pipeline,
        log: this.options.log.child({ pipeline, sink: sinkIndex }),
        secrets: this.options.secrets,
        fileRoots: this.options.fileRoots,
      })
      this.writers.set(writerKey, writer)
    }
    const [agentId = '', , runId = '', seq = '0'] = header.id.split('/')
    if (header.kind === 'sink-end') {
      await writer.finishRun?.({ runId, succeeded: header.succeeded ?? false })
      return
    }
    await writer.write({
      id: header.id,
      agentId,
      pipeline,
      runId,
      seq: Number(seq),
      createdAt: header.createdAt,
      rows: header.rows ?? 0,
      payload: record.payload,
    })
  }

  /** Resolves once every sink lane is empty, or rejects with the failing lanes after `timeoutMs`. */
  async drain(timeoutMs: number, lanePrefix = 'sink:'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const pending = this.options.outbox.lanesWithData().filter((l) => l.startsWith(lanePrefix))
      if (pending.length === 0) return
      const failing = this.failing().filter((f) => f.lane.startsWith(lanePrefix))
      if (failing.some((f) => !f.retryable) || Date.now() > deadline) {
        throw new SinkError(
          failing.length > 0
            ? failing.map((f) => `${f.lane}: ${f.message}`).join('; ')
            : `sinks still busy after ${timeoutMs} ms: ${pending.join(', ')}`,
          failing.every((f) => f.retryable),
        )
      }
      await sleep(20)
    }
  }

  async stop(): Promise<void> {
    this.options.outbox.off('append', this.onAppend)
    this.abort.abort()
    await Promise.allSettled(this.running.values())
    await Promise.allSettled([...this.writers.values()].map((w) => w.close()))
    this.writers.clear()
  }
}
