/** What a user would pick instead, on the same data in the same run: pgloader and a pandas loader. */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MYSQL, PG, PG_URL, psql } from '../lib/env.js'
import { PG_TABLE_DDL } from './limits.js'

const COLUMNS = 'id, created_at, customer, email, amount, active, note, attrs, qty, score'

export function pgloaderCsv(work: string, file: string, rows: number): number {
  psql(`DROP TABLE IF EXISTS bench_pgloader; CREATE TABLE bench_pgloader ${PG_TABLE_DDL}`)
  const command = join(work, 'pgloader.load')
  writeFileSync(
    command,
    `LOAD CSV FROM '${file}' (${COLUMNS})
INTO postgresql://${PG.user}@${PG.host}:${PG.port}/${PG.database}?bench_pgloader (${COLUMNS})
WITH skip header = 1, fields optionally enclosed by '"', fields escaped by double-quote, fields terminated by ',';
`,
  )
  const started = performance.now()
  execFileSync('pgloader', ['--quiet', command], { stdio: ['ignore', 'ignore', 'pipe'] })
  const seconds = (performance.now() - started) / 1000
  const count = Number(psql('SELECT count(*) FROM bench_pgloader'))
  psql('DROP TABLE bench_pgloader')
  if (count !== rows) throw new Error(`pgloader loaded ${count} rows, expected ${rows}`)
  return rows / seconds
}

/** pgloader copying a whole MySQL table into PostgreSQL (its MySQL-to-PostgreSQL migration path). */
export function pgloaderMysql(work: string, table: string, rows: number): number {
  psql(`DROP TABLE IF EXISTS ${table}`)
  const command = join(work, 'pgloader-mysql.load')
  writeFileSync(
    command,
    `LOAD DATABASE
  FROM mysql://${MYSQL.user}@${MYSQL.host}:${MYSQL.port}/${MYSQL.database}
  INTO postgresql://${PG.user}@${PG.host}:${PG.port}/${PG.database}
WITH include drop, create tables, no foreign keys, reset no sequences
ALTER SCHEMA '${MYSQL.database}' RENAME TO 'public'
INCLUDING ONLY TABLE NAMES MATCHING '${table}';
`,
  )
  const started = performance.now()
  execFileSync('pgloader', ['--quiet', command], { stdio: ['ignore', 'ignore', 'pipe'] })
  const seconds = (performance.now() - started) / 1000
  const count = Number(psql(`SELECT count(*) FROM ${table}`))
  psql(`DROP TABLE ${table}`)
  if (count !== rows) throw new Error(`pgloader loaded ${count} rows, expected ${rows}`)
  return rows / seconds
}

/** pandas read_csv + to_sql, the way hand-written ETL scripts load a CSV into PostgreSQL. */
export function pandasToSql(work: string, file: string, rows: number): number {
  psql('DROP TABLE IF EXISTS bench_pandas')
  const script = join(work, 'pandas_load.py')
  writeFileSync(
    script,
    `import sys, time
import pandas as pd
from sqlalchemy import create_engine
start = time.time()
engine = create_engine("postgresql+psycopg2://${PG.user}@${PG.host}:${PG.port}/${PG.database}")
df = pd.read_csv(sys.argv[1], parse_dates=["created_at"])
df.to_sql("bench_pandas", engine, if_exists="append", index=False, chunksize=10000, method="multi")
print(time.time() - start)
`,
  )
  const seconds = Number(
    execFileSync('/usr/bin/python3', [script, file], { encoding: 'utf8' }).trim().split('\n').pop(),
  )
  const count = Number(psql('SELECT count(*) FROM bench_pandas'))
  psql('DROP TABLE bench_pandas')
  if (count !== rows) throw new Error(`pandas loaded ${count} rows, expected ${rows}`)
  return rows / seconds
}

export function pandasAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pandas, sqlalchemy, psycopg2'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export { PG_URL }
