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
