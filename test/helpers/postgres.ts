/**
 * A database of the test's own on the shared PostgreSQL server (tests that stop or break the
 * server start their own instead): created fresh, dropped afterwards.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

const ADMIN_URL = process.env.OUTPOST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export interface TestDatabase {
  url: string
  name: string
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  drop(): Promise<void>
}

export async function createDatabase(prefix = 'outpost_t'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`)
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  // DROP … WITH (FORCE) may end a connection the pool is still closing; without a listener the
  // pool's 'error' event would be an uncaught exception in the test process.
  pool.on('error', () => {})
  return {
    url,
    name,
    async query(sql, params) {
      return (await pool.query(sql, params as unknown[])).rows
    },
    async drop() {
      await pool.end()
      const c = new pg.Client({ connectionString: ADMIN_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}
