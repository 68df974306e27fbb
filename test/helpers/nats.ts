/** Starts a nats-server of the test's own (JetStream, data in a temp dir) on a free port. */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { waitFor } from './wait.js'

export interface NatsServer {
  url: string
  port: number
  dir: string
  /** Stops (SIGTERM) and waits; the data directory stays so start() can bring it back. */
  stop(): Promise<void>
  /** Starts again on the same port and data directory. */
  start(): Promise<void>
  /** Stops and removes the data directory. */
  dispose(): Promise<void>
}

export function natsBinary(): string {
  for (const path of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'])
    if (existsSync(path)) return path
  return 'nats-server'
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.end()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

export async function startNats(options: { port?: number; args?: string[] } = {}): Promise<NatsServer> {
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'outpost-nats-'))
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(
      natsBinary(),
      ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, ...(options.args ?? [])],
      { stdio: 'ignore' },
    )
    await waitFor(`nats-server on ${port}`, () => listening(port), 15_000, 50)
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGTERM')
    await exited
  }
  await start()
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    start,
    async dispose() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
