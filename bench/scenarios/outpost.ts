/** Outpost's own paths, run as a user runs them (the built `outpost` CLI and real processes). */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlPlaneArgs, OUTPOST_BIN as OUTPOST } from '../../test/helpers/outpost.js'

export { OUTPOST_BIN as OUTPOST } from '../../test/helpers/outpost.js'

/** The admin API token the benchmark's control planes install (OUTPOST_BOOTSTRAP_TOKEN). */
export const BENCH_TOKEN = 'opa_benchmark-admin-0123456789abcdef'

/** Runs a pipeline once with `outpost run --local`; rows/s from the run's own duration. */
export function runLocal(work: string, spec: string, expectRows: number): number {
  const file = join(work, 'pipeline.yaml')
  writeFileSync(file, spec)
  const out = execFileSync(process.execPath, [OUTPOST, 'run', file, '--local'], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  })
  const report = JSON.parse(out) as {
    status: string
    rowsRead: number
    rowsWritten: number
    durationMs: number
    errors: unknown[]
  }
  if (report.status !== 'succeeded' || report.rowsRead !== expectRows) {
    throw new Error(
      `run --local: ${report.status}, ${report.rowsRead} rows read (expected ${expectRows}): ${JSON.stringify(report.errors).slice(0, 300)}`,
    )
  }
  return report.rowsRead / (report.durationMs / 1000)
}

export function csvToFileSpec(file: string, out: string, transforms: string, validate = ''): string {
  return `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: bench }
spec:
  source: { type: csv, path: ${file} }
  transforms: ${transforms}${validate}
  sinks: [{ type: file, path: ${out}, format: csv }]
`
}

export function csvToPostgresSpec(file: string, url: string, table: string, transforms: string): string {
  return `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: bench-pg }
spec:
  source: { type: csv, path: ${file} }
  transforms: ${transforms}
  sinks: [{ type: postgres, url: "${url}", table: ${table} }]
`
}

export function mysqlToPostgresSpec(mysqlUrl: string, table: string, pgUrl: string, target: string): string {
  return `apiVersion: outpost/v1
kind: Pipeline
metadata: { name: bench-my-pg }
spec:
  source: { type: mysql, url: "${mysqlUrl}", table: ${table} }
  sinks: [{ type: postgres, url: "${pgUrl}", table: ${target} }]
`
}

/** The shaping chain: a cast, a filter and two derived columns. */
export const SHAPING_TRANSFORMS = `
    - cast: { id: int, amount: decimal, created_at: timestamp, qty: int, score: float, active: bool }
    - filter: "amount > 0.0 && active"
    - derive: { total: "double(qty) * amount", domain: "email.split('@')[1]" }`

/** Issue 5's chain: cast 3 columns, a filter, 2 derived columns; with QUALITY_VALIDATE's 4 rules. */
export const QUALITY_TRANSFORMS = `
    - cast: { id: int, amount: decimal, created_at: timestamp }
    - filter: "amount > 0.0"
    - derive: { domain: "email.split('@')[1]", big: "amount > 500.0" }`

export const QUALITY_VALIDATE = `
  validate:
    rules:
      - { not_null: id }
      - { range: amount, min: 0, max: 1000000 }
      - { email: email }
      - { in_set: active, values: ["true", "false"] }`

export const REALISTIC_TRANSFORMS = `
    - cast: { id: int, amount: decimal, created_at: timestamp, qty: int, score: float, active: bool }
    - filter: "amount > 0.0 && active"`

function waitForLine(
  child: ChildProcess,
  match: (line: string) => boolean,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let rest = ''
    const timer = setTimeout(() => reject(new Error('timed out')), timeoutMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop() ?? ''
      if (lines.some(match)) {
        clearTimeout(timer)
        resolvePromise()
      }
    })
  })
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

/**
 * An agent against a real control plane and NATS: start-up time from spawn to its first Sync
 * (already enrolled), and its memory after idling.
 */
export async function agentStartupAndIdle(
  natsUrl: string,
  idleMs: number,
): Promise<{ startupMs: number; rssMiB: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-agent-'))
  const env = { ...process.env, OUTPOST_LOG_FORMAT: 'json', OUTPOST_BOOTSTRAP_TOKEN: BENCH_TOKEN }
  const cp = spawn(process.execPath, [OUTPOST, ...controlPlaneArgs(join(dir, 'cp'), natsUrl)], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const children: ChildProcess[] = [cp]
  try {
    let http = ''
    let grpc = ''
    await waitForLine(
      cp,
      (line) => {
        if (!line.includes('control plane started')) return false
        const parsed = JSON.parse(line) as { http: string; grpc: string }
        http = parsed.http
        grpc = parsed.grpc
        return true
      },
      20_000,
    )
    const token = (
      (await (
        await fetch(`${http}/api/v1/enrollment-tokens`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_TOKEN}` },
        })
      ).json()) as { token: string }
    ).token
    const args = ['agent', '--control-plane', grpc, '--state-dir', join(dir, 'agent')]
    // Enrol once, then measure a normal start of an enrolled agent.
    const first = spawn(process.execPath, [OUTPOST, ...args, '--token', token], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(first)
    await waitForLine(first, (l) => l.includes('connected to control plane'), 20_000)
    first.kill('SIGTERM')
    await new Promise((r) => first.once('exit', r))
    const started = performance.now()
    const agent = spawn(process.execPath, [OUTPOST, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(agent)
    await waitForLine(agent, (l) => l.includes('connected to control plane'), 20_000)
    const startupMs = performance.now() - started
    await new Promise((r) => setTimeout(r, idleMs))
    return { startupMs, rssMiB: rssMiB(agent.pid as number) }
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode === null) {
        c.kill('SIGTERM')
        await new Promise((r) => c.once('exit', r))
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
}
