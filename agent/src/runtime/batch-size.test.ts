import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../../../test/helpers/nats.js'
import { DEFAULT_MAX_BATCH_BYTES, withIdentity } from './run.js'

describe('the largest data batch', () => {
  let nats: NatsServer
  beforeAll(async () => {
    nats = await startNats()
  })
  afterAll(async () => {
    await nats.dispose()
  })

  it('is accepted by a NATS server with the default max_payload, with its id and Nats-Msg-Id', async () => {
    const nc = await connect({ servers: nats.url })
    try {
      await (await jetstreamManager(nc)).streams.add({ name: 'SIZE', subjects: ['size.>'] })
      const js = jetstream(nc)
      const id = `agt-${'x'.repeat(20)}/${'p'.repeat(63)}/r${'0'.repeat(20)}/999999999`
      const publish = (bytes: number) =>
        js.publish(`size.${'a'.repeat(30)}.data`, withIdentity(new Uint8Array(bytes), id, 999_999_999), {
          msgID: id,
        })
      await expect(publish(DEFAULT_MAX_BATCH_BYTES)).resolves.toMatchObject({ stream: 'SIZE' })
      // The margin is needed: a batch as large as max_payload is refused.
      await expect(publish(nc.info?.max_payload ?? 1 << 20)).rejects.toThrow(/max_payload/)
    } finally {
      await nc.close()
    }
  })
})
