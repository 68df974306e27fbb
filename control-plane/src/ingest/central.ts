/**
 * Consumes data batches from JetStream (a durable consumer) and writes them into the warehouse.
 * Messages are taken in groups and written in one warehouse transaction; they are acknowledged
 * only after it commits. A batch that does not decode, does not match its subject or its declared
 * schema, or clashes with the table goes to the dead-letter stream with the reason and is never
 * retried; it does not hold back the batches behind it. A warehouse that is down is retried.
 */
import { fromBinary } from '@bufbuild/protobuf'
import { AckPolicy, type ConsumerMessages, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { nanos, headers as natsHeaders } from '@nats-io/transport-node'
import type { Logger } from '@outpost/agent'
import { CONSUMERS, parseSubject, STREAMS, subjects, TABLE_PATTERN } from '@outpost/shared'
import { checkColumns, decodeColumns, type Value } from '@outpost/shared/batch'
import { DataBatchSchema, SinkMode } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import type { EventBus } from '../events.js'
import { ensureConsumer, type NatsLink } from '../nats/link.js'
import type { Store } from '../store/types.js'
import { SchemaConflictError, type Warehouse, type WarehouseBatch } from '../warehouse/types.js'

const ACK_WAIT_MS = 30_000
/** Bytes of batches asked for at a time: well under nats-server's max_pending for a client. */
const PULL_BYTES = 16 * 1024 * 1024

interface Loadable {
  message: JsMsg
  batch: WarehouseBatch
}

export class InvalidBatchError extends Error {
  override name = 'InvalidBatchError'
}

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/

/** Decodes and checks one message; throws InvalidBatchError with the reason when it is unusable. */
export function decodeBatch(subject: string, data: Uint8Array): WarehouseBatch {
  const parsed = parseSubject(subject)
  if (parsed?.kind !== 'data') throw new InvalidBatchError(`unexpected subject ${subject}`)
  let message: ReturnType<typeof fromBinary<typeof DataBatchSchema>>
  try {
    message = fromBinary(DataBatchSchema, data)
  } catch (error) {
    throw new InvalidBatchError(`data batch does not decode: ${(error as Error).message}`)
  }
  if (message.agentId !== parsed.agentId)
    throw new InvalidBatchError(`batch of agent ${message.agentId} published under ${parsed.agentId}`)
  if (message.pipeline !== parsed.pipeline)
    throw new InvalidBatchError(`batch of pipeline ${message.pipeline} published under ${parsed.pipeline}`)
  // The id names the warehouse file: agents make run ids of letters and digits (r + base32).
  if (!RUN_ID.test(message.runId))
    throw new InvalidBatchError(`invalid run id ${JSON.stringify(message.runId)}`)
  const expectedId = `${message.agentId}/${message.pipeline}/${message.runId}/${message.seq}`
  if (message.batchId !== expectedId)
    throw new InvalidBatchError(`batch id "${message.batchId}" should be "${expectedId}"`)
  if (message.targets.length === 0) throw new InvalidBatchError('batch names no central table')
  for (const t of message.targets) {
    if (!TABLE_PATTERN.test(t.table)) throw new InvalidBatchError(`invalid table name "${t.table}"`)
    if (t.mode === SinkMode.UPSERT && t.keys.length === 0)
      throw new InvalidBatchError(`upsert into ${t.table} without keys`)
  }
  if (message.columns.length === 0 && message.rowCount > 0)
    throw new InvalidBatchError(`batch claims ${message.rowCount} rows but has no columns`)
  // Checked without making a value of any row: the PostgreSQL warehouse loads from the bytes.
  let columns: ReturnType<typeof checkColumns>
  try {
    columns = checkColumns(message.columns, message.rowCount)
  } catch (error) {
    throw new InvalidBatchError(`batch does not match its declared schema: ${(error as Error).message}`)
  }
  const names = new Set<string>()
  for (const c of columns) {
    if (names.has(c.name)) throw new InvalidBatchError(`column "${c.name}" appears twice`)
    names.add(c.name)
  }
  let rows: Value[][] | undefined
  return {
    id: message.batchId,
    agentId: message.agentId,
    pipeline: message.pipeline,
    columns,
    rowCount: message.rowCount,
    wire: message.columns,
    get rows() {
      rows ??= decodeColumns(message.columns, message.rowCount).rows
      return rows
    },
    targets: message.targets.map((t) => ({
      table: t.table,
      mode: t.mode === SinkMode.UPSERT ? 'upsert' : 'append',
      keys: t.keys,
    })),
  }
}

export class CentralIngest {
  written = 0
  deadLettered = 0
  private stopped = false
  /** Batches received, not yet acknowledged, refused or handed back. */
  private readonly held = new Set<JsMsg>()
  private messages: ConsumerMessages | undefined

  constructor(
    private readonly link: NatsLink,
    private readonly warehouse: Warehouse,
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.run().catch((error) =>
      this.log.error('central ingest stopped', { error: (error as Error).message }),
    )
  }

  private async run(): Promise<void> {
    const nc = await this.link.whenReady()
    const jsm = await jetstreamManager(nc)
    // A short ack_wait: batches a crashed control plane held come back within half a minute;
    // long writes send in-progress acks instead.
    await ensureConsumer(jsm, STREAMS.data.name, {
      durable_name: CONSUMERS.data,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ACK_WAIT_MS),
      // Bounds what the control plane holds: 64 batches of at most ~1 MiB.
      max_ack_pending: 64,
    })
    const consumer = await jetstream(nc).consumers.get(STREAMS.data.name, CONSUMERS.data)
    // Batches are pulled continuously into a queue (16 MiB asked for at a time, each batch at most
    // 1 MiB); the writer takes what has arrived, up to 32, whenever it is free: PostgreSQL works
    // while the next batches arrive, and a batch that arrives alone is written at once. (A fetch
    // per group waited up to its expiry for a group to fill, and failed when the client missed a
    // heartbeat.) Pulls are bounded in bytes: asked for 48 batches of ~1 MiB at a time from a
    // backlog, the server had more queued for this connection than its max_pending (64 MiB)
    // while a group was written, dropped it as a slow consumer, and the batches it held came back
    // only after ack_wait (30 s).
    const queue: JsMsg[] = []
    let arrived: (() => void) | undefined
    const pump = (async () => {
      while (!this.stopped) {
        try {
          const messages = await consumer.consume({ max_bytes: PULL_BYTES })
          this.messages = messages
          for await (const m of messages) {
            // Kept in progress from its arrival: a long write must not let it be redelivered.
            this.held.add(m)
            queue.push(m)
            arrived?.()
          }
        } catch (error) {
          this.log.throttled('central-fetch', 60_000, 'warn', 'cannot fetch data batches; retrying', {
            error: (error as Error).message,
          })
        }
        if (!this.stopped) await new Promise((r) => setTimeout(r, 1000))
      }
      arrived?.()
    })()
    const keepAlive = setInterval(() => {
      for (const m of this.held) m.working()
    }, ACK_WAIT_MS / 3)
    try {
      while (!this.stopped) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => {
            arrived = resolve
          })
          arrived = undefined
          continue
        }
        const group = await this.prepare(queue.splice(0, 32))
        if (this.stopped) {
          for (const v of group) v.message.nak()
          break
        }
        try {
          await this.write(group)
        } catch (error) {
          // Acknowledging on a connection that just closed: the batches come back after ack_wait.
          this.log.throttled('central-write', 60_000, 'warn', 'cannot settle data batches; retrying', {
            error: (error as Error).message,
          })
          await new Promise((r) => setTimeout(r, 1000))
        }
      }
      for (const m of queue.splice(0)) m.nak()
    } finally {
      clearInterval(keepAlive)
      this.held.clear()
      this.messages?.stop()
      await pump
    }
  }

  /** Decodes and checks a group; what cannot be loaded goes to the dead-letter stream. */
  private async prepare(group: JsMsg[]): Promise<Loadable[]> {
    const valid: Loadable[] = []
    for (const m of group) {
      try {
        const batch = decodeBatch(m.subject, m.data)
        // A revoked agent's data is not loaded; it stays in the dead-letter stream.
        const agentId = parseSubject(m.subject)?.agentId ?? ''
        if ((await this.store.getAgent(agentId))?.revokedAt)
          throw new InvalidBatchError(`agent ${agentId} is revoked`)
        valid.push({ message: m, batch })
      } catch (error) {
        this.held.delete(m)
        await this.deadLetter(m, (error as Error).message)
      }
    }
    return valid
  }

  /** Writes a group in one warehouse transaction and acknowledges it after the commit. */
  private async write(valid: Loadable[]): Promise<void> {
    if (valid.length === 0) return
    try {
      this.written += await this.warehouse.write(valid.map((v) => v.batch))
      for (const v of valid) v.message.ack()
      this.log.resetThrottle('central-write')
    } catch (error) {
      if (error instanceof SchemaConflictError && valid.length > 1) {
        // Find the batch that cannot be written; write the others.
        for (const v of valid) await this.write([v])
        return
      }
      if (error instanceof SchemaConflictError) {
        await this.deadLetter(valid[0]!.message, error.message)
        return
      }
      this.log.throttled(
        'central-write',
        60_000,
        'error',
        'warehouse write failed; batches will be redelivered',
        { error: (error as Error).message },
      )
      for (const v of valid) v.message.nak(5000)
    } finally {
      for (const v of valid) this.held.delete(v.message)
    }
  }

  private async deadLetter(m: JsMsg, reason: string): Promise<void> {
    const nc = this.link.nc
    if (!nc) {
      m.nak(5000)
      return
    }
    const h = natsHeaders()
    h.set('Outpost-Reason', reason.slice(0, 1000))
    h.set('Outpost-Subject', m.subject)
    try {
      const ack = await jetstream(nc).publish(subjects.deadLetter(m.subject), m.data, { headers: h })
      const parsed = parseSubject(m.subject)
      await this.store.recordDeadLetter({
        seq: ack.seq,
        subject: m.subject,
        agentId: parsed?.agentId ?? '',
        pipeline: parsed?.pipeline ?? '',
        reason,
        bytes: m.data.length,
        at: Date.now(),
      })
      m.term()
      this.deadLettered++
      this.log.warn('batch refused and kept in the dead-letter stream', { subject: m.subject, reason })
      this.events.emit('deadLetter', { subject: m.subject, reason })
    } catch (error) {
      this.log.throttled('dead-letter', 60_000, 'error', 'cannot dead-letter a batch; will retry', {
        error: (error as Error).message,
      })
      m.nak(5000)
    }
  }

  stop(): void {
    this.stopped = true
    this.messages?.stop()
  }
}
