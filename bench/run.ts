/**
 * `npm run bench`: measures, in one run, the raw limits of this machine and what Outpost achieves
 * on the same work, and prints ratios (absolute numbers drift on a shared machine; ratios hold).
 * `npm run bench -- --quick` is a smoke check on 100,000 rows; the full run uses 1,000,000 and
 * writes bench/RESULTS.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startNats } from '../test/helpers/nats.js'
import { benchCsv } from './lib/data.js'
import { MYSQL, machine, mariadb, PG_URL, psql } from './lib/env.js'

const MYSQL_URL = `mysql://${MYSQL.user}@${MYSQL.host}:${MYSQL.port}/${MYSQL.database}`

import { fmt, fmtMeasurement, type Measurement, measure } from './lib/stats.js'
import { centralPath } from './scenarios/central.js'
import { consoleBudgets } from './scenarios/console.js'
import {
  available,
  csvParseRaw,
  idleNodeMemory,
  jetstreamRaw,
  lmdbAppends,
  mariadbLoad,
  mariadbSourceTable,
  psqlCopy,
} from './scenarios/limits.js'
import { loaderAlone, loaderCopyLimit } from './scenarios/loader.js'
import {
  agentStartupAndIdle,
  csvToFileSpec,
  csvToPostgresSpec,
  mysqlToPostgresSpec,
  QUALITY_TRANSFORMS,
  QUALITY_VALIDATE,
  REALISTIC_TRANSFORMS,
  runLocal,
  SHAPING_TRANSFORMS,
} from './scenarios/outpost.js'
import { pandasAvailable, pandasToSql, pgloaderCsv, pgloaderMysql } from './scenarios/peers.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    write: { type: 'boolean' },
    rows: { type: 'string' },
  },
})
const quick = values.quick ?? false
const rows = Number(values.rows ?? (quick ? 100_000 : 1_000_000))
const runs = quick ? 2 : 3
const warmup = 1
// A partial run (--only) never overwrites the full results unless asked to.
const write = values.write ?? (!quick && !values.only)
const root = resolve('.')
const work = mkdtempSync(join(tmpdir(), 'outpost-bench-'))

interface Row {
  scenario: string
  unit: string
  outpost?: Measurement
  limit?: { name: string; value: Measurement }
  peers: { name: string; value: Measurement }[]
  note?: string
  /** Lower is better (memory, time). */
  lowerIsBetter?: boolean
}

const results: Row[] = []
const wanted = (name: string) => !values.only || name.toLowerCase().includes(values.only.toLowerCase())
const log = (message: string) => process.stderr.write(`${message}\n`)

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  const started = Date.now()
  try {
    const value = await fn()
    log(`  ${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    return value
  } catch (error) {
    log(`  ${what}: FAILED ${(error as Error).message.split('\n')[0]}`)
    return undefined
  }
}

const m = (fn: () => number | Promise<number>) => measure({ runs, warmup }, async () => fn())

log(
  values.only?.toLowerCase() === 'console'
    ? 'Outpost benchmarks: the console'
    : `Outpost benchmarks: ${rows.toLocaleString()} rows, ${runs} runs after ${warmup} warm-up`,
)

if (wanted('console')) {
  const budgets = await timed('console: bundle, first render, fleet table at 10,000 agents', () =>
    consoleBudgets(root, { loads: quick ? 3 : 7, repeats: quick ? 3 : 9 }),
  )
  if (budgets) {
    const one = (v: number): Measurement => ({ median: v, min: v, max: v, samples: [v] })
    const budget = (limit: number, unit: string) => ({ name: `budget ${limit} ${unit}`, value: one(limit) })
    results.push({
      scenario: 'Console JavaScript, gzipped (every .js file it serves)',
      unit: 'KiB',
      lowerIsBetter: true,
      outpost: one(budgets.gzipKiB),
      limit: budget(250, 'KiB'),
      peers: [],
    })
    for (const r of budgets.firstRender)
      results.push({
        scenario: `Console first meaningful render, ${r.agents.toLocaleString()} agents (navigation → fleet rows, loopback, headless Chromium)`,
        unit: 'ms',
        lowerIsBetter: true,
        outpost: r.ms,
        limit: budget(1000, 'ms'),
        peers: [],
        note: `the page asked for the agent list at ${fmtMeasurement(r.listAsked, 'ms')} and had all of it at ${fmtMeasurement(r.listReceived, 'ms')} after navigation; the rest is the browser's work`,
      })
    results.push({
      scenario: `… of which GET /api/v1/agents with ${budgets.agents.toLocaleString()} agents (${(budgets.agentsApi.bytes / 2 ** 20).toFixed(1)} MiB of JSON, from Node)`,
      unit: 'ms',
      lowerIsBetter: true,
      outpost: budgets.agentsApi.ms,
      peers: [],
    })
    for (const [what, m] of [
      ['a search', budgets.search],
      ['a click on a sort header', budgets.sort],
      ['a change of the state filter', budgets.filter],
    ] as const)
      results.push({
        scenario: `Fleet table at ${budgets.agents.toLocaleString()} agents: ${what} → the frame that shows the result`,
        unit: 'ms',
        lowerIsBetter: true,
        outpost: m,
        peers: [],
      })
  }
}

// `--only console` needs no CSV.
const needsData = values.only?.toLowerCase() !== 'console'
const data = needsData ? await benchCsv(join(root, 'bench/data'), rows) : { path: '', bytes: 0, rows: 0 }
if (needsData) log(`data: ${data.path} (${(data.bytes / 2 ** 20).toFixed(1)} MiB)`)
const nats = await startNats()

try {
  const parseLimit = needsData
    ? await timed('csv-parse raw', () => m(() => csvParseRaw(data.path, rows)))
    : undefined

  if (wanted('csv → file')) {
    const outpost = await timed('outpost csv → file', () =>
      m(() => {
        const out = join(work, 'out-plain')
        rmSync(out, { recursive: true, force: true })
        return runLocal(work, csvToFileSpec(data.path, out, '[]'), rows)
      }),
    )
    results.push({
      scenario: 'CSV → file sink, no transforms (`run --local`)',
      unit: 'rows/s',
      ...(outpost ? { outpost } : {}),
      ...(parseLimit ? { limit: { name: 'csv-parse alone', value: parseLimit } } : {}),
      peers: [],
    })
  }

  if (wanted('transforms')) {
    const outpost = await timed('outpost csv → transforms → file', () =>
      m(() => {
        const out = join(work, 'out-transforms')
        rmSync(out, { recursive: true, force: true })
        return runLocal(work, csvToFileSpec(data.path, out, REALISTIC_TRANSFORMS), rows)
      }),
    )
    results.push({
      scenario: 'CSV → cast 6 columns + CEL filter → file sink',
      unit: 'rows/s',
      ...(outpost ? { outpost } : {}),
      ...(parseLimit ? { limit: { name: 'csv-parse alone', value: parseLimit } } : {}),
      peers: [],
      note: 'target ≥ 0.5 of raw parse (issue 5 adds derive and validation to this chain)',
    })
  }
  if (wanted('quality')) {
    const outpost = await timed('outpost csv → cast, filter, derive, validate → file', () =>
      m(() => {
        const out = join(work, 'out-quality')
        rmSync(out, { recursive: true, force: true })
        return runLocal(work, csvToFileSpec(data.path, out, QUALITY_TRANSFORMS, QUALITY_VALIDATE), rows)
      }),
    )
    results.push({
      scenario: 'CSV → cast 3 columns, CEL filter, 2 derived columns, 4 validation rules → file sink',
      unit: 'rows/s',
      ...(outpost ? { outpost } : {}),
      ...(parseLimit ? { limit: { name: 'csv-parse alone', value: parseLimit } } : {}),
      peers: [],
      note: 'target ≥ 0.5 of raw parse (issue 5)',
    })
  }

  if (wanted('postgres') && available('psql')) {
    const limit = await timed('psql \\copy', () => m(() => psqlCopy(data.path, rows)))
    const peers: Row['peers'] = []
    if (available('pgloader')) {
      const v = await timed('pgloader', () => m(() => pgloaderCsv(work, data.path, rows)))
      if (v) peers.push({ name: 'pgloader', value: v })
    }
    if (pandasAvailable() && (!quick || rows <= 100_000)) {
      const v = await timed('pandas to_sql', () =>
        measure({ runs: 1, warmup: 0 }, async () => pandasToSql(work, data.path, rows)),
      )
      if (v) peers.push({ name: 'pandas to_sql', value: v })
    }
    const plain = await timed('outpost csv → postgres sink', () =>
      m(() => {
        psql('DROP TABLE IF EXISTS bench_outpost, outpost_ledger')
        return runLocal(work, csvToPostgresSpec(data.path, PG_URL, 'bench_outpost', '[]'), rows)
      }),
    )
    results.push({
      scenario: 'CSV → PostgreSQL table (`postgres` sink, no transforms)',
      unit: 'rows/s',
      ...(plain ? { outpost: plain } : {}),
      ...(limit ? { limit: { name: 'psql \\copy', value: limit } } : {}),
      peers,
      note: 'target ≥ 0.7 of psql \\copy and faster than pgloader (issue 4)',
    })
    const shaped = await timed('outpost csv → cast, filter, derive → postgres sink', () =>
      m(() => {
        psql('DROP TABLE IF EXISTS bench_outpost, outpost_ledger')
        return runLocal(work, csvToPostgresSpec(data.path, PG_URL, 'bench_outpost', SHAPING_TRANSFORMS), rows)
      }),
    )
    psql('DROP TABLE IF EXISTS bench_outpost, outpost_ledger')
    results.push({
      scenario: 'CSV → cast 6 columns, CEL filter, 2 derived columns → PostgreSQL',
      unit: 'rows/s',
      ...(shaped ? { outpost: shaped } : {}),
      ...(limit ? { limit: { name: 'psql \\copy', value: limit } } : {}),
      peers: [],
      note: 'target ≥ 0.5 of psql \\copy (issue 4); rows/s counts rows read',
    })
  }

  if (wanted('mysql → postgres') && available('mariadb') && available('psql')) {
    const ready = await timed('MariaDB source table', async () =>
      mariadbSourceTable(data.path, rows, 'bench_src'),
    )
    if (ready !== undefined) {
      const outpost = await timed('outpost mysql → postgres sink', () =>
        m(() => {
          psql('DROP TABLE IF EXISTS bench_from_mysql, outpost_ledger')
          return runLocal(work, mysqlToPostgresSpec(MYSQL_URL, 'bench_src', PG_URL, 'bench_from_mysql'), rows)
        }),
      )
      psql('DROP TABLE IF EXISTS bench_from_mysql, outpost_ledger')
      const peers: Row['peers'] = []
      if (available('pgloader')) {
        const v = await timed('pgloader mysql → postgres', () =>
          m(() => pgloaderMysql(work, 'bench_src', rows)),
        )
        if (v) peers.push({ name: 'pgloader (MySQL → PostgreSQL)', value: v })
      }
      mariadb('DROP TABLE bench_src')
      results.push({
        scenario: 'MariaDB table → PostgreSQL table (`mysql` source, `postgres` sink)',
        unit: 'rows/s',
        ...(outpost ? { outpost } : {}),
        peers,
        note: 'compared with pgloader, the usual tool for this move (issue 4)',
      })
    }
  }

  if (wanted('mariadb') && available('mariadb')) {
    const limit = await timed('MariaDB LOAD DATA', () => m(() => mariadbLoad(data.path, rows)))
    results.push({
      scenario: 'CSV → MariaDB table',
      unit: 'rows/s',
      ...(limit ? { limit: { name: 'LOAD DATA LOCAL INFILE', value: limit } } : {}),
      peers: [],
      note: 'Outpost mysql sink: issue 4',
    })
  }

  if (wanted('jetstream')) {
    const limit = await timed('JetStream publish', () => m(() => jetstreamRaw(nats.url, data.path, rows)))
    results.push({
      scenario: 'The same bytes into JetStream (acks awaited)',
      unit: 'rows/s',
      ...(limit ? { limit: { name: 'raw js.publish, 512 KiB messages', value: limit } } : {}),
      peers: [],
    })
  }

  if (wanted('central')) {
    const live = await timed('outpost agent → JetStream → central PostgreSQL', () =>
      measure({ runs: quick ? 1 : 2, warmup: 0 }, () => centralPath(data.path, rows, 'live')),
    )
    const jsLimit = results.find((r) => r.limit?.name.startsWith('raw js.publish'))?.limit?.value
    const copyLimit = results.find((r) => r.limit?.name === 'psql \\copy')?.limit?.value
    const slower = [jsLimit, copyLimit]
      .filter((x): x is Measurement => x !== undefined)
      .sort((a, b) => a.median - b.median)[0]
    results.push({
      scenario: 'CSV at the agent → outbox → JetStream → central PostgreSQL (7 casts)',
      unit: 'rows/s',
      ...(live ? { outpost: live } : {}),
      ...(slower
        ? {
            limit: {
              name:
                slower === copyLimit ? 'psql \\copy (the slower limit)' : 'raw JetStream (the slower limit)',
              value: slower,
            },
          }
        : {}),
      peers: [],
      note: 'target ≥ 0.5 of the slower limit (issue 3)',
    })
    const drain = await timed('backlog drain after NATS comes back', () =>
      measure({ runs: 1, warmup: 0 }, () => centralPath(data.path, rows, 'drain')),
    )
    results.push({
      scenario: `Drain of a ${rows.toLocaleString()}-row backlog after reconnect`,
      unit: 'rows/s',
      ...(drain ? { outpost: drain } : {}),
      ...(slower ? { limit: { name: 'the same slower limit', value: slower } } : {}),
      peers: [],
    })
  }

  if (wanted('loader') && available('psql')) {
    // The control plane's part of the central path alone: batches already waiting in JetStream.
    const limit = await timed('psql \\copy of the loader rows', () => m(() => loaderCopyLimit(rows)))
    const loader = await timed('central loader alone', () =>
      measure({ runs: quick ? 1 : 2, warmup: 0 }, () => loaderAlone(rows)),
    )
    results.push({
      scenario: 'Central loader alone: JetStream → control plane → PostgreSQL (10 typed columns)',
      unit: 'rows/s',
      ...(loader ? { outpost: loader } : {}),
      ...(limit ? { limit: { name: 'psql \\copy of the same rows (COPY text)', value: limit } } : {}),
      peers: [],
      note: 'the loader is the control-plane half of issue 3; compare with the end-to-end ratio',
    })
  }

  if (wanted('lmdb')) {
    const limit = await timed('LMDB appends', () => m(() => lmdbAppends(join(work, 'lmdb'), data.path)))
    results.push({
      scenario: 'LMDB appends, 1,000 a transaction',
      unit: 'records/s',
      ...(limit ? { limit: { name: 'raw lmdb puts', value: limit } } : {}),
      peers: [],
    })
  }

  if (wanted('agent')) {
    const floor = await timed('idle Node with agent libraries', () => m(() => idleNodeMemory(root)))
    const agent = await timed('agent start-up and idle memory', async () => {
      const samples = []
      for (let i = 0; i < (quick ? 1 : 2); i++)
        samples.push(await agentStartupAndIdle(nats.url, quick ? 3000 : 10_000))
      return samples
    })
    const one = (pick: (s: { startupMs: number; rssMiB: number }) => number): Measurement | undefined => {
      if (!agent) return undefined
      const v = agent.map(pick).sort((a, b) => a - b)
      return {
        median: v[v.length >> 1] as number,
        min: v[0] as number,
        max: v[v.length - 1] as number,
        samples: v,
      }
    }
    const rss = one((s) => s.rssMiB)
    const startup = one((s) => s.startupMs)
    results.push({
      scenario: 'Agent idle memory (RSS, enrolled, synced)',
      unit: 'MiB',
      lowerIsBetter: true,
      ...(rss ? { outpost: rss } : {}),
      ...(floor ? { limit: { name: 'idle Node + agent libraries', value: floor } } : {}),
      peers: [],
    })
    results.push({
      scenario: 'Agent start-up to first sync (enrolled)',
      unit: 'ms',
      lowerIsBetter: true,
      ...(startup ? { outpost: startup } : {}),
      peers: [],
    })
  }
} finally {
  await nats.dispose()
  rmSync(work, { recursive: true, force: true })
}

function ratio(a: Measurement | undefined, b: Measurement | undefined, lowerIsBetter = false): string {
  if (!a || !b) return '—'
  return lowerIsBetter ? `${(b.median / a.median).toFixed(2)}` : `${(a.median / b.median).toFixed(2)}`
}

const header = ['scenario', 'Outpost', 'raw limit', 'ratio', 'peer', 'ratio to peer']
const lines = results.map((r) => {
  const peer = r.peers[0]
  return [
    r.scenario,
    fmtMeasurement(r.outpost, r.unit),
    r.limit ? `${fmtMeasurement(r.limit.value, r.unit)} — ${r.limit.name}` : '—',
    ratio(r.outpost, r.limit?.value, r.lowerIsBetter),
    r.peers.length ? r.peers.map((p) => `${p.name}: ${fmtMeasurement(p.value, r.unit)}`).join('; ') : '—',
    peer ? ratio(r.outpost, peer.value, r.lowerIsBetter) : '—',
  ]
})
const table = [
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...lines.map((l) => `| ${l.join(' | ')} |`),
].join('\n')
const notes = results.filter((r) => r.note).map((r) => `- ${r.scenario}: ${r.note}`)
const env = machine()
const report = `# Benchmark results

${new Date().toISOString().slice(0, 10)}, ${rows.toLocaleString()} rows (${(data.bytes / 2 ** 20).toFixed(1)} MiB of CSV), median of ${runs} runs after ${warmup} warm-up (min–max in brackets).
Ratios compare Outpost with the raw limit measured in the same run (for memory and time: limit ÷ Outpost, so 1.0 is the floor).

${table}

${notes.length ? `Notes:\n${notes.join('\n')}\n` : ''}
Machine: ${Object.entries(env)
  .map(([k, v]) => `${k}: ${v}`)
  .join('; ')}.

Reproduce with \`npm run bench\` (or \`npm run bench -- --quick\` for a smoke check on 100,000 rows).
`
process.stdout.write(`\n${table}\n\n${notes.join('\n')}\n`)
if (write) {
  mkdirSync(join(root, 'bench'), { recursive: true })
  // The table above is replaced; the sections below it (later partial runs, fleet, console,
  // notes written by hand, each with its date) are kept.
  const file = join(root, 'bench/RESULTS.md')
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : ''
  const kept = previous.indexOf('\n## ')
  writeFileSync(file, kept === -1 ? report : `${report}${previous.slice(kept)}`)
  log('wrote bench/RESULTS.md')
}
if (needsData) log(`${fmt(rows, 'rows/s').replace(' rows/s', '')} rows benchmarked`)
