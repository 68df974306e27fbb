/** A database of the test's own on the shared MariaDB server: created fresh, dropped afterwards. */
import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'

const ADMIN_URL = process.env.OUTPOST_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

export interface TestMysql {
  url: string
  name: string
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  drop(): Promise<void>
}

export async function createMysqlDatabase(): Promise<TestMysql> {
  const name = `outpost_t_${randomBytes(5).toString('hex')}`
  const admin = await mysql.createConnection({ uri: ADMIN_URL })
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`)
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: 2,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    timezone: 'Z',
  })
  return {
    url,
    name,
    async query(sql, params) {
      const [rows] = await pool.query(sql, params)
      return rows as never
    },
    async drop() {
      await pool.end()
      const c = await mysql.createConnection({ uri: ADMIN_URL })
      await c.query(`DROP DATABASE IF EXISTS ${name}`)
      await c.end()
    },
  }
}
