// The conformance kit for sinks: every sink stores the same awkward dataset exactly, across runs
// and writers opened and closed again; a batch delivered twice lands once; empty input writes
// nothing; and a sink that cannot write says clearly, as permanent or retryable, why.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parsePipeline } from '@outpost/shared'
import { type Column, formatTimestampMicros } from '@outpost/shared/batch'
import { parse as parseCsv } from 'csv-parse/sync'
import { parquetReadObjects } from 'hyparquet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sinks } from '../../agent/src/registry.js'
import { SecretResolver } from '../../agent/src/secrets.js'
import type { SinkImpl } from '../../agent/src/sinks/types.js'
import { createMysqlDatabase, type TestMysql } from '../helpers/mysql.js'
import { freePort } from '../helpers/ports.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
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
  type Row,
  run,
  TYPES,
  typedRows,
  YAML_HEAD,
} from './kit.js'

interface SinkFixture {
  name: string
  /** The sink's options as a YAML flow mapping, writing to `target` (a table or a directory). */
  sink(target: string): string
  /** Everything stored at `target`, as canonical rows ([] when nothing was ever written). */
  read(target: string): Promise<Row[]>
  /** Sinks that cannot write; `{closed}` stands for a port nobody listens on. */
  failures: (ExpectedFailure & { sink: string; before?: () => Promise<void> })[]
}

const work = mkdtempSync(join(tmpdir(), 'outpost-sink-kit-'))
let pg: TestDatabase
let my: TestMysql
let closedPort = 0
const secrets = () => new SecretResolver({ env: { OUTPOST_SECRET_PG: pg.url, OUTPOST_SECRET_MY: my.url } })

beforeAll(async () => {
  pg = await createDatabase()
  my = await createMysqlDatabase()
  closedPort = await freePort()
})

afterAll(async () => {
  await pg?.drop()
  await my?.drop()
  rmSync(work, { recursive: true, force: true })
})

function files(dir: string, ext: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(ext))
      .map((e) => join(e.parentPath, e.name))
  } catch {
    return []
  }
}

const missingTable = (error: unknown) => {
  const code = (error as { code?: string }).code
  if (code === '42P01' || code === 'ER_NO_SUCH_TABLE') return []
  throw error
}

const fixtures: SinkFixture[] = [
  {
    name: 'postgres',
    sink: (table) => `{ type: postgres, url: "\${secret:PG}", table: ${table} }`,
    read: (table) =>
      pg
        .query<Record<string, unknown>>(
          `SELECT id::text, name, amount::text, big::text, ok::text,
                  to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at FROM ${table}`,
        )
        .then((rows) => rows.map(canonical), missingTable),
    failures: [
      {
        what: 'bad credentials',
        sink: '{ type: postgres, url: "postgres://nobody@127.0.0.1:5432/postgres", table: t }',
        message: 'authentication failed',
        retryable: false,
      },
      {
        what: 'an unreachable host',
        sink: '{ type: postgres, url: "postgres://postgres@127.0.0.1:{closed}/postgres", table: t }',
        message: 'connection refused',
        retryable: true,
      },
      {
        what: 'a table whose column types clash with the rows',
        sink: '{ type: postgres, url: "${secret:PG}", table: clash }',
        before: () => pg.query('CREATE TABLE clash (id boolean)').then(() => undefined),
        message: 'column "id" of table clash is boolean in the database, but the batch has int values',
        retryable: false,
      },
    ],
  },
  {
    name: 'mysql',
    sink: (table) => `{ type: mysql, url: "\${secret:MY}", table: ${table} }`,
    read: (table) =>
      my
        .query<Record<string, unknown>>(
          `SELECT CAST(id AS CHAR) AS id, name, CAST(amount AS CHAR) AS amount, CAST(big AS CHAR) AS big,
                  CAST(ok AS CHAR) AS ok, DATE_FORMAT(at, '%Y-%m-%dT%H:%i:%s.%fZ') AS at FROM ${table}`,
        )
        .then((rows) => rows.map(canonical), missingTable),
    failures: [
      {
        what: 'bad credentials',
        sink: '{ type: mysql, url: "mysql://nobody:wrong@127.0.0.1:3306/test", table: t }',
        message: 'authentication failed',
        retryable: false,
      },
      {
        what: 'an unreachable host',
        sink: '{ type: mysql, url: "mysql://root@127.0.0.1:{closed}/test", table: t }',
        message: 'connection refused',
        retryable: true,
      },
      {
        what: 'a table whose column types clash with the rows',
        sink: '{ type: mysql, url: "${secret:MY}", table: clash }',
        before: () => my.query('CREATE TABLE clash (id DATE)').then(() => undefined),
        message: 'column "id" of table clash',
        retryable: false,
      },
    ],
  },
  ...(['csv', 'ndjson', 'parquet'] as const).map(
    (format): SinkFixture => ({
      name: `file ${format}`,
      sink: (target) => `{ type: file, path: ${join(work, target)}, format: ${format} }`,
      async read(target) {
        const found = files(join(work, target), `.${format}`)
        const rows: Record<string, unknown>[] = []
        for (const file of found) {
          if (format === 'csv') {
            // A quoted empty field is an empty string; an unquoted one is null.
            rows.push(
              ...(parseCsv(readFileSync(file), {
                columns: true,
                cast: (value, context) => (context.quoting || value !== '' ? value : null),
              }) as Record<string, unknown>[]),
            )
          } else if (format === 'ndjson') {
            rows.push(
              ...readFileSync(file, 'utf8')
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l) as Record<string, unknown>),
            )
          } else {
            const buffer = readFileSync(file)
            const objects = (await parquetReadObjects({
              file: buffer.buffer.slice(
                buffer.byteOffset,
                buffer.byteOffset + buffer.byteLength,
              ) as ArrayBuffer,
              parsers: { timestampFromMicroseconds: (x: bigint) => formatTimestampMicros(x) },
            })) as Record<string, unknown>[]
            rows.push(...objects)
          }
        }
        return rows.map(canonical)
      },
      failures: [
        {
          what: 'a path that is a file, not a directory',
          sink: `{ type: file, path: ${join(work, 'a-file')}, format: ${format} }`,
          before: async () => writeFileSync(join(work, 'a-file'), 'x'),
          message: `file sink: cannot write under ${join(work, 'a-file')}`,
          retryable: false,
        },
      ],
    }),
  ),
]

describe.each(fixtures.map((f) => [f.name, f] as const))('sink %s', (name, f) => {
  const slug = name.replace(/\W+/g, '_')
  let n = 0
  /** An NDJSON drop with the dataset's parts, read through the casts into typed rows. */
  const drop = (rows: Row[]) => {
    const dir = join(work, `in-${slug}-${++n}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'part-1.ndjson'), rows.map((r) => `${JSON.stringify(r)}\n`).join(''))
    return dir
  }
  const pipeline = (pipelineName: string, dir: string, sink: string) =>
    `${YAML_HEAD(pipelineName)}  source: { type: ndjson, path: "${dir}/*.ndjson" }\n  transforms: ${CASTS}\n  sinks: [${sink}]\n`

  it('stores unicode, nulls and extreme values exactly, run after run, each row once', async () => {
    const target = `kit_${slug}_rows`
    const dir = drop(FIRST)
    const state = join(work, `${target}-state`)
    const first = await run(pipeline(target, dir, f.sink(target)), { secrets: secrets(), stateDir: state })
    expect(first).toMatchObject({ status: 'succeeded', rowsWritten: FIRST.length, errors: [] })
    expect(byId(await f.read(target))).toEqual(expected(FIRST))
    writeFileSync(join(dir, 'part-2.ndjson'), LATER.map((r) => `${JSON.stringify(r)}\n`).join(''))
    const second = await run(pipeline(target, dir, f.sink(target)), { secrets: secrets(), stateDir: state })
    expect(second).toMatchObject({ status: 'succeeded', rowsWritten: LATER.length })
    await run(pipeline(target, dir, f.sink(target)), { secrets: secrets(), stateDir: state })
    expect(byId(await f.read(target))).toEqual(expected(DATASET))
  })

  it('opens, writes and closes twice; a batch delivered again lands once', async () => {
    const target = `kit_${slug}_again`
    const parsed = parsePipeline(pipeline(target, drop([]), f.sink(target)))
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
    const impl = sinks[parsed.value.pipeline.spec.sinks[0]!.type] as SinkImpl<unknown>
    const options = secrets().resolveDeep(parsed.value.pipeline.spec.sinks[0])
    const columns: Column[] = Object.entries(TYPES).map(([c, type]) => ({ name: c, type }))
    const batch = (seq: number, rows: Row[]) => ({
      id: `kit/${target}/run-1/${seq}`,
      agentId: 'kit',
      pipeline: target,
      runId: 'run-1',
      seq,
      createdAt: Date.now(),
      rows: rows.length,
      payload: impl.encode
        ? impl.encode(options, { columns, rows: typedRows(rows) as never })
        : new Uint8Array(),
    })
    const context = { agentId: 'kit', pipeline: target, log, secrets: secrets() }
    const one = impl.open(options, context)
    await one.write(batch(1, FIRST))
    await one.write(batch(1, FIRST))
    await one.close()
    const two = impl.open(options, context)
    await two.write(batch(1, FIRST))
    await two.write(batch(2, LATER))
    await two.finishRun?.({ runId: 'run-1', succeeded: true })
    await two.close()
    expect(byId(await f.read(target))).toEqual(expected(DATASET))
  })

  it('writes nothing for empty input, and the run succeeds', async () => {
    const target = `kit_${slug}_empty`
    const report = await run(pipeline(target, drop([]), f.sink(target)), { secrets: secrets() })
    expect(report).toMatchObject({ status: 'succeeded', rowsRead: 0, rowsWritten: 0, errors: [] })
    expect(await f.read(target)).toEqual([])
  })

  it.each(f.failures.map((x) => [x.what, x] as const))('fails clearly on %s', async (_what, failure) => {
    await failure.before?.()
    const report = await run(
      pipeline(
        `kit_${slug}_fail`,
        drop(FIRST.slice(0, 3)),
        failure.sink.replace('{closed}', String(closedPort)),
      ),
      { secrets: secrets(), deliveryTimeoutMs: 4_000 },
    )
    expectFailure(report, failure)
  })
})
