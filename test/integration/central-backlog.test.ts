import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { subjects } from '@outpost/shared'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import { type ControlPlaneHandle, startControlPlane } from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { typedBatch } from '../helpers/typed-rows.js'
import { waitFor } from '../helpers/wait.js'

const BATCHES = 100
/** A batch of the benchmark's ten typed columns, ~0.95 MiB: many small cells, the loader's CPU. */
const ROWS = 7700
describe('central backlog', () => {
  let nats: NatsServer
  let db: TestDatabase
  let cp: ControlPlaneHandle | undefined

  beforeAll(async () => {
    nats = await startNats()
    db = await createDatabase()
  })
  afterAll(async () => {
    await cp?.process.stop()
    await db?.drop()
    await nats?.dispose()
  })

  it('loads 100 batches of ~0.95 MiB waiting in JetStream without being dropped as a slow consumer', async () => {
    // The control plane creates the streams; the batches arrive while it is down.
    const first = await startControlPlane(nats.url, { extraArgs: ['--warehouse-url', db.url] })
    await first.process.waitForLog((l) => l.msg === 'connected to NATS', 'NATS')
    await first.process.stop()
    const nc = await connect({ servers: nats.url })
    const js = jetstream(nc)
    for (let b = 0; b < BATCHES; b++) {
      const { id, bytes } = typedBatch('agt-backlog', 'backlog', 'backlog', b, b * ROWS + 1, ROWS)
      expect(bytes.length).toBeGreaterThan(900_000)
      await js.publish(subjects.data('agt-backlog', 'backlog'), bytes, { msgID: id })
    }
    await nc.close()

    cp = await startControlPlane(nats.url, { extraArgs: ['--warehouse-url', db.url] })
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      const count = async () =>
        Number(
          (await client.query<{ n: string }>('SELECT coalesce(sum(row_count), 0) AS n FROM outpost_ledger'))
            .rows[0]?.n,
        )
      // Well before ack_wait (30 s) would bring back batches a dropped connection held.
      await waitFor('the backlog in the warehouse', async () => (await count()) === BATCHES * ROWS, 25_000)
      const rows = await client.query<{ n: string; d: string }>(
        'SELECT count(*) AS n, count(DISTINCT id) AS d FROM backlog',
      )
      expect(rows.rows[0]).toEqual({ n: String(BATCHES * ROWS), d: String(BATCHES * ROWS) })
      expect(cp.process.logs.filter((l) => l.msg === 'NATS connection lost')).toEqual([])
    } finally {
      await client.end()
    }
  })
})
