/**
 * Starts `outpost` (the built control-plane bundle) as real processes: the control plane and
 * agents, with JSON logs captured so tests can wait for what they say.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type NatsServer, startNats } from './nats.js'
import { waitFor } from './wait.js'

export const OUTPOST_BIN = resolve('control-plane/dist/outpost.js')

/** Every test control plane installs this admin API token (OUTPOST_BOOTSTRAP_TOKEN). */
export const ADMIN_TOKEN = 'opa_test-admin-0123456789abcdefghijkl'

export interface LogLine {
  level: string
  msg: string
  [key: string]: unknown
}

export class OutpostProcess {
  readonly logs: LogLine[] = []
  readonly output: string[] = []
  readonly exited: Promise<number | null>
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let rest = ''
    const onData = (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        this.output.push(line)
        if (process.env.OUTPOST_TEST_LOGS) process.stderr.write(`[${name}] ${line}\n`)
        try {
          this.logs.push(JSON.parse(line) as LogLine)
        } catch {
          // Not a JSON log line (a stack trace, nats output); kept in `output`.
        }
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)))
  }

  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs = 20_000): Promise<LogLine> {
    return waitFor(
      `${this.name} to log ${what}`,
      () => {
        if (this.child.exitCode !== null)
          throw new Error(
            `${this.name} exited with ${this.child.exitCode}:\n${this.output.slice(-20).join('\n')}`,
          )
        return this.logs.find(match)
      },
      timeoutMs,
      50,
    )
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode
    this.child.kill(signal)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }

  kill(): Promise<number | null> {
    return this.stop('SIGKILL')
  }
}

export function outpost(name: string, args: string[], env: Record<string, string> = {}): OutpostProcess {
  const child = spawn(process.execPath, [OUTPOST_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OUTPOST_LOG_FORMAT: 'json', ...env },
  })
  return new OutpostProcess(name, child)
}

export interface ControlPlaneHandle {
  process: OutpostProcess
  api: string
  grpc: string
  dataDir: string
}

/** `outpost` arguments of a control plane on free loopback ports (tests and benchmarks). */
export function controlPlaneArgs(dataDir: string, natsUrl: string, extra: string[] = []): string[] {
  return [
    'control-plane',
    '--data-dir',
    dataDir,
    '--http-listen',
    '127.0.0.1:0',
    '--grpc-listen',
    '127.0.0.1:0',
    '--nats',
    natsUrl,
    ...extra,
  ]
}

export async function startControlPlane(
  natsUrl: string,
  options: { dataDir?: string; heartbeatMs?: number; extraArgs?: string[] } = {},
): Promise<ControlPlaneHandle> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-cp-'))
  const cp = outpost(
    'control-plane',
    controlPlaneArgs(dataDir, natsUrl, [
      '--heartbeat',
      String(options.heartbeatMs ?? 1000),
      ...(options.extraArgs ?? []),
    ]),
    { OUTPOST_BOOTSTRAP_TOKEN: ADMIN_TOKEN },
  )
  const started = await cp.waitForLog((l) => l.msg === 'control plane started', 'start-up')
  return { process: cp, api: String(started.http), grpc: String(started.grpc), dataDir }
}

export async function startAgent(
  controlPlane: string,
  options: {
    token?: string
    stateDir?: string
    name?: string
    labels?: string[]
    extraArgs?: string[]
    env?: Record<string, string>
  } = {},
) {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'outpost-agent-'))
  const args = ['agent', '--control-plane', controlPlane, '--state-dir', stateDir, '--threads', '1']
  if (options.token) args.push('--token', options.token)
  if (options.name) args.push('--name', options.name)
  for (const l of options.labels ?? []) args.push('--label', l)
  args.push(...(options.extraArgs ?? []))
  return { process: outpost(options.name ?? 'agent', args, options.env), stateDir }
}

export async function api<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T }
}

export async function createToken(base: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await api<{ token: string }>(base, 'POST', '/api/v1/enrollment-tokens', body)
  if (r.status !== 201) throw new Error(`token: HTTP ${r.status}`)
  return r.body.token
}

/** Runs the `outpost` command line to its end, as a user would. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [OUTPOST_BIN, ...args], {
      env: { ...process.env, OUTPOST_API_TOKEN: ADMIN_TOKEN, ...env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

export interface Site {
  nats: NatsServer
  cp: ControlPlaneHandle
  agent: OutpostProcess
  agentId: string
  agentStateDir: string
  stop(): Promise<void>
}

/** A NATS server of its own, a control plane and one enrolled, connected agent. */
export async function startSite(
  options: {
    agentEnv?: Record<string, string>
    controlPlaneArgs?: string[]
    agentName?: string
    agentArgs?: string[]
  } = {},
): Promise<Site> {
  const nats = await startNats()
  const cp = await startControlPlane(nats.url, { extraArgs: options.controlPlaneArgs ?? [] })
  const { process: agent, stateDir: agentStateDir } = await startAgent(cp.grpc, {
    token: await createToken(cp.api),
    ...(options.agentEnv ? { env: options.agentEnv } : {}),
    ...(options.agentName ? { name: options.agentName } : {}),
    ...(options.agentArgs ? { extraArgs: options.agentArgs } : {}),
  })
  await agent.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
  const agentId = String(agent.logs.find((l) => l.msg === 'agent starting')?.agentId)
  return {
    nats,
    cp,
    agent,
    agentId,
    agentStateDir,
    async stop() {
      await agent.stop()
      await cp.process.stop()
      await nats.dispose()
    },
  }
}
