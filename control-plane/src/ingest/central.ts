/**
 * Consumes data batches from JetStream (a durable consumer) and writes them into the warehouse.
 * Messages are taken in groups and written in one warehouse transaction; they are acknowledged
 * only after it commits. A batch that does not decode, does not match its subject or its declared
 * schema, or clashes with the table goes to the dead-letter stream with the reason and is never
 * retried; it does not hold back the batches behind it. A warehouse that is down is retried.
 */
import { fromBinary } from '@bufbuild/protobuf'
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream'
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

/**
 * The messages a fetch delivered, with the error that ended it early, if one did. A pull whose
 * heartbeats the client missed (a control plane short of CPU) ends with an error after messages
 * have arrived; those are loaded. Dropped, they stayed pending and came back only after ack_wait
 * (30 s): measured as stalls of 16-25 s in the central benchmark.
 */
export async function received(
  fetched: AsyncIterable<JsMsg>,
): Promise<{ messages: JsMsg[]; error?: unknown }> {
  const messages: JsMsg[] = []
  try {
    for await (const m of fetched) messages.push(m)
  } catch (error) {
    return { messages, error }
  }
  return { messages }
}

export class CentralIngest {
  written = 0
  deadLettered = 0
  private stopped = false
  /** Batches fetched and checked, not yet acknowledged, refused or handed back. */
  private readonly held = new Set<JsMsg>()

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
      max_ack_pending: 256,
    })
    const consumer = await jetstream(nc).consumers.get(STREAMS.data.name, CONSUMERS.data)
    // The next group is fetched and checked while the current one is written: the control plane
    // and PostgreSQL work at the same time. Groups are still written one after another, in order.
    const nextGroup = async (): Promise<Loadable[] | undefined> => {
      try {
        // A fetch returns at 32 batches or after a second (the client's shortest wait): a batch
        // that arrives alone waits at most that long.
        const fetched = await consumer.fetch({ max_messages: 32, expires: 1000 })
        const { messages, error } = await received(fetched)
        if (error !== undefined && messages.length === 0) throw error
        if (error !== undefined)
          this.log.debug('a fetch of data batches ended early; loading what it brought', {
            batches: messages.length,
            error: (error as Error).message,
          })
        return await this.prepare(messages)
      } catch (error) {
        if (this.stopped) return undefined
        this.log.throttled('central-fetch', 60_000, 'warn', 'cannot fetch data batches; retrying', {
          error: (error as Error).message,
        })
        await new Promise((r) => setTimeout(r, 1000))
        return undefined
      }
    }
    // Every batch fetched and not yet settled, the next group's too, is kept in progress: a long
    // write must not let the group waiting behind it be redelivered.
    const keepAlive = setInterval(() => {
      for (const m of this.held) m.working()
    }, ACK_WAIT_MS / 3)
    try {
      let next = nextGroup()
      while (!this.stopped) {
        const group = await next
        if (this.stopped) {
          for (const v of group ?? []) v.message.nak()
          break
        }
        next = nextGroup()
        if (!group) continue
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
      for (const v of (await next) ?? []) v.message.nak()
    } finally {
      clearInterval(keepAlive)
      this.held.clear()
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
        this.held.add(m)
      } catch (error) {
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
  }
}
