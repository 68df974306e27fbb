// Central sinks end to end: agent → outbox → JetStream → control plane → PostgreSQL (and Parquet
// without a warehouse URL). Rows land exactly once, upserts keep one row per key, new columns are
// added, and batches the control plane cannot use go to the dead-letter stream without holding
// back the others.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, toBinary } from '@bufbuild/protobuf'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { encodeColumns } from '@outpost/shared/batch'
import { DataBatchSchema, SinkMode } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { waitFor } from '../helpers/wait.js'

function centralSpec(
  name: string,
  path: string,
  sink: Record<string, unknown>,
  transforms: unknown[] = [{ cast: { id: 'int', amount: 'decimal' } }],
) {
  return {
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name },
    spec: {
      schedule: { every: '1s' },
      source: { type: 'csv', path },
      transforms,
      sinks: [{ type: 'central', ...sink }],
    },
  }
}

describe('central warehouse (PostgreSQL)', () => {
  let nats: NatsServer
  let db: TestDatabase
  let cp: ControlPlaneHandle
  let agent: { process: OutpostProcess }
  let work: string

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-central-'))
    nats = await startNats()
    db = await createDatabase()
    cp = await startControlPlane(nats.url, { extraArgs: ['--warehouse-url', db.url] })
    agent = await startAgent(cp.grpc, { token: await createToken(cp.api), name: 'central-edge' })
    await agent.process.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
  })

  afterAll(async () => {
    await agent?.process.stop()
    await cp?.process.stop()
    await db?.drop()
    await nats?.dispose()
    rmSync(work, { recursive: true, force: true })
  })

  it('appends every row exactly once, across many batches', async () => {
    const dir = join(work, 'append')
    mkdirSync(dir)
    const lines = ['id,amount,note']
    for (let i = 1; i <= 50_000; i++) lines.push(`${i},${(i % 100) + 0.25},"note, ${i}"`)
    writeFileSync(join(dir, 'a.csv'), `${lines.join('\n')}\n`)
    expect(
      (
        await api(
          cp.api,
          'PUT',
          '/api/v1/pipelines/sales',
          centralSpec('sales', join(dir, '*.csv'), { table: 'sales' }),
        )
      ).status,
    ).toBe(201)
    await waitFor(
      '50,000 rows in sales',
      async () => {
        const [row] = await db
          .query<{ n: string }>('SELECT count(*) AS n FROM sales')
          .catch(() => [{ n: '0' }])
        return Number(row?.n) >= 50_000 || undefined
      },
      60_000,
    )
    await new Promise((r) => setTimeout(r, 3000))
    const [stats] = await db.query<{ n: string; d: string; s: string }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS d, sum(amount) AS s FROM sales',
    )
    expect(Number(stats?.n)).toBe(50_000)
    expect(Number(stats?.d)).toBe(50_000)
    let sum = 0
    for (let i = 1; i <= 50_000; i++) sum += (i % 100) + 0.25
    expect(Number(stats?.s)).toBeCloseTo(sum, 2)
    const columns = await db.query<{ column_name: string; data_type: string }>(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'sales' ORDER BY ordinal_position",
    )
    expect(columns.map((c) => `${c.column_name}:${c.data_type}`)).toEqual([
      'id:bigint',
      'amount:numeric',
      'note:text',
    ])
    const ledger = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM outpost_ledger WHERE pipeline = 'sales'",
    )
    expect(Number(ledger[0]?.n)).toBeGreaterThan(1)
  })

  it('upserts by key (the last row wins) and adds a new column when the spec adds one', async () => {
    const dir = join(work, 'upsert')
    mkdirSync(dir)
    writeFileSync(join(dir, 'a.csv'), 'id,amount\n1,10\n2,20\n1,11\n')
    const spec = centralSpec('prices', join(dir, '*.csv'), { table: 'prices', mode: 'upsert', keys: ['id'] })
    expect((await api(cp.api, 'PUT', '/api/v1/pipelines/prices', spec)).status).toBe(201)
    await waitFor(
      '2 rows in prices',
      async () => {
        const rows = await db
          .query<{ id: string; amount: string }>('SELECT id, amount FROM prices ORDER BY id')
          .catch(() => [])
        return rows.length === 2 ? rows : undefined
      },
      30_000,
    )
    writeFileSync(join(dir, 'b.csv'), 'id,amount,currency\n2,25,EUR\n3,30,USD\n')
    await waitFor(
      '3 rows with the new column',
      async () => {
        const rows = await db
          .query<{ id: string; amount: string; currency: string | null }>(
            'SELECT id, amount, currency FROM prices ORDER BY id',
          )
          .catch(() => [])
        return rows.length === 3 ? rows : undefined
      },
      30_000,
    )
    const rows = await db.query<{ id: string; amount: string; currency: string | null }>(
      'SELECT id, amount, currency FROM prices ORDER BY id',
    )
    expect(rows).toEqual([
      { id: '1', amount: '11', currency: null },
      { id: '2', amount: '25', currency: 'EUR' },
      { id: '3', amount: '30', currency: 'USD' },
    ])
  })

  it('sends undecodable, spoofed and clashing batches to the dead-letter stream; later batches still land', async () => {
    const nc = await connect({ servers: nats.url })
    const js = jetstream(nc)
    const agents = (await api<{ items: { id: string }[] }>(cp.api, 'GET', '/api/v1/agents')).body.items
    const agentId = agents[0]!.id
    await js.publish(`outpost.agent.${agentId}.data.sales`, new Uint8Array([1, 2, 3, 255]), {
      msgID: 'garbage-1',
    })
    // A well-formed batch that claims to come from another agent than its subject says.
    const spoofed = create(DataBatchSchema, {
      batchId: 'agt-someone-else/sales/r1/1',
      agentId: 'agt-someone-else',
      pipeline: 'sales',
      runId: 'r1',
      seq: 1n,
      rowCount: 1,
      columns: encodeColumns({ columns: [{ name: 'id', type: 'int' }], rows: [[999_999]] }),
      targets: [{ table: 'sales', mode: SinkMode.APPEND, keys: [] }],
    })
    await js.publish(`outpost.agent.${agentId}.data.sales`, toBinary(DataBatchSchema, spoofed), {
      msgID: 'spoof-1',
    })
    // Text PostgreSQL cannot hold (a NUL): refused the same way on every retry, so not retried.
    const nul = create(DataBatchSchema, {
      batchId: `${agentId}/sales/r1/1`,
      agentId,
      pipeline: 'sales',
      runId: 'r1',
      seq: 1n,
      rowCount: 1,
      columns: encodeColumns({ columns: [{ name: 'note', type: 'string' }], rows: [['a\u0000b']] }),
      targets: [{ table: 'nul_target', mode: SinkMode.APPEND, keys: [] }],
    })
    await js.publish(`outpost.agent.${agentId}.data.sales`, toBinary(DataBatchSchema, nul), {
      msgID: 'nul-1',
    })
    await nc.close()

    // A batch whose columns clash with the table: id is bigint in the warehouse, text here.
    await db.query('CREATE TABLE clash_target (id bigint, amount numeric)')
    const dir = join(work, 'clash')
    mkdirSync(dir)
    writeFileSync(join(dir, 'a.csv'), 'id,amount\nx1,not-a-number\n')
    expect(
      (
        await api(
          cp.api,
          'PUT',
          '/api/v1/pipelines/clash',
          centralSpec('clash', join(dir, '*.csv'), { table: 'clash_target' }, []),
        )
      ).status,
    ).toBe(201)

    const letters = await waitFor(
      'four dead letters',
      async () => {
        const r = await api<{ items: { reason: string; subject: string }[] }>(
          cp.api,
          'GET',
          '/api/v1/dead-letters',
        )
        return r.body.items.length >= 4 ? r.body.items : undefined
      },
      30_000,
    )
    const reasons = letters.map((l) => l.reason)
    expect(reasons.some((r) => r.startsWith('data batch does not decode'))).toBe(true)
    expect(reasons).toContain(`batch of agent agt-someone-else published under ${agentId}`)
    expect(reasons).toContainEqual(expect.stringMatching(/^rows do not fit table nul_target: .*0x00/))
    expect(
      reasons.some((r) =>
        r.includes(
          'column "id" of table clash_target is bigint in the database, but the batch has string values',
        ),
      ),
    ).toBe(true)

    // Batches behind the refused ones still arrive. The good file goes where only the new
    // revision looks: the old one (no cast, every second) would send it to the dead letters too.
    const good = join(work, 'clash-fixed')
    mkdirSync(good)
    writeFileSync(join(good, 'b.csv'), 'id,amount\n7,8\n')
    expect(
      (
        await api(
          cp.api,
          'PUT',
          '/api/v1/pipelines/clash',
          centralSpec('clash', join(good, '*.csv'), { table: 'clash_target' }),
        )
      ).status,
    ).toBe(200)
    await waitFor(
      'the good row behind the refused ones',
      async () => {
        const rows = await db.query<{ id: string }>('SELECT id FROM clash_target')
        return rows.length === 1 ? rows : undefined
      },
      30_000,
    )
  })

  it('refuses to apply upsert when the warehouse cannot do it (checked in the Parquet test) and validates keys', async () => {
    const bad = centralSpec('bad', '/x.csv', { table: 'x', mode: 'upsert' })
    const r = await api<{ errors: { path: string; message: string }[] }>(
      cp.api,
      'PUT',
      '/api/v1/pipelines/bad',
      bad,
    )
    expect(r.status).toBe(400)
    expect(r.body.errors).toEqual([
      expect.objectContaining({ path: 'spec.sinks[0].keys', message: 'required when mode is upsert' }),
    ])
  })
  it('does not load batches of a revoked agent; they go to the dead letters', async () => {
    const agentId = (await api<{ items: { id: string }[] }>(cp.api, 'GET', '/api/v1/agents')).body.items[0]!
      .id
    expect((await api(cp.api, 'POST', `/api/v1/agents/${agentId}/revoke`, {})).status).toBe(200)
    await db.query('CREATE TABLE after_revoke (id bigint)')
    const nc = await connect({ servers: nats.url })
    const batch = create(DataBatchSchema, {
      batchId: `${agentId}/late/r9/1`,
      agentId,
      pipeline: 'late',
      runId: 'r9',
      seq: 1n,
      rowCount: 1,
      columns: encodeColumns({ columns: [{ name: 'id', type: 'int' }], rows: [[1]] }),
      targets: [{ table: 'after_revoke', mode: SinkMode.APPEND, keys: [] }],
    })
    await jetstream(nc).publish(`outpost.agent.${agentId}.data.late`, toBinary(DataBatchSchema, batch), {
      msgID: `${agentId}/late/r9/1`,
    })
    await nc.close()
    await waitFor('the dead letter of the revoked agent', async () => {
      const r = await api<{ items: { reason: string }[] }>(cp.api, 'GET', '/api/v1/dead-letters')
      return r.body.items.some((l) => l.reason === `agent ${agentId} is revoked`) ? true : undefined
    })
    expect(await db.query('SELECT id FROM after_revoke')).toEqual([])
  })
})

describe('central warehouse (Parquet, no warehouse URL)', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let agent: { process: OutpostProcess }
  let work: string

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-parquet-'))
    nats = await startNats()
    cp = await startControlPlane(nats.url)
    agent = await startAgent(cp.grpc, { token: await createToken(cp.api) })
  })

  afterAll(async () => {
    await agent?.process.stop()
    await cp?.process.stop()
    await nats?.dispose()
    rmSync(work, { recursive: true, force: true })
  })

  it('writes one Parquet file per batch, and refuses upsert with a clear message', async () => {
    const dir = join(work, 'in')
    mkdirSync(dir)
    const lines = ['id,amount']
    for (let i = 1; i <= 20_000; i++) lines.push(`${i},${i}.5`)
    writeFileSync(join(dir, 'a.csv'), `${lines.join('\n')}\n`)
    expect(
      (
        await api(
          cp.api,
          'PUT',
          '/api/v1/pipelines/pq',
          centralSpec('pq', join(dir, '*.csv'), { table: 'facts' }),
        )
      ).status,
    ).toBe(201)
    const { ParquetWarehouse } = await import('../../control-plane/src/warehouse/parquet.js')
    const { createLogger } = await import('@outpost/agent')
    const warehouse = new ParquetWarehouse(join(cp.dataDir, 'warehouse'), createLogger({ write: () => {} }))
    await waitFor(
      '20,000 rows in Parquet',
      async () => ((await warehouse.count('facts')) === 20_000 ? true : undefined),
      30_000,
    )

    const upsert = centralSpec('pq2', join(dir, '*.csv'), { table: 'facts2', mode: 'upsert', keys: ['id'] })
    const r = await api<{ errors: { path: string; message: string }[] }>(
      cp.api,
      'PUT',
      '/api/v1/pipelines/pq2',
      upsert,
    )
    expect(r.status).toBe(400)
    expect(r.body.errors[0]).toMatchObject({
      path: 'spec.sinks[0].mode',
      message: expect.stringContaining('--warehouse-url'),
    })
  })
})
