/**
 * The setting every fault test needs: its own nats-server, a fresh warehouse database, the
 * control plane and one agent as real processes, and a pipeline that loads CSV drops into a
 * central table. Counting the table tells whether every row landed exactly once.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { waitFor } from '../helpers/wait.js'

export class FaultEnv {
  nats!: NatsServer
  db!: TestDatabase
  cp!: ControlPlaneHandle
  agent!: { process: OutpostProcess; stateDir: string }
  work = mkdtempSync(join(tmpdir(), 'outpost-fault-'))
  inbox = join(this.work, 'inbox')
  private nextId = 1
  private agentArgs: string[] = []

  async start(agentArgs: string[] = []): Promise<void> {
    mkdirSync(this.inbox)
    this.agentArgs = agentArgs
    this.nats = await startNats()
    this.db = await createDatabase('outpost_fault')
    this.cp = await startControlPlane(this.nats.url, { extraArgs: ['--warehouse-url', this.db.url] })
    this.agent = await startAgent(this.cp.grpc, {
      token: await createToken(this.cp.api),
      extraArgs: agentArgs,
    })
    await this.agent.process.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
  }

  async restartAgent(): Promise<void> {
    this.agent = await startAgent(this.cp.grpc, { stateDir: this.agent.stateDir, extraArgs: this.agentArgs })
  }

  async restartControlPlane(): Promise<void> {
    const { dataDir, grpc } = this.cp
    const port = grpc.split(':')[1]
    this.cp = await startControlPlane(this.nats.url, {
      dataDir,
      extraArgs: ['--warehouse-url', this.db.url, '--grpc-listen', `127.0.0.1:${port}`],
    })
  }

  /** Applies a pipeline that loads the inbox's CSV files into `table`. */
  async apply(name: string, table: string, spec: Record<string, unknown> = {}): Promise<void> {
    const document = {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name },
      spec: {
        schedule: { every: '2s' },
        source: { type: 'csv', path: join(this.inbox, `${name}-*.csv`) },
        transforms: [{ cast: { id: 'int' } }],
        sinks: [{ type: 'central', table }],
        ...spec,
      },
    }
    const r = await api(this.cp.api, 'PUT', `/api/v1/pipelines/${name}`, document)
    if (r.status !== 201 && r.status !== 200)
      throw new Error(`apply ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`)
  }

  /** Drops a CSV of `rows` new rows (ids continue from the last file) and returns the ids' range. */
  drop(pipeline: string, rows: number, payload = 40): { from: number; to: number } {
    const from = this.nextId
    const lines = ['id,payload']
    for (let i = 0; i < rows; i++) lines.push(`${from + i},${'p'.repeat(payload)}`)
    this.nextId += rows
    const name = `${pipeline}-${String(from).padStart(9, '0')}.csv`
    writeFileSync(join(this.inbox, `.${name}`), `${lines.join('\n')}\n`)
    // Rename into place so the agent never sees half a file.
    rmSync(join(this.inbox, name), { force: true })
    renameSync(join(this.inbox, `.${name}`), join(this.inbox, name))
    return { from, to: this.nextId - 1 }
  }

  get totalRows(): number {
    return this.nextId - 1
  }

  async counts(table: string): Promise<{ rows: number; distinct: number; min: number; max: number }> {
    const [r] = await this.db
      .query<{ n: string; d: string; lo: string | null; hi: string | null }>(
        `SELECT count(*) AS n, count(DISTINCT id) AS d, min(id) AS lo, max(id) AS hi FROM ${table}`,
      )
      .catch(() => [{ n: '0', d: '0', lo: null, hi: null }])
    return {
      rows: Number(r?.n ?? 0),
      distinct: Number(r?.d ?? 0),
      min: Number(r?.lo ?? 0),
      max: Number(r?.hi ?? 0),
    }
  }

  /** Waits until the table has exactly `rows` rows, then a little longer to catch late duplicates. */
  async expectExactly(
    table: string,
    rows: number,
    timeoutMs = 90_000,
  ): Promise<{ rows: number; distinct: number; min: number; max: number }> {
    await waitFor(
      `${rows} rows in ${table}`,
      async () => ((await this.counts(table)).rows >= rows ? true : undefined),
      timeoutMs,
      250,
    )
    await new Promise((r) => setTimeout(r, 3000))
    return this.counts(table)
  }

  async stop(): Promise<void> {
    await this.agent?.process.stop()
    await this.cp?.process.stop()
    await this.db?.drop().catch(() => {})
    await this.nats?.dispose()
    rmSync(this.work, { recursive: true, force: true })
  }
}
