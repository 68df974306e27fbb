/**
 * The control plane's central loader alone: data batches (the agent's columnar encoding, 10 typed
 * columns) published straight into JetStream first, then a control plane started against them
 * and timed until every row is in PostgreSQL. Beside it, in the same run, `psql \copy` of the same
 * rows (as COPY text) into a table of the same types: the limit the loader works against.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create, toBinary } from '@bufbuild/protobuf'
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { STREAMS, subjects } from '@outpost/shared'
import { type Column, encodeColumns, type Value } from '@outpost/shared/batch'
import { CentralTargetSchema, DataBatchSchema } from '@outpost/shared/gen/outpost/telemetry/v1/telemetry_pb'
import pg from 'pg'
import { copyText } from '../../agent/src/db/copy-text.js'
import { startNats } from '../../test/helpers/nats.js'
import { controlPlaneArgs } from '../../test/helpers/outpost.js'
import { PG_URL, profileFlags, psql, waitForLedgerRows } from '../lib/env.js'
import { BENCH_TOKEN, OUTPOST } from './outpost.js'

const COLUMNS: Column[] = [
  { name: 'id', type: 'int' },
  { name: 'created_at', type: 'timestamp' },
  { name: 'customer', type: 'string' },
  { name: 'email', type: 'string' },
  { name: 'amount', type: 'decimal' },
  { name: 'active', type: 'bool' },
  { name: 'note', type: 'string' },
  { name: 'attrs', type: 'json' },
  { name: 'qty', type: 'int' },
  { name: 'score', type: 'float' },
]
const DDL =
  '(id bigint, created_at timestamptz, customer text, email text, amount numeric, active boolean, note text, attrs jsonb, qty bigint, score double precision)'
/** About what the agent puts in one message: a 1 MiB chunk of the benchmark CSV, ~0.95 MiB encoded. */
const ROWS_PER_BATCH = 7700

function rowsOf(from: number, count: number): Value[][] {
  const rows: Value[][] = new Array(count)
  for (let i = 0; i < count; i++) {
    const id = from + i
    rows[i] = [
      id,
      1_735_689_600_000_000 + id * 1_000_003,
      id % 7 === 0 ? 'Smith, Jr. Kofi' : 'Anna Müller',
      `anna.${id}@example.com`,
      `${(id % 200_000) / 100}`,
      id % 3 === 0,
      id % 5 === 0 ? null : `note ${id % 1000}`,
      `{"tier":${id % 4},"tags":["a","b"]}`,
      id % 50,
      (id % 10_000) / 7,
    ]
  }
  return rows
}

/** psql \copy of the same rows, as COPY text, into a table of the same types: rows/s. */
export function loaderCopyLimit(rows: number): number {
  const work = mkdtempSync(join(tmpdir(), 'outpost-bench-loader-'))
  try {
    const file = join(work, 'rows.copy')
    const parts: string[] = []
    for (let from = 1; from <= rows; from += ROWS_PER_BATCH)
      parts.push(
        copyText(
          COLUMNS,
          rowsOf(from, Math.min(ROWS_PER_BATCH, rows - from + 1)),
          COLUMNS.map((c) => c.name),
        ),
      )
    writeFileSync(file, parts.join(''))
    psql(`DROP TABLE IF EXISTS bench_loader_copy; CREATE TABLE bench_loader_copy ${DDL}`)
    const t = performance.now()
    psql(`\\copy bench_loader_copy FROM '${file}'`)
    const seconds = (performance.now() - t) / 1000
    const count = Number(psql('SELECT count(*) FROM bench_loader_copy'))
    psql('DROP TABLE bench_loader_copy')
    if (count !== rows) throw new Error(`\\copy loaded ${count} rows, expected ${rows}`)
    return rows / seconds
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The loader draining `rows` rows already waiting in JetStream: rows/s. */
export async function loaderAlone(rows: number): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'outpost-bench-loader-'))
  const database = `outpost_bench_loader_${Date.now().toString(36)}`
  psql(`CREATE DATABASE ${database}`)
  const url = PG_URL.replace(/\/[^/]*$/, `/${database}`)
  const nats = await startNats()
  let cp: ChildProcess | undefined
  const db = new pg.Client({ connectionString: url })
  try {
    const nc = await connect({ servers: nats.url })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({
      name: STREAMS.data.name,
      subjects: [...STREAMS.data.subjects],
      storage: StorageType.File,
    })
    const js = jetstream(nc)
    const subject = subjects.data('agt-bench', 'loader')
    const acks: Promise<unknown>[] = []
    for (let from = 1, seq = 0; from <= rows; from += ROWS_PER_BATCH, seq++) {
      const chunk = rowsOf(from, Math.min(ROWS_PER_BATCH, rows - from + 1))
      const batchId = `agt-bench/loader/run1/${seq}`
      const message = create(DataBatchSchema, {
        batchId,
        agentId: 'agt-bench',
        pipeline: 'loader',
        runId: 'run1',
        seq: BigInt(seq),
        rowCount: chunk.length,
        columns: encodeColumns({ columns: COLUMNS, rows: chunk }),
        targets: [create(CentralTargetSchema, { table: 'bench_loader' })],
      })
      acks.push(js.publish(subject, toBinary(DataBatchSchema, message), { msgID: batchId }))
      if (acks.length >= 64) await Promise.all(acks.splice(0))
    }
    await Promise.all(acks)
    await nc.close()

    cp = spawn(
      process.execPath,
      [...profileFlags(), OUTPOST, ...controlPlaneArgs(join(work, 'cp'), nats.url, ['--warehouse-url', url])],
      {
        env: {
          ...process.env,
          OUTPOST_LOG_FORMAT: 'json',
          OUTPOST_BOOTSTRAP_TOKEN: BENCH_TOKEN,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    // Timed from the control plane's NATS connection: its start-up is not the loader's work.
    const from = await new Promise<number>((resolve, reject) => {
      let rest = ''
      const timer = setTimeout(() => reject(new Error('control plane did not reach NATS')), 60_000)
      cp?.stdout?.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n')
        rest = lines.pop() ?? ''
        if (lines.some((l) => l.includes('"connected to NATS"'))) {
          clearTimeout(timer)
          resolve(performance.now())
        }
      })
    })
    await db.connect()
    await waitForLedgerRows(db, rows, () => {
      if (cp?.exitCode !== null) throw new Error(`control plane exited with ${cp?.exitCode}`)
    })
    const seconds = (performance.now() - from) / 1000
    const check = await db.query<{ n: string; d: string }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS d FROM bench_loader',
    )
    if (Number(check.rows[0]?.n) !== rows || Number(check.rows[0]?.d) !== rows)
      throw new Error(
        `bench_loader holds ${check.rows[0]?.n} rows (${check.rows[0]?.d} distinct), expected ${rows}`,
      )
    return rows / seconds
  } finally {
    await db.end().catch(() => {})
    if (cp && cp.exitCode === null) {
      const exited = new Promise((resolve) => cp?.once('exit', resolve))
      cp.kill('SIGTERM')
      await exited
    }
    await nats.dispose()
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    rmSync(work, { recursive: true, force: true })
  }
}
