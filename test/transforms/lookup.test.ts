// lookup enriches rows from tables at the site: a CSV file, a PostgreSQL and a MariaDB table.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '@outpost/agent'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLocal } from '../../agent/src/runtime/local-run.js'
import { WorkerPool } from '../../agent/src/workers/pool.js'
import { createMysqlDatabase, type TestMysql } from '../helpers/mysql.js'
import { readNdjsonDir } from '../helpers/ndjson.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'

const log = createLogger({ level: 'error', write: () => {} })
const SALES = 'sale,store,amount\n1,10,5.5\n2,20,7\n3,99,1\n4,10,2\n5,,3\n'

describe('lookup', () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-lookup-'))
  let pool: WorkerPool
  let pgdb: TestDatabase
  let mydb: TestMysql
  beforeAll(async () => {
    pool = new WorkerPool({ threads: 1 })
    pgdb = await createDatabase()
    mydb = await createMysqlDatabase()
  })
  afterAll(async () => {
    await pool?.close()
    await pgdb?.drop()
    await mydb?.drop()
    rmSync(work, { recursive: true, force: true })
  })

  let n = 0
  async function run(lookup: string, csv = SALES) {
    const name = `l${++n}`
    const dir = join(work, name)
    mkdirSync(dir)
    writeFileSync(join(dir, 'sales.csv'), csv)
    const out = join(work, `out-${name}`)
    const result = await runLocal(
      `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  source: { type: csv, path: "${dir}/sales.csv" }
  transforms:
    - cast: { sale: int, store: int, amount: decimal }
    - lookup: ${lookup}
  sinks: [{ type: file, path: ${out}, format: ndjson }]
`,
      { log, pool },
    )
    if (result.kind !== 'ran') throw new Error(JSON.stringify(result.errors))
    const rows = readNdjsonDir(out).sort((a, b) => Number(a.sale) - Number(b.sale))
    return { report: result.report, rows }
  }

  it('adds columns from a CSV file, typed, matching int keys to text, first row of a key winning', async () => {
    const stores = join(work, 'stores.csv')
    writeFileSync(stores, '\uFEFFid,region,sqm\n10,Nord Zürich,120\n20,,80\n10,duplicate,1\n,null key,1\n')
    const { report, rows } = await run(
      `{ from: { type: csv, path: "${stores}" }, on: { store: id }, columns: { region: string, sqm: int } }`,
    )
    expect(report.status).toBe('succeeded')
    expect(rows.map((r) => [r.sale, r.store, r.region, r.sqm])).toEqual([
      [1, 10, 'Nord Zürich', 120],
      [2, 20, null, 80],
      [3, 99, null, null],
      [4, 10, 'Nord Zürich', 120],
      [5, null, null, null],
    ])
  })

  it('drops or quarantines rows without a match, as asked', async () => {
    const stores = join(work, 'stores2.csv')
    writeFileSync(stores, 'store,region\n10,N\n20,S\n')
    const dropped = await run(
      `{ from: { type: csv, path: "${stores}" }, on: store, columns: [region], missing: drop }`,
    )
    expect(dropped.report).toMatchObject({ rowsWritten: 3, rowsFiltered: 2, rowsQuarantined: 0 })
    const quarantined = await run(
      `{ from: { type: csv, path: "${stores}" }, on: [store], columns: [region], missing: quarantine }`,
    )
    expect(quarantined.report).toMatchObject({ rowsWritten: 3, rowsQuarantined: 2 })
    expect(quarantined.report.errors.map((e) => e.message)).toEqual([
      `lookup: no match for store=99 in ${stores}`,
      `lookup: no match for store=null in ${stores}`,
    ])
  })

  it('reads PostgreSQL and MariaDB tables and queries at the site', async () => {
    await pgdb.query(
      "CREATE TABLE stores (id bigint, region text, opened date); INSERT INTO stores VALUES (10, 'Nord', '2020-02-01'), (20, 'Süd', NULL)",
    )
    const fromPg = await run(
      `{ from: { type: postgres, url: "${pgdb.url}", table: stores }, on: { store: id }, columns: { region: string, opened: date } }`,
    )
    expect(fromPg.report.errors).toEqual([])
    expect(fromPg.rows.map((r) => [r.sale, r.region, r.opened])).toEqual([
      [1, 'Nord', '2020-02-01'],
      [2, 'Süd', null],
      [3, null, null],
      [4, 'Nord', '2020-02-01'],
      [5, null, null],
    ])
    await mydb.query('CREATE TABLE stores (id INT, region VARCHAR(20), size DECIMAL(10,2))')
    await mydb.query("INSERT INTO stores VALUES (10, 'Nord', 12.50), (20, 'Süd', 3)")
    const fromMy = await run(
      `{ from: { type: mysql, url: "${mydb.url}", query: "SELECT id AS store, region, size FROM stores WHERE size > 5" }, on: store, columns: { region: string, size: decimal } }`,
    )
    expect(fromMy.rows.map((r) => [r.sale, r.region, r.size])).toEqual([
      [1, 'Nord', '12.50'],
      [2, null, null],
      [3, null, null],
      [4, 'Nord', '12.50'],
      [5, null, null],
    ])
  })

  it('fails the run with a clear message when the lookup table is missing a column or unreadable', async () => {
    const stores = join(work, 'stores3.csv')
    writeFileSync(stores, 'id,name\n10,N\n')
    const missing = await run(
      `{ from: { type: csv, path: "${stores}" }, on: { store: id }, columns: [region] }`,
    )
    expect(missing.report.status).toBe('failed')
    expect(missing.report.errors[0]?.message).toBe(
      `lookup: ${stores} has no column "region"; its columns are id, name`,
    )
    const gone = await run(
      `{ from: { type: csv, path: "${join(work, 'nope.csv')}" }, on: store, columns: [region] }`,
    )
    expect(gone.report.errors[0]?.message).toContain('lookup: cannot read')
    const badTable = await run(
      `{ from: { type: postgres, url: "${pgdb.url}", table: nope }, on: store, columns: [region] }`,
    )
    expect(badTable.report.errors[0]?.message).toContain(
      'lookup: cannot read table nope from PostgreSQL: relation "nope" does not exist',
    )
  })
})
