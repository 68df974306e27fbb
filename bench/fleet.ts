/**
 * `npm run bench:fleet`: one control plane (the built bundle, a real process) against N simulated
 * agents, each a real gRPC Enroll and a real Sync stream speaking the agent protocol (hello,
 * heartbeats, applied reports), multiplexed over a few HTTP/2 connections. Measures the time to
 * connect them all, the control plane's memory per connected agent, its CPU while they
 * heartbeat, and the time until a new pipeline version is applied by every agent.
 * `--agents N` (default 10,000), `--quick` (1,000), `--write` appends to bench/RESULTS.md.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { create } from '@bufbuild/protobuf'
import * as grpc from '@grpc/grpc-js'
import {
  AgentService,
  AgentStatusSchema,
  AppliedPipelineSchema,
  AppliedReportSchema,
  ApplyState,
  HeartbeatSchema,
  HelloSchema,
  HostFactsSchema,
  type SyncRequest,
  SyncRequestSchema,
  type SyncResponse,
} from '@outpost/shared/gen/outpost/agent/v1/agent_pb'
import { createClient, type ServiceClient } from '@outpost/shared/rpc'
import { startNats } from '../test/helpers/nats.js'

const { values } = parseArgs({
  options: {
    agents: { type: 'string' },
    quick: { type: 'boolean' },
    write: { type: 'boolean' },
    connections: { type: 'string' },
  },
})
const N = Number(values.agents ?? (values.quick ? 1000 : 10_000))
const CONNECTIONS = Number(values.connections ?? 20)
const TOKEN = 'opa_fleet-bench-admin-0123456789abcdef'
const OUTPOST = resolve('control-plane/dist/outpost.js')
const log = (m: string) => process.stderr.write(`${m}\n`)

/**
 * The control plane's live JavaScript memory (V8 heap used + external buffers, from its
 * /metrics): the smallest of samples taken over `ms`, i.e. just after a garbage collection, so
 * garbage not yet collected does not count as memory the agents hold.
 */
async function liveHeapMiB(base: string, ms: number): Promise<number> {
  let min = Number.POSITIVE_INFINITY
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const text = await (
      await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text()
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN)
    min = Math.min(
      min,
      (value('nodejs_heap_size_used_bytes') + value('nodejs_external_memory_bytes')) / 2 ** 20,
    )
  }
  return min
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${await r.text()}`)
  return (await r.json()) as T
}

/** Runs `fn` over items, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T)
    }),
  )
}

interface SimAgent {
  id: string
  credential: string
  call?: grpc.ClientDuplexStream<SyncRequest, SyncResponse>
  /** Version of the bench pipeline it has applied. */
  version: number
  connectedAt?: number
}

const work = mkdtempSync(join(tmpdir(), 'outpost-fleet-'))
const nats = await startNats()
const children: ChildProcess[] = []
let exitCode = 0
try {
  const cp = spawn(
    process.execPath,
    [
      '--max-old-space-size=4096',
      OUTPOST,
      'control-plane',
      '--data-dir',
      join(work, 'cp'),
      '--http-listen',
      '127.0.0.1:0',
      '--grpc-listen',
      '127.0.0.1:0',
      '--nats',
      nats.url,
      '--heartbeat',
      '10000',
    ],
    {
      env: {
        ...process.env,
        OUTPOST_LOG_FORMAT: 'json',
        OUTPOST_BOOTSTRAP_TOKEN: TOKEN,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  children.push(cp)
  const started = await new Promise<{ http: string; grpc: string }>((ok, fail) => {
    let rest = ''
    const timer = setTimeout(() => fail(new Error('control plane did not start')), 30_000)
    cp.stdout?.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) {
        if (!line.includes('control plane started')) continue
        clearTimeout(timer)
        ok(JSON.parse(line) as { http: string; grpc: string })
      }
    })
  })
  const pid = cp.pid as number
  await new Promise((r) => setTimeout(r, 2000))
  const rssIdle = rssMiB(pid)
  const heapIdle = await liveHeapMiB(started.http, 5000)
  log(
    `fleet bench: ${N.toLocaleString()} agents over ${CONNECTIONS} HTTP/2 connections; control plane idle at ${rssIdle.toFixed(0)} MiB`,
  )

  const clients: ServiceClient<typeof AgentService.method>[] = Array.from({ length: CONNECTIONS }, () =>
    createClient(AgentService, started.grpc, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    }),
  ) as never
  const enrolment = await api<{ token: string }>(started.http, 'POST', '/api/v1/enrollment-tokens', {
    maxUses: N,
    ttl: '1h',
  })
  const host = create(HostFactsSchema, {
    hostname: 'sim',
    os: 'linux',
    arch: 'x64',
    runtimeVersion: 'sim',
    cpus: 1,
  })
  const agents: SimAgent[] = []
  let t0 = performance.now()
  await pool(
    Array.from({ length: N }, (_, i) => i),
    200,
    async (i) => {
      const r = await clients[i % CONNECTIONS]!.enroll(
        {
          $typeName: 'outpost.agent.v1.EnrollRequest',
          token: enrolment.token,
          name: `sim-${i}`,
          labels: { fleet: 'bench' },
          agentVersion: 'sim',
          host,
        } as never,
        new grpc.Metadata(),
        { deadline: Date.now() + 60_000 },
      )
      agents.push({ id: r.agentId, credential: r.credential, version: 0 })
    },
  )
  const enrolSeconds = (performance.now() - t0) / 1000
  log(`enrolled ${agents.length} agents in ${enrolSeconds.toFixed(1)} s`)

  const BENCH = 'fleet-bench'
  let target = 0
  let allApplied: (() => void) | undefined
  let applied = 0
  const report = (a: SimAgent, version: number, hash: string) =>
    a.call?.write(
      create(SyncRequestSchema, {
        message: {
          case: 'applied',
          value: create(AppliedReportSchema, {
            pipelines: version
              ? [create(AppliedPipelineSchema, { name: BENCH, version, hash, state: ApplyState.APPLIED })]
              : [],
          }),
        },
      }),
    )
  let connected = 0
  let allConnected: () => void = () => {}
  const connectedPromise = new Promise<void>((r) => (allConnected = r))
  t0 = performance.now()
  agents.forEach((a, i) => {
    const metadata = new grpc.Metadata()
    metadata.set('authorization', `Bearer ${a.credential}`)
    metadata.set('x-outpost-agent-id', a.id)
    const call = clients[i % CONNECTIONS]!.sync(metadata) as grpc.ClientDuplexStream<
      SyncRequest,
      SyncResponse
    >
    a.call = call
    call.on('error', () => {})
    call.on('data', (m: SyncResponse) => {
      if (m.message.case === 'welcome' && a.connectedAt === undefined) {
        a.connectedAt = performance.now()
        if (++connected === N) allConnected()
      }
      if (m.message.case === 'desiredState') {
        const p = m.message.value.pipelines.find((x) => x.name === BENCH)
        const version = p?.version ?? 0
        report(a, version, p?.hash ?? '')
        if (version !== a.version) {
          a.version = version
          if (version === target && ++applied === N) allApplied?.()
        }
      }
    })
    call.write(
      create(SyncRequestSchema, {
        message: { case: 'hello', value: create(HelloSchema, { agentVersion: 'sim', host }) },
      }),
    )
  })
  await connectedPromise
  const connectSeconds = (performance.now() - t0) / 1000
  log(`connected ${N} Sync streams in ${connectSeconds.toFixed(1)} s`)

  // Steady state: every agent heartbeats every 10 s, spread over the interval.
  const heartbeat = (a: SimAgent) =>
    a.call?.write(
      create(SyncRequestSchema, {
        message: {
          case: 'heartbeat',
          value: create(HeartbeatSchema, {
            sentAtMs: BigInt(Date.now()),
            status: create(AgentStatusSchema, { natsConnected: true }),
          }),
        },
      }),
    )
  const timers = agents.map((a, i) =>
    setTimeout(
      () => {
        heartbeat(a)
        timers[i] = setInterval(() => heartbeat(a), 10_000) as unknown as NodeJS.Timeout
      },
      (i / N) * 10_000,
    ),
  )
  await new Promise((r) => setTimeout(r, 12_000))
  const cpu0 = cpuSeconds(pid)
  const w0 = performance.now()
  await new Promise((r) => setTimeout(r, 20_000))
  const heartbeatCpu = (cpuSeconds(pid) - cpu0) / ((performance.now() - w0) / 1000)
  const rssConnected = rssMiB(pid)
  const perAgentKiB = ((rssConnected - rssIdle) * 1024) / N
  const heapConnected = await liveHeapMiB(started.http, 10_000)
  const heapPerAgentKiB = ((heapConnected - heapIdle) * 1024) / N
  log(
    `heartbeats: ${(heartbeatCpu * 100).toFixed(1)} % of a core; RSS ${rssConnected.toFixed(0)} MiB (${perAgentKiB.toFixed(1)} KiB per agent); live heap ${heapIdle.toFixed(0)} → ${heapConnected.toFixed(0)} MiB (${heapPerAgentKiB.toFixed(1)} KiB per agent)`,
  )

  // A new pipeline version, applied by every agent.
  const spec = (v: number) => ({
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: BENCH, labels: { v: String(v) } },
    spec: {
      selector: { fleet: 'bench' },
      source: { type: 'csv', path: '/nonexistent/*.csv' },
      sinks: [{ type: 'file', path: '/tmp/fleet-bench' }],
    },
  })
  const rolloutSeconds: number[] = []
  for (let v = 1; v <= 3; v++) {
    target = v
    applied = 0
    const done = new Promise<void>((r) => (allApplied = r))
    const t = performance.now()
    await api(started.http, 'PUT', `/api/v1/pipelines/${BENCH}`, spec(v))
    await done
    rolloutSeconds.push((performance.now() - t) / 1000)
    log(`version ${v} applied by all ${N} agents in ${rolloutSeconds.at(-1)?.toFixed(2)} s`)
  }
  rolloutSeconds.sort((a, b) => a - b)
  const median = rolloutSeconds[1] as number
  for (const t of timers) clearInterval(t)

  const row = (what: string, value: string, target: string) => `| ${what} | ${value} | ${target} |`
  const lines = [
    '',
    `## Fleet (${new Date().toISOString().slice(0, 10)}, \`npm run bench:fleet -- --agents ${N}\`)`,
    '',
    `${N.toLocaleString()} simulated agents (real Enroll and Sync streams over ${CONNECTIONS} HTTP/2 connections) against one control plane (LMDB store) on ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB.`,
    '',
    '| measure | result | target |',
    '| --- | --- | --- |',
    row('agents held', `${N.toLocaleString()}`, '10,000'),
    row('enrol all (200 at a time)', `${enrolSeconds.toFixed(1)} s`, '—'),
    row('connect all Sync streams', `${connectSeconds.toFixed(1)} s`, '—'),
    row(
      'control-plane memory per connected agent: live heap (V8 used + external, lowest over 10 s)',
      `${heapPerAgentKiB.toFixed(1)} KiB (${heapIdle.toFixed(0)} → ${heapConnected.toFixed(0)} MiB)`,
      '< 50 KiB',
    ),
    row(
      'control-plane memory per connected agent: RSS (includes allocator and GC headroom)',
      `${perAgentKiB.toFixed(1)} KiB (RSS ${rssIdle.toFixed(0)} → ${rssConnected.toFixed(0)} MiB)`,
      '—',
    ),
    row(
      'control-plane CPU with every agent heartbeating every 10 s',
      `${(heartbeatCpu * 100).toFixed(1)} % of one core`,
      '—',
    ),
    row(
      'new version applied by every agent (median of 3)',
      `${median.toFixed(2)} s (${rolloutSeconds.map((s) => s.toFixed(2)).join(', ')})`,
      '< 10 s',
    ),
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  if (values.write) appendFileSync('bench/RESULTS.md', `${lines.join('\n')}\n`)
  for (const a of agents) a.call?.cancel()
  for (const c of clients) c.close()
} catch (error) {
  log(`fleet bench failed: ${(error as Error).stack ?? error}`)
  exitCode = 1
} finally {
  for (const c of children) c.kill('SIGTERM')
  await nats.dispose()
  rmSync(work, { recursive: true, force: true })
}
process.exit(exitCode)
