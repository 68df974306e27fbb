/**
 * `outpost up` (what `npm start` runs): the whole system on one machine. NATS from NATS_URL or
 * a nats-server of its own, the control plane, one local agent enrolled automatically, the
 * example pipelines applied, a small feed of sample files so something moves, and the console
 * URL printed. Ctrl-C stops everything.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { type Command, EXIT, parseFlags, UsageError, untilSignal } from '@outpost/agent/cli'
import { parsePipelines } from '@outpost/shared'
import { ADMIN_TOKEN_FILE } from '../auth/bootstrap.js'
import { initNatsAuth, SERVER_CONF } from '../nats/auth.js'
import { ApiClient } from './api-client.js'

export function freePort(preferred = 0): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer()
    server.once('error', () => {
      if (preferred !== 0) resolvePort(freePort(0))
    })
    server.listen(preferred, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolvePort(port))
    })
  })
}

export function findNatsServer(): string | undefined {
  for (const candidate of [
    process.env.NATS_SERVER_BIN,
    '/usr/sbin/nats-server',
    '/usr/bin/nats-server',
    '/usr/local/bin/nats-server',
  ]) {
    if (candidate && existsSync(candidate)) return candidate
  }
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' })
  return which.status === 0 ? which.stdout.trim() : undefined
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`)
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 150))
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms`)
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.end()
      ok(true)
    })
    socket.once('error', () => ok(false))
  })
}

function prefixOutput(child: ChildProcess, name: string): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ''
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) if (line) process.stdout.write(`[${name}] ${line}\n`)
    })
  }
}

const FEED_COLUMNS = 'reading_id,sensor,site,temperature_c,humidity_pct,measured_at'

/** Writes a small CSV of sensor readings into the demo drop folder, so the demo pipeline has new data. */
function writeFeedFile(dir: string, seq: number): void {
  const rows = [FEED_COLUMNS]
  const now = Date.now()
  for (let i = 0; i < 400; i++) {
    const id = seq * 1000 + i
    const temp = (18 + 8 * Math.sin((id % 360) / 57.3) + (i % 7) * 0.3).toFixed(2)
    const humidity = i % 97 === 0 ? 'n/a' : String(40 + (id % 35))
    rows.push(
      `${id},s-${(i % 12) + 1},plant-${(i % 3) + 1},${temp},${humidity},${new Date(now - (400 - i) * 1000).toISOString()}`,
    )
  }
  writeFileSync(join(dir, `.readings-${seq}.tmp`), `${rows.join('\n')}\n`)
  // Rename so the agent never sees a half-written file.
  renameSync(join(dir, `.readings-${seq}.tmp`), join(dir, `readings-${String(seq).padStart(6, '0')}.csv`))
}

export const upCommand: Command = {
  name: 'up',
  summary: 'Start everything on this machine: NATS, control plane, one agent, example pipelines, console.',
  usage: `Usage: outpost up [--data-dir .outpost] [--examples examples] [--http-port 7080] [--no-feed]

Uses NATS_URL when set, otherwise starts its own nats-server (JetStream, data under --data-dir).`,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        'data-dir': { type: 'string' },
        examples: { type: 'string' },
        'http-port': { type: 'string' },
        'no-feed': { type: 'boolean' },
      },
      false,
    )
    const dataDir = resolve(values['data-dir'] ?? '.outpost')
    const examplesDir = resolve(values.examples ?? 'examples')
    mkdirSync(dataDir, { recursive: true })
    const self = process.argv[1] as string
    const children: { name: string; child: ChildProcess }[] = []
    const start = (name: string, command: string, args: string[]) => {
      const child = spawn(command, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OUTPOST_LOG_FORMAT: 'pretty' },
      })
      prefixOutput(child, name)
      children.push({ name, child })
      return child
    }
    const stopAll = async () => {
      for (const { child } of [...children].reverse()) {
        if (child.exitCode !== null) continue
        child.kill('SIGTERM')
        await new Promise<void>((r) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL')
            r()
          }, 15_000)
          child.once('exit', () => {
            clearTimeout(timer)
            r()
          })
        })
      }
    }
    const signal = untilSignal()
    try {
      let natsUrl = process.env.NATS_URL
      // Its own nats-server runs with per-agent credentials (operator mode); keys made once.
      const natsAuthDir = join(dataDir, 'nats-auth')
      if (!natsUrl) {
        const bin = findNatsServer()
        if (!bin)
          throw new UsageError(
            'nats-server not found: install it (apt-get install nats-server) or set NATS_URL',
          )
        if (!existsSync(join(natsAuthDir, SERVER_CONF))) await initNatsAuth(natsAuthDir)
        const port = await freePort()
        const nats = start('nats', bin, [
          '-c',
          join(natsAuthDir, SERVER_CONF),
          '-a',
          '127.0.0.1',
          '-p',
          String(port),
          '-js',
          '-sd',
          join(dataDir, 'nats'),
        ])
        await waitFor('nats-server', () => tcpOpen(port), 15_000, nats)
        natsUrl = `nats://127.0.0.1:${port}`
      }
      const httpPort = await freePort(Number(values['http-port'] ?? 7080))
      const grpcPort = await freePort(7400)
      const cp = start('control-plane', process.execPath, [
        self,
        'control-plane',
        '--data-dir',
        join(dataDir, 'control-plane'),
        '--http-listen',
        `127.0.0.1:${httpPort}`,
        '--grpc-listen',
        `127.0.0.1:${grpcPort}`,
        '--nats',
        natsUrl,
        ...(process.env.NATS_URL ? [] : ['--nats-auth', natsAuthDir]),
      ])
      await waitFor(
        'control plane',
        async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok,
        30_000,
        cp,
      )
      // The control plane wrote its first admin token into its data directory.
      const tokenFile = join(dataDir, 'control-plane', ADMIN_TOKEN_FILE)
      const adminToken =
        process.env.OUTPOST_API_TOKEN ??
        (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined)
      if (!adminToken)
        throw new UsageError(
          `no API token: ${tokenFile} is gone; set OUTPOST_API_TOKEN to an admin token of this control plane`,
        )
      const api = new ApiClient(`http://127.0.0.1:${httpPort}/`, adminToken)

      const agentDir = join(dataDir, 'agent')
      const agentArgs = [
        self,
        'agent',
        '--state-dir',
        agentDir,
        '--control-plane',
        `127.0.0.1:${grpcPort}`,
        '--name',
        'local-agent',
        '--label',
        'site=local',
      ]
      if (!existsSync(join(agentDir, 'state.mdb'))) {
        const token = await api.request<{ token: string }>('POST', 'api/v1/enrollment-tokens', {
          json: { ttl: '1h', labels: { site: 'local', role: 'demo' } },
        })
        agentArgs.push('--token', token.token)
      }
      const feedDir = join(dataDir, 'demo', 'incoming')
      mkdirSync(feedDir, { recursive: true })
      const applied: string[] = []
      if (existsSync(examplesDir)) {
        for (const file of readdirSync(examplesDir)
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()) {
          const text = readFileSync(join(examplesDir, file), 'utf8')
          for (const doc of parsePipelines(text)) {
            if (!doc.ok) {
              process.stdout.write(`[up] skipping invalid example ${file}: ${doc.errors[0]?.message}\n`)
              continue
            }
            await api.request('PUT', `api/v1/pipelines/${doc.value.pipeline.metadata.name}`, {
              text: doc.value.canonical,
              contentType: 'application/json',
            })
            applied.push(doc.value.pipeline.metadata.name)
          }
        }
      }
      start('agent', process.execPath, agentArgs)
      let feedSeq = readdirSync(feedDir).length
      const feed = values['no-feed']
        ? undefined
        : setInterval(() => {
            try {
              writeFeedFile(feedDir, ++feedSeq)
            } catch {
              // The demo feed is best effort.
            }
          }, 15_000)
      if (feed) writeFeedFile(feedDir, ++feedSeq)
      process.stdout.write(
        [
          '',
          `  Outpost is running.`,
          `  Console:        http://127.0.0.1:${httpPort}/   (sign in with the admin token below)`,
          `  Admin token:    ${adminToken}`,
          `                  (kept in ${tokenFile}; the CLI here finds it: npx outpost get agents)`,
          `  REST API:       http://127.0.0.1:${httpPort}/api/v1/`,
          `  Agents connect: 127.0.0.1:${grpcPort} (gRPC)    NATS: ${natsUrl}`,
          `  Pipelines:      ${applied.join(', ') || '(none)'}    Output: ${join(dataDir, 'output')}`,
          `  Press Ctrl-C to stop.`,
          '',
        ].join('\n'),
      )
      const exited = new Promise<string>((r) => {
        for (const { name, child } of children)
          child.once('exit', (code) => r(`${name} exited with code ${code}`))
      })
      const reason = await Promise.race([signal, exited])
      if (feed) clearInterval(feed)
      process.stdout.write(`[up] stopping (${reason})\n`)
      await stopAll()
      return reason === 'SIGINT' || reason === 'SIGTERM' ? EXIT.ok : EXIT.failed
    } catch (error) {
      await stopAll()
      throw error
    }
  },
}
