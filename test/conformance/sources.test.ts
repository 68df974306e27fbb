// The conformance kit for sources: every source reads the same awkward dataset exactly, resumes
// exactly where it stopped, can be started and stopped at will, reads empty input cleanly, and
// says clearly, and correctly as permanent or retryable, what is wrong when it cannot read.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeParquet } from '@outpost/agent/db'
import { parsePipeline } from '@outpost/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sources } from '../../agent/src/registry.js'
import { SecretResolver } from '../../agent/src/secrets.js'
import type { SourceImpl } from '../../agent/src/sources/types.js'
import { createMysqlDatabase, type TestMysql } from '../helpers/mysql.js'
import { freePort } from '../helpers/ports.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { xlsx } from '../helpers/xlsx.js'
import {
  byId,
  CASTS,
  canonical,
  DATASET,
  type ExpectedFailure,
  expected,
  expectFailure,
  FIRST,
  LATER,
  log,
  ndjsonRows,
  type Row,
  run,
  TYPES,
  typedRows,
  YAML_HEAD,
} from './kit.js'

interface SourceFixture {
  type: string
  /** Creates the dataset `name` holding `rows`; returns the source's options as a YAML flow mapping. */
  create(name: string, rows: Row[]): Promise<string>
  /** Adds rows to the dataset `name`; the next run must read exactly these. */
  append(name: string, rows: Row[]): Promise<void>
  transforms?: string
  /** How the format represents the dataset, where it cannot say everything (CSV has no null). */
  adjust?: (row: Row) => Row
  /** Open connections to the source's server, to catch readers that leak them. */
  connections?(): Promise<number>
  /** Sources that cannot be read; `{base}` stands for the test HTTP server, `{closed}` for a port nobody listens on. */
  failures: (ExpectedFailure & { source: string })[]
}

const work = mkdtempSync(join(tmpdir(), 'outpost-conformance-'))
let pg: TestDatabase
let my: TestMysql
let server: Server
let base = ''
let closedPort = 0
const apiData = new Map<string, Row[]>()
const secrets = () =>
  new SecretResolver({
    env: { OUTPOST_SECRET_PG: pg.url, OUTPOST_SECRET_MY: my.url, OUTPOST_SECRET_API: 'kit-token' },
  })

beforeAll(async () => {
  pg = await createDatabase()
  my = await createMysqlDatabase()
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (req.headers.authorization !== 'Bearer kit-token') return void res.writeHead(401).end()
    const rows = apiData.get(url.pathname.slice(1))
    if (!rows) return void res.writeHead(404).end()
    const since = Number(url.searchParams.get('since') ?? 0)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(
      `{"data":[${rows
        .filter((r) => Number(r.id) > since)
        .map(jsonRecord)
        .join(',')}]}`,
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  closedPort = await freePort()
})

afterAll(async () => {
  await new Promise((r) => server?.close(r))
  await pg?.drop()
  await my?.drop()
  rmSync(work, { recursive: true, force: true })
})

/** A record as JSON text, with the long numbers as JSON numbers (they must not lose digits). */
function jsonRecord(r: Row): string {
  const num = (v: string | null) => v ?? 'null'
  return `{"id":${r.id},"name":${JSON.stringify(r.name)},"amount":${num(r.amount)},"big":${num(r.big)},"at":${JSON.stringify(r.at)},"ok":${num(r.ok)}}`
}

function csvField(v: string | null): string {
  if (v === null) return ''
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
}

/** File sources: each part of the dataset is one more file matching the glob. */
function fileFixture(
  type: string,
  ext: string,
  write: (rows: Row[]) => Uint8Array | string,
  extra: Partial<SourceFixture> = {},
): SourceFixture {
  const parts = new Map<string, number>()
  const put = (name: string, rows: Row[]) => {
    const n = (parts.get(name) ?? 0) + 1
    parts.set(name, n)
    mkdirSync(join(work, name), { recursive: true })
    writeFileSync(join(work, name, `part-${n}.${ext}`), write(rows))
  }
  return {
    type,
    async create(name, rows) {
      put(name, rows)
      return `{ type: ${type}, path: "${join(work, name)}/*.${ext}" }`
    },
    async append(name, rows) {
      put(name, rows)
    },
    failures: [
      {
        what: 'a missing file',
        source: `{ type: ${type}, path: ${join(work, 'nowhere', `missing.${ext}`)} }`,
        message: `file not found: ${join(work, 'nowhere', `missing.${ext}`)}`,
        retryable: false,
      },
    ],
    ...extra,
  }
}

const fixtures: SourceFixture[] = [
  fileFixture(
    'csv',
    'csv',
    (rows) =>
      `id,name,amount,big,at,ok\n${rows.map((r) => Object.values(r).map(csvField).join(',')).join('\n')}\n`,
    // CSV cannot tell an empty string from a missing value; Outpost reads both as null.
    { transforms: CASTS, adjust: (r) => ({ ...r, name: r.name === '' ? null : r.name }) },
  ),
  fileFixture('ndjson', 'ndjson', (rows) => rows.map((r) => `${jsonRecord(r)}\n`).join(''), {
    transforms: CASTS,
  }),
  fileFixture('json', 'json', (rows) => `[${rows.map(jsonRecord).join(',\n')}]`, { transforms: CASTS }),
  fileFixture(
    'parquet',
    'parquet',
    (rows) =>
      new Uint8Array(
        encodeParquet(
          Object.entries(TYPES).map(([name, type]) => ({ name, type })),
          typedRows(rows) as never,
        ),
      ),
  ),
  fileFixture(
    'excel',
    'xlsx',
    (rows) => xlsx({ Data: [[...Object.keys(TYPES)], ...rows.map((r) => Object.values(r))] }),
    { transforms: CASTS },
  ),
  {
    type: 'postgres',
    async create(name, rows) {
      await pg.query(
        `CREATE TABLE ${name} (id bigint PRIMARY KEY, name text, amount numeric, big bigint, at timestamptz, ok boolean)`,
      )
      await this.append(name, rows)
      return `{ type: postgres, url: "\${secret:PG}", table: ${name}, cursor: { column: id } }`
    },
    async append(name, rows) {
      for (const r of rows)
        await pg.query(`INSERT INTO ${name} VALUES ($1, $2, $3, $4, $5, $6)`, Object.values(r))
    },
    async connections() {
      const [r] = await pg.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      )
      // The test's own pool holds at most two.
      return Math.max(0, Number(r?.n) - 2)
    },
    failures: [
      {
        what: 'a missing table',
        source: '{ type: postgres, url: "${secret:PG}", table: no_such_table }',
        message: 'table does not exist: relation "no_such_table" does not exist',
        retryable: false,
      },
      {
        what: 'bad credentials',
        source: '{ type: postgres, url: "postgres://nobody:wrong@127.0.0.1:5432/postgres", table: t }',
        message: 'authentication failed',
        retryable: false,
      },
      {
        what: 'an unreachable host',
        source: '{ type: postgres, url: "postgres://postgres@127.0.0.1:1/postgres", table: t }',
        message: 'connection refused',
        retryable: true,
      },
    ],
  },
  {
    type: 'mysql',
    async create(name, rows) {
      await my.query(
        `CREATE TABLE ${name} (id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(40,10), big BIGINT, at DATETIME(6), ok BOOLEAN)`,
      )
      await this.append(name, rows)
      return `{ type: mysql, url: "\${secret:MY}", table: ${name}, cursor: { column: id } }`
    },
    async append(name, rows) {
      if (rows.length === 0) return
      const values = rows.map((r) => [
        r.id,
        r.name,
        r.amount,
        r.big,
        r.at?.replace('T', ' ').replace('Z', '') ?? null,
        r.ok === null ? null : r.ok === 'true',
      ])
      await my.query(`INSERT INTO ${name} VALUES ?`, [values])
    },
    async connections() {
      const [r] = await my.query<{ n: number }>(
        'SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()',
      )
      return Math.max(0, Number(r?.n) - 1)
    },
    failures: [
      {
        what: 'a missing table',
        source: '{ type: mysql, url: "${secret:MY}", table: no_such_table }',
        message: "table does not exist: Table '",
        retryable: false,
      },
      {
        what: 'bad credentials',
        source: '{ type: mysql, url: "mysql://nobody:wrong@127.0.0.1:3306/test", table: t }',
        message: 'authentication failed',
        retryable: false,
      },
      {
        what: 'an unreachable host',
        source: '{ type: mysql, url: "mysql://root@127.0.0.1:1/test", table: t }',
        message: 'connection refused',
        retryable: true,
      },
    ],
  },
  {
    type: 'http',
    transforms: CASTS,
    async create(name, rows) {
      apiData.set(name, [...rows])
      return `{ type: http, url: "${base}/${name}", auth: { type: bearer, token: "\${secret:API}" }, records_path: data, incremental: { field: id, param: since, initial: "0" } }`
    },
    async append(name, rows) {
      apiData.get(name)?.push(...rows)
    },
    failures: [
      {
        what: 'bad credentials',
        source: `{ type: http, url: "{base}/x", auth: { type: bearer, token: wrong } }`,
        message: 'answered HTTP 401 Unauthorized; check the credentials',
        retryable: false,
      },
      {
        what: 'a missing resource',
        source: `{ type: http, url: "{base}/no_such_resource", auth: { type: bearer, token: "\${secret:API}" } }`,
        message: '/no_such_resource answered HTTP 404',
        retryable: false,
      },
      {
        what: 'an unreachable host',
        source: '{ type: http, url: "http://127.0.0.1:{closed}/x", retries: 0 }',
        message: /^GET http:\/\/127\.0\.0\.1:\d+\/x failed: connection refused$/,
        retryable: true,
      },
    ],
  },
]

describe.each(fixtures.map((f) => [f.type, f] as const))('source %s', (type, f) => {
  let n = 0
  const pipeline = (name: string, source: string, out: string) =>
    `${YAML_HEAD(name)}  source: ${source}\n  transforms: ${f.transforms ?? '[]'}\n  sinks: [{ type: file, path: ${out}, format: ndjson }]\n`
  const read = async (name: string, source: string, stateDir?: string) => {
    const out = join(work, `out-${type}-${++n}`)
    const report = await run(pipeline(name, source, out), {
      secrets: secrets(),
      ...(stateDir ? { stateDir } : {}),
    })
    return { report, rows: byId(ndjsonRows(out).map(canonical)) }
  }

  it('reads unicode, nulls and extreme values exactly, and resumes without a gap or a repeat', async () => {
    const name = `kit_${type}_resume`
    const source = await f.create(name, FIRST)
    const state = join(work, `${name}-state`)
    const first = await read(name, source, state)
    expect(first.report.errors).toEqual([])
    expect(first.rows).toEqual(expected(FIRST, f.adjust))
    await f.append(name, LATER)
    const second = await read(name, source, state)
    expect(second.rows).toEqual(expected(LATER, f.adjust))
    const third = await read(name, source, state)
    expect(third.report).toMatchObject({ status: 'succeeded', rowsRead: 0, errors: [] })
    expect(byId([...first.rows, ...second.rows])).toEqual(expected(DATASET, f.adjust))
  })

  it('starts and stops twice, each time from the same place, and leaves nothing open', async () => {
    const name = `kit_${type}_startstop`
    const spec = parsePipeline(pipeline(name, await f.create(name, DATASET), join(work, 'unused')))
    if (!spec.ok) throw new Error(JSON.stringify(spec.errors))
    const impl = sources[spec.value.pipeline.spec.source.type] as SourceImpl<unknown>
    const options = secrets().resolveDeep(spec.value.pipeline.spec.source)
    const firstChunk = async () => {
      const reader = impl.open(options, {
        pipeline: name,
        cursors: { get: () => undefined },
        log,
        chunkBytes: 512,
      })
      try {
        for await (const chunk of reader.chunks(new AbortController().signal)) {
          return (await impl.decode(options, chunk.bytes, chunk.decodeState)).rows
        }
        return []
      } finally {
        await reader.close()
      }
    }
    const once = await firstChunk()
    const twice = await firstChunk()
    expect(once.length).toBeGreaterThan(0)
    expect(twice).toEqual(once)
    if (f.connections) await expect.poll(() => f.connections?.(), { timeout: 5_000 }).toBe(0)
    // A whole run after the interrupted starts still reads everything once.
    const full = await read(name, await f.create(`${name}_2`, DATASET))
    expect(full.rows).toEqual(expected(DATASET, f.adjust))
  })

  it('reads empty input as a successful run with no rows', async () => {
    const name = `kit_${type}_empty`
    const r = await read(name, await f.create(name, []))
    expect(r.report).toMatchObject({ status: 'succeeded', rowsRead: 0, rowsQuarantined: 0, errors: [] })
    expect(r.rows).toEqual([])
  })

  it.each(f.failures.map((x) => [x.what, x] as const))('fails clearly on %s', async (_what, failure) => {
    // {base} is the test server's address, known only once it listens.
    const r = await read(
      `kit_${type}_fail`,
      failure.source.replace('{base}', base).replace('{closed}', String(closedPort)),
    )
    expectFailure(r.report, failure)
  })
})
