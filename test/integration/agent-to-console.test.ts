// The thin path end to end, with real processes: NATS, the control plane and an agent. A pipeline
// applied through the REST API runs on the agent, its output holds exactly the expected rows, its
// runs show in the API with matching counts, and the agent keeps running its pipeline on schedule
// without the control plane, also after a restart (last-known-good state).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

interface RunView {
  id: string
  agentId: string
  pipeline: string
  status: string
  counts: { rowsRead: number; rowsWritten: number; rowsQuarantined: number; rowsFiltered: number }
  errors: { message: string; record?: number }[]
}

function csv(from: number, count: number, extra: string[] = []): string {
  const lines = ['id,name,amount,country']
  for (let i = from; i < from + count; i++)
    lines.push(`${i},name ${i},${(i % 5) * 10 + 0.5},${i % 3 === 0 ? 'US' : 'DE'}`)
  return `${[...lines, ...extra].join('\n')}\n`
}

/** Rows the pipeline keeps from csv(from, count): the filter drops US rows. */
function expectedIds(from: number, count: number): number[] {
  const ids: number[] = []
  for (let i = from; i < from + count; i++) if (i % 3 !== 0) ids.push(i)
  return ids
}

function outputIds(dir: string): number[] {
  const ids: number[] = []
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ndjson')) {
        for (const line of readFileSync(path, 'utf8').split('\n'))
          if (line) ids.push((JSON.parse(line) as { id: number }).id)
      }
    }
  }
  try {
    walk(dir)
  } catch {
    return []
  }
  return ids.sort((a, b) => a - b)
}

describe('agent to console, end to end', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let agent: { process: OutpostProcess; stateDir: string }
  let work: string
  let inbox: string
  let outDir: string

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-e2e-'))
    inbox = join(work, 'inbox')
    outDir = join(work, 'out')
    mkdirSync(inbox)
    nats = await startNats()
    cp = await startControlPlane(nats.url)
  })

  afterAll(async () => {
    await agent?.process.stop()
    await cp?.process.stop()
    await nats?.dispose()
    rmSync(work, { recursive: true, force: true })
  })

  it('refuses an invalid spec with the field paths', async () => {
    const r = await api<{ errors: { path: string; message: string; line?: number }[] }>(
      cp.api,
      'POST',
      '/api/v1/pipelines',
      'apiVersion: outpost/v1\nkind: Pipeline\nmetadata: { name: bad }\nspec:\n  source: { type: csv }\n  sinks:\n    - { type: file, format: csv }\n',
      'application/yaml',
    )
    expect(r.status).toBe(400)
    expect(r.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'spec.source.path', message: 'required', line: 5 }),
        expect.objectContaining({ path: 'spec.sinks[0].path', message: 'required', line: 7 }),
      ]),
    )
  })

  it('enrols an agent that then shows online', async () => {
    const token = await createToken(cp.api, { labels: { site: 'test' } })
    agent = await startAgent(cp.grpc, { token, name: 'edge-1' })
    const online = await waitFor('agent online', async () => {
      const r = await api<{
        items: {
          id: string
          state: string
          name: string
          labels: Record<string, string>
          agentVersion: string
        }[]
      }>(cp.api, 'GET', '/api/v1/agents')
      return r.body.items.find((a) => a.state === 'online')
    })
    expect(online).toMatchObject({ name: 'edge-1', labels: { site: 'test' }, agentVersion: '0.1.0' })
  })

  it('runs an applied pipeline: exact rows in the output, counts in /api/v1/runs', async () => {
    writeFileSync(join(inbox, 'a.csv'), csv(1, 30, ['31,ragged row', '32,name 32,not-a-number,DE']))
    const spec = {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'orders' },
      spec: {
        selector: { site: 'test' },
        schedule: { every: '2s' },
        source: { type: 'csv', path: join(inbox, '*.csv') },
        transforms: [{ cast: { id: 'int', amount: 'decimal' } }, { filter: "country == 'DE'" }],
        sinks: [{ type: 'file', path: outDir, format: 'ndjson' }],
      },
    }
    const created = await api<{ version: number }>(cp.api, 'PUT', '/api/v1/pipelines/orders', spec)
    expect(created.status).toBe(201)
    expect(created.body.version).toBe(1)

    await waitFor(
      'the rows in the output',
      () => outputIds(outDir).length >= expectedIds(1, 30).length || undefined,
      30_000,
    )
    const run = await waitFor(
      'the run in the API',
      async () => {
        const r = await api<{ items: RunView[] }>(cp.api, 'GET', '/api/v1/runs?pipeline=orders')
        return r.body.items.find((x) => x.status === 'succeeded' && x.counts.rowsRead > 0)
      },
      30_000,
    )
    expect(outputIds(outDir)).toEqual(expectedIds(1, 30))
    expect(run.counts).toMatchObject({
      rowsRead: 32,
      rowsWritten: expectedIds(1, 30).length,
      rowsQuarantined: 2,
      rowsFiltered: 10,
    })
    expect(run.errors.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        'expected 4 fields, got 2',
        'cannot convert "not-a-number" in column amount to decimal',
      ]),
    )
    const runById = await api<RunView>(cp.api, 'GET', `/api/v1/runs/${run.id}`)
    expect(runById.body.counts.rowsWritten).toBe(run.counts.rowsWritten)

    // Scheduled runs go on and read nothing twice.
    await waitFor(
      'more scheduled runs',
      async () => {
        const r = await api<{ items: RunView[] }>(
          cp.api,
          'GET',
          '/api/v1/runs?pipeline=orders&status=succeeded',
        )
        return r.body.items.length >= 3 || undefined
      },
      20_000,
    )
    expect(outputIds(outDir)).toEqual(expectedIds(1, 30))
    const agents = await api<{
      items: { applied: { name: string; version: number; state: string }[]; drift: unknown[] }[]
    }>(cp.api, 'GET', '/api/v1/agents')
    expect(agents.body.items[0]?.applied).toEqual([
      expect.objectContaining({ name: 'orders', version: 1, state: 'applied' }),
    ])
    expect(agents.body.items[0]?.drift).toEqual([])
  })

  it('keeps running on schedule with the control plane gone, also after an agent restart', async () => {
    await cp.process.kill()
    writeFileSync(join(inbox, 'b.csv'), csv(100, 20))
    await waitFor(
      'rows of b.csv without the control plane',
      () => outputIds(outDir).length === expectedIds(1, 30).length + expectedIds(100, 20).length || undefined,
      30_000,
    )

    // Restarted with the control plane still down, it runs its last-known-good pipeline.
    expect(await agent.process.stop()).toBe(0)
    agent = await startAgent(cp.grpc, { stateDir: agent.stateDir, name: 'edge-1' })
    await agent.process.waitForLog((l) => l.msg === 'running last-known-good pipelines', 'last-known-good')
    writeFileSync(join(inbox, 'c.csv'), csv(200, 10))
    await waitFor(
      'rows of c.csv after the restart',
      () => outputIds(outDir).includes(expectedIds(200, 10).at(-1) as number) || undefined,
      30_000,
    )
    expect(outputIds(outDir)).toEqual([
      ...expectedIds(1, 30),
      ...expectedIds(100, 20),
      ...expectedIds(200, 10),
    ])
  })
})
