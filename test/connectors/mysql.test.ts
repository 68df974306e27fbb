// The mysql source and sink against a real MariaDB server: incremental streaming reads, typed
// columns, LOAD DATA and upsert, idempotent batches, and MariaDB → PostgreSQL.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@outpost/agent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLocal } from '../../agent/src/runtime/local-run.js'
import { SecretResolver } from '../../agent/src/secrets.js'
import { createMysqlDatabase, type TestMysql } from '../helpers/mysql.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'

const log = createLogger({ level: 'error', write: () => {} })

describe('mysql connectors', () => {
  let my: TestMysql
  let pg: TestDatabase
  let secrets: SecretResolver
  let work: string
  beforeAll(async () => {
    my = await createMysqlDatabase()
    pg = await createDatabase()
    work = mkdtempSync(join(tmpdir(), 'outpost-my-conn-'))
    secrets = new SecretResolver({ env: { OUTPOST_SECRET_MY: my.url, OUTPOST_SECRET_PG: pg.url } })
    await my.query(`CREATE TABLE orders (
      id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, name VARCHAR(200), amount DECIMAL(20,6), ratio DOUBLE,
      ok BOOLEAN, day DATE, doc JSON, raw VARBINARY(16), big BIGINT UNSIGNED)`)
    const values: unknown[][] = []
    for (let i = 1; i <= 1500; i++) {
      values.push([
        i,
        `2024-01-01 00:${String(Math.floor(i / 100)).padStart(2, '0')}:00.123456`,
        `név ${i}\t"x"\nend`,
        (i * 1.5).toFixed(6),
        i / 7,
        i % 2,
        '2024-01-02',
        JSON.stringify({ i }),
        Buffer.from([0, 255, i % 256]),
        `${9007199254740993n + BigInt(i)}`,
      ])
    }
    await my.query('INSERT INTO orders VALUES ?', [values])
  })
  afterAll(async () => {
    await my?.drop()
    await pg?.drop()
    rmSync(work, { recursive: true, force: true })
  })

  const run = (spec: string, stateDir?: string) =>
    runLocal(spec, { log, secrets, threads: 1, ...(stateDir ? { stateDir } : {}) }).then((r) => {
      if (r.kind !== 'ran') throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('; '))
      return r.report
    })

  it('streams a table incrementally into MariaDB and into PostgreSQL, exactly once', async () => {
    const spec = `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: my-copy }
spec:
  source: { type: mysql, url: \${secret:MY}, table: orders, cursor: { column: updated_at, key: id }, batch_rows: 200 }
  sinks:
    - { type: mysql, url: \${secret:MY}, table: orders_copy }
    - { type: postgres, url: \${secret:PG}, table: orders_pg }
`
    const state = join(work, 'my-state')
    expect(await run(spec, state)).toMatchObject({ status: 'succeeded', rowsRead: 1500, rowsWritten: 1500 })
    await my.query(
      "INSERT INTO orders (id, updated_at, name) VALUES (1501, '2024-01-01 00:15:00.123456', 'tie'), (1502, '2024-01-02 00:00:00', 'later')",
    )
    expect((await run(spec, state)).rowsRead).toBe(2)
    expect((await run(spec, state)).rowsRead).toBe(0)

    const mine = await my.query<{ n: string; d: string }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS d FROM orders_copy',
    )
    expect(mine[0]).toEqual({ n: '1502', d: '1502' })
    const diff = await my.query<{ n: string }>(
      `SELECT count(*) AS n FROM orders o JOIN orders_copy c USING (id)
       WHERE NOT (o.updated_at <=> c.updated_at AND o.name <=> c.name AND o.amount <=> c.amount AND o.ratio <=> c.ratio
                  AND o.day <=> c.day AND JSON_EXTRACT(o.doc, '$.i') <=> JSON_EXTRACT(c.doc, '$.i') AND o.raw <=> c.raw AND o.big <=> c.big)`,
    )
    expect(diff[0]?.n).toBe('0')

    const inPg = await pg.query<{ n: string; big: string; name: string; ts: string }>(
      "SELECT count(*) OVER () AS n, big::text AS big, name, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts FROM orders_pg WHERE id = 7",
    )
    expect(inPg[0]).toEqual({
      n: '1',
      big: '9007199254741000',
      name: 'név 7\t"x"\nend',
      ts: '2024-01-01 00:00:00.123456',
    })
    const [total] = await pg.query<{ n: string }>('SELECT count(*) AS n FROM orders_pg')
    expect(total?.n).toBe('1502')
  })

  it('upserts with ON DUPLICATE KEY UPDATE', async () => {
    const spec = (query: string) => `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: my-upsert }
spec:
  source: { type: mysql, url: \${secret:MY}, query: "${query}" }
  sinks: [{ type: mysql, url: \${secret:MY}, table: upserted, mode: upsert, keys: [id] }]
`
    await run(spec('SELECT id, name FROM orders WHERE id <= 3'))
    await run(spec("SELECT id, 'changed' AS name FROM orders WHERE id BETWEEN 2 AND 4"))
    const rows = await my.query<{ id: string; name: string }>('SELECT id, name FROM upserted ORDER BY id')
    expect(rows.map((r) => `${r.id}:${r.name.startsWith('changed') ? 'c' : 'o'}`)).toEqual([
      '1:o',
      '2:c',
      '3:c',
      '4:c',
    ])
  })

  it('says what is wrong: missing table, bad credentials, unreachable host', async () => {
    const spec = `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: my-bad }
spec:
  source: { type: mysql, url: \${secret:MY}, table: no_such_table }
  sinks: [{ type: file, path: ${join(work, 'out')} }]
`
    const missing = await run(spec)
    expect(missing.status).toBe('failed')
    expect(missing.errors[0]?.message).toContain('table does not exist')
    const bad = new SecretResolver({ env: { OUTPOST_SECRET_MY: my.url.replace('root@', 'nobody:wrong@') } })
    const auth = await runLocal(spec, { log, secrets: bad, threads: 1 })
    expect(auth.kind === 'ran' && auth.report.errors[0]?.message).toContain('authentication failed')
    const down = new SecretResolver({ env: { OUTPOST_SECRET_MY: 'mysql://root@127.0.0.1:1/x' } })
    const unreachable = await runLocal(spec, { log, secrets: down, threads: 1 })
    expect(unreachable.kind === 'ran' && unreachable.report.errors[0]?.message).toContain(
      'connection refused',
    )
  })
})
