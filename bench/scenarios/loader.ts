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
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { STREAMS, subjects } from '@outpost/shared'
import pg from 'pg'
import { copyText } from '../../agent/src/db/copy-text.js'
import { startNats } from '../../test/helpers/nats.js'
import { controlPlaneArgs } from '../../test/helpers/outpost.js'
import { TYPED_COLUMNS, typedBatch, typedRows } from '../../test/helpers/typed-rows.js'
import { PG_URL, profileFlags, psql, waitForLedgerRows } from '../lib/env.js'
import { BENCH_TOKEN, OUTPOST } from './outpost.js'

const DDL =
  '(id bigint, created_at timestamptz, customer text, email text, amount numeric, active boolean, note text, attrs jsonb, qty bigint, score double precision)'
/** About what the agent puts in one message: a 1 MiB chunk of the benchmark CSV, ~0.95 MiB encoded. */
const ROWS_PER_BATCH = 7700

/** psql \copy of the same rows, as COPY text, into a table of the same types: rows/s. */
export function loaderCopyLimit(rows: number): number {
  const work = mkdtempSync(join(tmpdir(), 'outpost-bench-loader-'))
  try {
    const file = join(work, 'rows.copy')
    const parts: string[] = []
    for (let from = 1; from <= rows; from += ROWS_PER_BATCH)
      parts.push(
        copyText(
          TYPED_COLUMNS,
          typedRows(from, Math.min(ROWS_PER_BATCH, rows - from + 1)),
          TYPED_COLUMNS.map((c) => c.name),
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
      const batch = typedBatch(
        'agt-bench',
        'loader',
        'bench_loader',
        seq,
        from,
        Math.min(ROWS_PER_BATCH, rows - from + 1),
      )
      acks.push(js.publish(subject, batch.bytes, { msgID: batch.id }))
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
