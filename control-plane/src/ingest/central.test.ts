// A fetch of data batches that ends in an error (the client missed the pull's heartbeats while
// the control plane was short of CPU) after batches arrived: those batches are loaded, not left
// pending until JetStream's ack_wait brings them back half a minute later.
import { AckPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../../../test/helpers/nats.js'
import { received } from './central.js'

describe('central ingest fetches', () => {
  let nats: NatsServer
  let nc: NatsConnection
  beforeAll(async () => {
    nats = await startNats()
    nc = await connect({ servers: nats.url })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'batches', subjects: ['batches.>'] })
    await jsm.consumers.add('batches', {
      durable_name: 'loader',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 30e9,
    })
  })
  afterAll(async () => {
    await nc?.close()
    await nats?.dispose()
  })

  it('keeps the batches a fetch delivered before it failed, and they can be acknowledged', async () => {
    const js = jetstream(nc)
    for (let i = 0; i < 3; i++) await js.publish('batches.a', new TextEncoder().encode(`batch ${i}`))
    const consumer = await js.consumers.get('batches', 'loader')
    const fetched = await consumer.fetch({ max_messages: 3, expires: 2000 })
    // The fetch as it behaves when the client misses its heartbeats after two batches arrived.
    async function* failingAfterTwo(): AsyncIterable<JsMsg> {
      let n = 0
      for await (const m of fetched) {
        yield m
        if (++n === 2) throw new Error('heartbeats missed')
      }
    }
    const { messages, error } = await received(failingAfterTwo())
    expect((error as Error).message).toBe('heartbeats missed')
    expect(messages.map((m) => m.string())).toEqual(['batch 0', 'batch 1'])
    for (const m of messages) expect(await m.ackAck()).toBe(true)
    const info = await consumer.info()
    // The two acknowledged; only the third, which the failed fetch never handed over, is pending.
    expect(info.num_ack_pending).toBe(1)
    expect(info.ack_floor.stream_seq).toBe(2)
  })
})
