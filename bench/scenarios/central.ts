/**
 * The remote-site path end to end, with real processes: a CSV at the agent → worker pool →
 * LMDB outbox → JetStream → control plane → PostgreSQL. Also the drain of a backlog: the same rows
 * extracted while NATS is down, timed from the moment NATS comes back.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { type NatsServer, startNats } from '../../test/helpers/nats.js'
import { controlPlaneArgs } from '../../test/helpers/outpost.js'
import { PG_URL, profileFlags, psql, waitForLedgerRows } from '../lib/env.js'
import { BENCH_TOKEN, OUTPOST } from './outpost.js'

function waitForLine(
  child: ChildProcess,
  match: (line: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let rest = ''
    const timer = setTimeout(() => reject(new Error('timed out waiting for the process')), timeoutMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() ?? ''
      const found = lines.find(match)
      if (found) {
        clearTimeout(timer)
        resolve(found)
      }
    })
  })
}

/** The central scenario's transforms: 7 casts. */
export const CENTRAL_TRANSFORMS = [
  {
    cast: {
      id: 'int',
      created_at: 'timestamp',
      amount: 'decimal',
      active: 'bool',
      attrs: 'json',
      qty: 'int',
      score: 'float',
    },
  },
]

/** The central scenario's pipeline over `file`, as YAML (JSON is YAML). */
export function csvToCentralSpec(file: string, transforms: unknown[]): string {
  return JSON.stringify({
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: 'bench-central' },
    spec: {
      schedule: 'continuous',
      source: { type: 'csv', path: file },
      transforms,
      sinks: [{ type: 'central', table: 'bench_central' }],
    },
  })
}

export interface CentralResult {
  rowsPerSecond: number
  drainRowsPerSecond: number
}

/** One end-to-end load and one backlog drain of `rows` rows from `file`. */
/** OUTPOST_BENCH_LOGS=1: a child's warnings and errors on stderr, to see why a run stalled. */
function echoLogs(child: ChildProcess, name: string): void {
  if (!process.env.OUTPOST_BENCH_LOGS) return
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (process.env.OUTPOST_BENCH_LOGS === 'all' ? line : /"level":"(warn|error)"/.test(line))
        process.stderr.write(`    ${name}: ${line}\n`)
  })
}

export async function centralPath(file: string, rows: number, mode: 'live' | 'drain'): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'outpost-bench-central-'))
  const database = `outpost_bench_${Date.now().toString(36)}`
  psql(`CREATE DATABASE ${database}`)
  const url = PG_URL.replace(/\/[^/]*$/, `/${database}`)
  const nats: NatsServer = await startNats()
  const env = { ...process.env, OUTPOST_LOG_FORMAT: 'json', OUTPOST_BOOTSTRAP_TOKEN: BENCH_TOKEN }
  const children: ChildProcess[] = []
  const db = new pg.Client({ connectionString: url })
  try {
    const cp = spawn(
      process.execPath,
      [...profileFlags(), OUTPOST, ...controlPlaneArgs(join(work, 'cp'), nats.url, ['--warehouse-url', url])],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    children.push(cp)
    echoLogs(cp, 'control plane')
    const started = JSON.parse(await waitForLine(cp, (l) => l.includes('control plane started'), 30_000)) as {
      http: string
      grpc: string
    }
    const token = (
      (await (
        await fetch(`${started.http}/api/v1/enrollment-tokens`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_TOKEN}` },
        })
      ).json()) as { token: string }
    ).token
    const inbox = join(work, 'inbox')
    mkdirSync(inbox)
    const agent = spawn(
      process.execPath,
      [
        ...profileFlags(),
        OUTPOST,
        'agent',
        '--control-plane',
        started.grpc,
        '--token',
        token,
        '--state-dir',
        join(work, 'agent'),
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    children.push(agent)
    echoLogs(agent, 'agent')
    await waitForLine(agent, (l) => l.includes('connected to control plane'), 30_000)
    await db.connect()
    if (mode === 'drain') await nats.stop()
    symlinkSync(file, join(inbox, 'bench.csv'))
    const spec = csvToCentralSpec(join(inbox, '*.csv'), CENTRAL_TRANSFORMS)
    const applyAt = performance.now()
    const r = await fetch(`${started.http}/api/v1/pipelines/bench-central`, {
      method: 'PUT',
      body: spec,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_TOKEN}` },
    })
    if (!r.ok) throw new Error(`apply: HTTP ${r.status}`)
    let from = applyAt
    let landed = 0
    if (mode === 'drain') {
      await waitForLine(
        agent,
        (l) => l.includes('"run finished"') && l.includes(`"rowsRead":${rows}`),
        20 * 60_000,
      )
      await nats.start()
      // The drain is timed from the first batch that lands: how soon the agent and control plane
      // reconnect (their backoff) is reported beside it, not mixed into the rate.
      const restarted = performance.now()
      landed = await waitForLedgerRows(db, 1)
      from = performance.now()
      console.error(`    first batch landed ${((from - restarted) / 1000).toFixed(1)} s after NATS came back`)
    }
    await waitForLedgerRows(db, rows)
    const seconds = (performance.now() - from) / 1000
    const check = await db.query<{ n: string; d: string }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS d FROM bench_central',
    )
    if (Number(check.rows[0]?.n) !== rows || Number(check.rows[0]?.d) !== rows)
      throw new Error(
        `central table holds ${check.rows[0]?.n} rows (${check.rows[0]?.d} distinct), expected ${rows}`,
      )
    return (rows - landed) / seconds
  } finally {
    await db.end().catch(() => {})
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        c.kill('SIGTERM')
        await new Promise((resolve) => c.once('exit', resolve))
      }
    }
    await nats.dispose()
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    rmSync(work, { recursive: true, force: true })
  }
}
