// The postgres source and sink against a real PostgreSQL server: incremental reads with ties
// resolved by (cursor, key), typed columns, every write mode, schema evolution and clear errors.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@outpost/agent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLocal } from '../../agent/src/runtime/local-run.js'
import { SecretResolver } from '../../agent/src/secrets.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'

const log = createLogger({ level: 'error', write: () => {} })

describe('postgres connectors', () => {
  let db: TestDatabase
  let work: string
  let secrets: SecretResolver
  beforeAll(async () => {
    db = await createDatabase()
    work = mkdtempSync(join(tmpdir(), 'outpost-pg-conn-'))
    secrets = new SecretResolver({ env: { OUTPOST_SECRET_PG: db.url } })
    await db.query(`CREATE TABLE events (
      id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, name text, amount numeric(20,6), ratio double precision,
      ok boolean, day date, doc jsonb, raw bytea, big bigint)`)
    await db.query(`INSERT INTO events
      SELECT i, '2024-01-01T00:00:00Z'::timestamptz + ((i / 3) || ' minutes')::interval, 'név ' || i || E'\\t"x"\\n', i * 1.5, i / 7.0,
             i % 2 = 0, DATE '2024-01-01' + i, jsonb_build_object('i', i), '\\x00ff'::bytea, 9007199254740993 + i
      FROM generate_series(1, 2000) AS i`)
  })
  afterAll(async () => {
    await db?.drop()
    rmSync(work, { recursive: true, force: true })
  })

  const run = (spec: string, stateDir?: string, chunkBytes?: number) =>
    runLocal(spec, {
      log,
      secrets,
      threads: 1,
      ...(stateDir ? { stateDir } : {}),
      ...(chunkBytes ? { chunkBytes } : {}),
    }).then((r) => {
      if (r.kind !== 'ran') throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('; '))
      return r.report
    })

  it('reads a table incrementally with (cursor, key): no gap and no repeat across runs and ties', async () => {
    const spec = (table: string) => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: pg-copy }
spec:
  source:
    type: postgres
    url: \${secret:PG}
    table: events
    cursor: { column: updated_at, key: id }
    batch_rows: 250
  sinks: [{ type: postgres, url: \${secret:PG}, table: ${table} }]
`
    const state = join(work, 'state-incremental')
    const first = await run(spec('copy_events'), state)
    expect(first).toMatchObject({ status: 'succeeded', rowsRead: 2000, rowsWritten: 2000 })
    // New rows, some sharing the last cursor value (ties), arrive between runs.
    await db.query(
      `INSERT INTO events (id, updated_at, name) SELECT i, (SELECT max(updated_at) FROM events), 'late ' || i FROM generate_series(2001, 2010) AS i`,
    )
    const second = await run(spec('copy_events'), state)
    expect(second.rowsRead).toBe(10)
    const third = await run(spec('copy_events'), state)
    expect(third.rowsRead).toBe(0)
    const [counts] = await db.query<{ n: string; d: string }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS d FROM copy_events',
    )
    expect(counts).toEqual({ n: '2010', d: '2010' })
    // Every type round-trips.
    const diff = await db.query(`SELECT count(*) AS n FROM (
      SELECT id, updated_at, name, amount, ratio, ok, day, doc, raw, big FROM events
      EXCEPT SELECT id, updated_at, name, amount, ratio, ok, day, doc, raw, big FROM copy_events) d`)
    expect(diff).toEqual([{ n: '0' }])
    const types = await db.query<{ column_name: string; data_type: string }>(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'copy_events' ORDER BY ordinal_position",
    )
    expect(types.map((t) => t.data_type)).toEqual([
      'bigint',
      'timestamp with time zone',
      'text',
      'numeric',
      'double precision',
      'boolean',
      'date',
      'jsonb',
      'bytea',
      'bigint',
    ])
  })

  it('loads a CSV of many chunks with no transforms cell for cell, quarantining a ragged row', async () => {
    // Chunks after the first go straight from CSV bytes to COPY text (csv-copy.ts); the chunk
    // with the ragged row takes the usual path.
    const awkward = [
      'plain',
      'tab\there',
      'back\\slash \\N',
      'say "hi"',
      'two\nlines',
      'crlf\r\nin',
      'é🚀',
      '',
    ]
    const expected: [string, string | null, string | null][] = []
    const lines = ['id,text,more']
    for (let i = 1; i <= 3000; i++) {
      const text = awkward[i % awkward.length] as string
      const more = i % 7 === 0 ? '' : `m${i}`
      if (i === 2500) {
        lines.push(`${i},ragged`)
        continue
      }
      lines.push(
        `${i},${/["\r\n,]/.test(text) || i % 5 === 0 ? `"${text.replaceAll('"', '""')}"` : text},${more}`,
      )
      expected.push([String(i), text === '' ? null : text, more === '' ? null : more])
    }
    const file = join(work, 'awkward.csv')
    writeFileSync(file, `${lines.join('\n')}\n`)
    const report = await run(
      `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: csv-plain }
spec:
  source: { type: csv, path: ${file} }
  sinks: [{ type: postgres, url: \${secret:PG}, table: csv_plain }]
`,
      undefined,
      4096,
    )
    expect(report).toMatchObject({
      status: 'succeeded',
      rowsRead: 3000,
      rowsWritten: 2999,
      rowsQuarantined: 1,
    })
    const rows = await db.query<{ id: string; text: string | null; more: string | null }>(
      'SELECT id, text, more FROM csv_plain ORDER BY id::int',
    )
    expect(rows.map((r) => [r.id, r.text, r.more])).toEqual(expected)
  })

  it('upserts, inserts (skipping existing keys) and replaces', async () => {
    const spec = (name: string, mode: string, query: string) => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: postgres, url: \${secret:PG}, query: "${query}" }
  sinks: [{ type: postgres, url: \${secret:PG}, table: target_${mode}, mode: ${mode}${mode === 'upsert' || mode === 'insert' ? ', keys: [id]' : ''} }]
`
    for (const mode of ['upsert', 'insert', 'replace']) {
      await run(spec(`m-${mode}`, mode, 'SELECT id, name FROM events WHERE id <= 5'))
      await run(spec(`m-${mode}`, mode, "SELECT id, 'changed' AS name FROM events WHERE id BETWEEN 4 AND 7"))
    }
    const rows = (table: string) =>
      db.query<{ id: string; name: string }>(`SELECT id, name FROM ${table} ORDER BY id`)
    expect(
      (await rows('target_upsert')).map((r) => `${r.id}:${r.name.startsWith('changed') ? 'c' : 'o'}`),
    ).toEqual(['1:o', '2:o', '3:o', '4:c', '5:c', '6:c', '7:c'])
    expect(
      (await rows('target_insert')).map((r) => `${r.id}:${r.name.startsWith('changed') ? 'c' : 'o'}`),
    ).toEqual(['1:o', '2:o', '3:o', '4:o', '5:o', '6:c', '7:c'])
    expect((await rows('target_replace')).map((r) => r.id)).toEqual(['4', '5', '6', '7'])
  })

  it('adds new columns, refuses a clashing type, and names missing tables and bad credentials', async () => {
    const spec = (query: string, table = 'evolve') => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: evolve }
spec:
  source: { type: postgres, url: \${secret:PG}, query: "${query}" }
  sinks: [{ type: postgres, url: \${secret:PG}, table: ${table} }]
`
    await run(spec('SELECT id FROM events WHERE id = 1'))
    await run(spec("SELECT id, 'new' AS extra FROM events WHERE id = 2"))
    expect(await db.query('SELECT id, extra FROM evolve ORDER BY id')).toEqual([
      { id: '1', extra: null },
      { id: '2', extra: 'new' },
    ])
    const clash = await run(spec("SELECT 'text' AS id"))
    expect(clash.status).toBe('failed')
    expect(clash.errors.at(-1)?.message).toContain(
      'column "id" of table evolve is bigint in the database, but the batch has string values',
    )

    const missing = await run(spec('SELECT * FROM no_such_table'))
    expect(missing.status).toBe('failed')
    expect(missing.errors[0]?.message).toMatch(
      /postgres source query: table does not exist: relation "no_such_table" does not exist/,
    )

    const badSecrets = new SecretResolver({
      env: { OUTPOST_SECRET_PG: db.url.replace('postgres@', 'nobody@') },
    })
    const auth = await runLocal(spec('SELECT 1 AS x'), { log, secrets: badSecrets, threads: 1 })
    expect(auth.kind === 'ran' && auth.report.errors[0]?.message).toMatch(
      /cannot connect: authentication failed|role "nobody" does not exist/,
    )

    const unreachable = new SecretResolver({
      env: { OUTPOST_SECRET_PG: 'postgres://postgres@127.0.0.1:1/x' },
    })
    const down = await runLocal(spec('SELECT 1 AS x'), { log, secrets: unreachable, threads: 1 })
    expect(down.kind === 'ran' && down.report.errors[0]?.message).toContain(
      'cannot connect: connection refused',
    )

    const noSecret = await runLocal(spec('SELECT 1 AS x').replaceAll('${secret:PG}', '${secret:NOPE}'), {
      log,
      secrets,
      threads: 1,
    })
    expect(noSecret.kind === 'ran' && noSecret.report.errors[0]?.message).toContain(
      'secret "NOPE" is not defined on this agent',
    )
  })
})
