/** The machine and the servers a benchmark run talks to. */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'

export const PG = {
  host: process.env.BENCH_PG_HOST ?? '127.0.0.1',
  port: process.env.BENCH_PG_PORT ?? '5432',
  user: process.env.BENCH_PG_USER ?? 'postgres',
  database: process.env.BENCH_PG_DATABASE ?? 'test',
}
export const PG_URL = `postgres://${PG.user}@${PG.host}:${PG.port}/${PG.database}`

export const MYSQL = {
  host: process.env.BENCH_MYSQL_HOST ?? '127.0.0.1',
  port: process.env.BENCH_MYSQL_PORT ?? '3306',
  user: process.env.BENCH_MYSQL_USER ?? 'root',
  database: process.env.BENCH_MYSQL_DATABASE ?? 'test',
}

export function psql(sql: string): string {
  return execFileSync(
    'psql',
    ['-h', PG.host, '-p', PG.port, '-U', PG.user, '-d', PG.database, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql],
    {
      encoding: 'utf8',
    },
  )
}

export function mariadb(sql: string, extra: string[] = []): string {
  return execFileSync(
    'mariadb',
    ['-h', MYSQL.host, '-P', MYSQL.port, '-u', MYSQL.user, ...extra, MYSQL.database, '-e', sql],
    { encoding: 'utf8' },
  )
}

function version(cmd: string, args: string[]): string {
  try {
    return (
      execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split('\n')[0] ?? '?'
    )
  } catch {
    return 'not available'
  }
}

export function machine(): Record<string, string> {
  return {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    postgresql: psqlVersion(),
    mariadb: version('mariadb', ['--version']),
    'nats-server': version('nats-server', ['--version']),
    pgloader: version('pgloader', ['--version']),
    packages: ['csv-parse', 'lmdb', 'piscina', '@nats-io/jetstream', '@grpc/grpc-js', '@marcbachmann/cel-js']
      .map((name) => `${name} ${packageVersion(name)}`)
      .join(', '),
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string })
      .version
  } catch {
    return '?'
  }
}

function psqlVersion(): string {
  try {
    return psql('show server_version').trim()
  } catch {
    return 'not available'
  }
}

/**
 * Waits until the central ledger (outpost_ledger, written in the same transaction as the rows)
 * accounts for at least `rows` rows; returns how many it accounts for. Polling the ledger instead of count(*) on the loaded table keeps the
 * wait from scanning a million rows ten times a second beside the load it times.
 */
export async function waitForLedgerRows(
  db: { query<T>(sql: string): Promise<{ rows: T[] }> },
  rows: number,
  alive: () => void = () => {},
): Promise<number> {
  for (;;) {
    const loaded = await db
      .query<{ n: string }>('SELECT coalesce(sum(row_count), 0) AS n FROM outpost_ledger')
      .then(
        (x) => Number(x.rows[0]?.n),
        () => 0,
      )
    if (loaded >= rows) return loaded
    alive()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Node flags for the spawned agent and control plane, for looking into them:
 * OUTPOST_BENCH_CPU_PROFILE=DIR writes a V8 CPU profile of each; OUTPOST_BENCH_NODE_FLAGS adds
 * any others (space-separated, e.g. `--trace-gc`, which Node refuses in NODE_OPTIONS).
 */
export function profileFlags(): string[] {
  const dir = process.env.OUTPOST_BENCH_CPU_PROFILE
  const extra = process.env.OUTPOST_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []
  return [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...extra]
}
