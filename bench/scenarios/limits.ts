/**
 * The raw limits of this machine for the work Outpost does, measured on the same data in the
 * same run: PostgreSQL's own CSV loader, MariaDB's, csv-parse alone, JetStream publishing the
 * same bytes, LMDB appends, and the memory of an idle Node with the agent's libraries.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createReadStream, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { parse } from 'csv-parse'
import { open } from 'lmdb'
import { mariadb, psql } from '../lib/env.js'

export const PG_TABLE_DDL = `(id bigint, created_at timestamptz, customer text, email text, amount numeric(12,2), active boolean, note text, attrs jsonb, qty integer, score double precision)`

/** `psql \copy` into a logged table: PostgreSQL parsing the CSV itself. */
export function psqlCopy(file: string, rows: number): number {
  psql(`DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy ${PG_TABLE_DDL}`)
  const started = performance.now()
  psql(`\\copy bench_copy FROM '${file}' WITH (FORMAT csv, HEADER true)`)
  const seconds = (performance.now() - started) / 1000
  const count = Number(psql('SELECT count(*) FROM bench_copy'))
  if (count !== rows) throw new Error(`psql \\copy loaded ${count} rows, expected ${rows}`)
  psql('DROP TABLE bench_copy')
  return rows / seconds
}

/** A typed MariaDB table with the CSV's rows, the source of the MySQL → PostgreSQL benchmark. */
export function mariadbSourceTable(file: string, rows: number, table: string): number {
  mariadb(
    `DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id BIGINT PRIMARY KEY, created_at DATETIME(6), customer TEXT, email TEXT, amount DECIMAL(12,2), active BOOLEAN, note TEXT, attrs JSON, qty INT, score DOUBLE)`,
  )
  mariadb(
    `LOAD DATA LOCAL INFILE '${file}' INTO TABLE ${table} FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES
     (id, @created, customer, email, amount, @active, @note, attrs, qty, score)
     SET created_at = STR_TO_DATE(@created, '%Y-%m-%dT%H:%i:%s.%fZ'), active = (@active = 'true'), note = NULLIF(@note, '')`,
    ['--local-infile=1'],
  )
  const count = Number(mariadb(`SELECT count(*) FROM ${table}`, ['-N']).trim())
  if (count !== rows) throw new Error(`the MariaDB source table has ${count} rows, expected ${rows}`)
  return count
}

/** MariaDB `LOAD DATA LOCAL INFILE`. */
export function mariadbLoad(file: string, rows: number): number {
  mariadb(
    'DROP TABLE IF EXISTS bench_load; CREATE TABLE bench_load (id BIGINT, created_at VARCHAR(40), customer TEXT, email TEXT, amount DECIMAL(12,2), active VARCHAR(5), note TEXT, attrs JSON, qty INT, score DOUBLE)',
  )
  const started = performance.now()
  mariadb(
    `LOAD DATA LOCAL INFILE '${file}' INTO TABLE bench_load FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES`,
    ['--local-infile=1'],
  )
  const seconds = (performance.now() - started) / 1000
  const count = Number(mariadb('SELECT count(*) FROM bench_load', ['-N']).trim())
  if (count !== rows) throw new Error(`LOAD DATA loaded ${count} rows, expected ${rows}`)
  mariadb('DROP TABLE bench_load')
  return rows / seconds
}

/** csv-parse streaming the file on one thread, default options: the parser Outpost uses, alone. */
export async function csvParseRaw(file: string, rows: number): Promise<number> {
  const started = performance.now()
  let count = 0
  const parser = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(parse({ from_line: 2 }))
  for await (const _record of parser) count++
  if (count !== rows) throw new Error(`csv-parse read ${count} records, expected ${rows}`)
  return rows / ((performance.now() - started) / 1000)
}

/** JetStream publish of the same bytes (512 KiB messages, acks awaited, 32 in flight). */
export async function jetstreamRaw(natsUrl: string, file: string, rows: number): Promise<number> {
  const nc = await connect({ servers: natsUrl })
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams
      .add({ name: 'BENCH_RAW', subjects: ['bench.raw'] })
      .catch(() => jsm.streams.purge('BENCH_RAW'))
    const js = jetstream(nc)
    const bytes = readFileSync(file)
    const size = 512 * 1024
    const started = performance.now()
    let inflight: Promise<unknown>[] = []
    for (let offset = 0, seq = 0; offset < bytes.length; offset += size, seq++) {
      inflight.push(js.publish('bench.raw', bytes.subarray(offset, offset + size), { msgID: `raw-${seq}` }))
      if (inflight.length >= 32) {
        await Promise.all(inflight)
        inflight = []
      }
    }
    await Promise.all(inflight)
    const seconds = (performance.now() - started) / 1000
    await jsm.streams.delete('BENCH_RAW')
    return rows / seconds
  } finally {
    await nc.close()
  }
}

/** LMDB appends of the rows' bytes, 1,000 records a transaction. */
export function lmdbAppends(dir: string, file: string): number {
  rmSync(dir, { recursive: true, force: true })
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .slice(1, -1)
    .map((l) => Buffer.from(l))
  const root = open({ path: join(dir, 'bench.mdb'), maxDbs: 2 })
  const db = root.openDB<Buffer, number>({ name: 'q', encoding: 'binary' })
  const started = performance.now()
  for (let i = 0; i < lines.length; i += 1000) {
    root.transactionSync(() => {
      for (let j = i; j < Math.min(i + 1000, lines.length); j++) db.put(j, lines[j] as Buffer)
    })
  }
  const seconds = (performance.now() - started) / 1000
  root.close()
  rmSync(dir, { recursive: true, force: true })
  return lines.length / seconds
}

/** RSS of an idle Node process with the agent's libraries imported: the memory floor. */
export function idleNodeMemory(cwd: string): number {
  const script = `await Promise.all(['@grpc/grpc-js','@nats-io/transport-node','@nats-io/jetstream','lmdb','piscina','csv-parse'].map((m) => import(m)));
setTimeout(() => { console.log(process.memoryUsage().rss); }, 1000)`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' })
  return Number(out.trim()) / 2 ** 20
}

export function available(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0
}
