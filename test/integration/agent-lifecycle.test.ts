// The agent as a service: refused tokens are retried without flooding the log, and SIGTERM in the
// middle of a large run checkpoints and exits 0, the restart finishing the file with every row
// exactly once.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

describe('agent lifecycle', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let work: string
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-life-'))
    nats = await startNats()
    cp = await startControlPlane(nats.url)
  })
  afterAll(async () => {
    await cp?.process.stop()
    await nats?.dispose()
    rmSync(work, { recursive: true, force: true })
  })

  it('refuses an unknown token with a clear message and retries with backoff, logging it once', async () => {
    const { process: agent } = await startAgent(cp.grpc, { token: 'oet_not-a-real-token' })
    const first = await agent.waitForLog((l) => l.msg === 'enrolment refused; check the token', 'the refusal')
    expect(String(first.error)).toContain('UNAUTHENTICATED: unknown enrolment token')
    await new Promise((r) => setTimeout(r, 5000))
    expect(agent.child.exitCode).toBeNull()
    expect(agent.logs.filter((l) => l.msg.startsWith('enrolment')).length).toBe(1)
    expect(await agent.stop()).toBe(0)
  })

  it('checkpoints on SIGTERM mid-run and exits 0; after a restart every row is there exactly once', async () => {
    const inbox = join(work, 'big')
    mkdirSync(inbox)
    const lines = ['id,payload']
    const total = 300_000
    for (let i = 1; i <= total; i++) lines.push(`${i},"${'x'.repeat(40)} ${i}"`)
    writeFileSync(join(inbox, 'big.csv'), `${lines.join('\n')}\n`)
    const out = join(work, 'big-out')
    const token = await createToken(cp.api)
    let agent = await startAgent(cp.grpc, { token, extraArgs: ['--chunk-bytes', '65536'] })
    const spec = {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'big' },
      spec: {
        schedule: 'manual',
        source: { type: 'csv', path: join(inbox, '*.csv') },
        sinks: [{ type: 'file', path: out, format: 'csv' }],
      },
    }
    expect((await api(cp.api, 'PUT', '/api/v1/pipelines/big', spec)).status).toBe(201)
    await waitFor('the pipeline on the agent', async () => {
      const r = await api<{ items: { agentId: string; ok: boolean }[] }>(
        cp.api,
        'POST',
        '/api/v1/pipelines/big/run',
        {},
      )
      return r.status === 202 && r.body.items[0]?.ok
    })
    // Stop as soon as some batches are on disk, in the middle of the file.
    await waitFor('some output', () => countRows(out) > 0 || undefined, 30_000, 20)
    expect(await agent.process.stop('SIGTERM')).toBe(0)
    const partial = countRows(out)
    expect(partial).toBeLessThan(total)
    const stopped = agent.process.logs.find((l) => l.msg === 'run finished')
    expect(stopped?.status).toBe('cancelled')

    agent = await startAgent(cp.grpc, { stateDir: agent.stateDir })
    await agent.process.waitForLog((l) => l.msg === 'connected to control plane', 'reconnect')
    await waitFor('the manual run to be accepted', async () => {
      const r = await api<{ items: { ok: boolean }[] }>(cp.api, 'POST', '/api/v1/pipelines/big/run', {})
      return r.status === 202 && r.body.items[0]?.ok
    })
    await waitFor('all rows', () => countRows(out) >= total || undefined, 60_000)
    const ids = readIds(out)
    expect(ids.length).toBe(total)
    expect(new Set(ids).size).toBe(total)
    await agent.process.stop()
  })
})

function files(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.csv'))
      .map((e) => join(e.parentPath, e.name))
  } catch {
    return []
  }
}

function countRows(dir: string): number {
  return files(dir).reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length - 2, 0)
}

function readIds(dir: string): number[] {
  return files(dir).flatMap((f) =>
    readFileSync(f, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.slice(0, l.indexOf(',')))),
  )
}
