// Prometheus scrapes the control plane and an agent; the series move when a pipeline runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, type Site, startSite } from '../helpers/outpost.js'
import { freePort } from '../helpers/ports.js'
import { waitFor } from '../helpers/wait.js'

/** The value of one series in Prometheus text, e.g. sample(text, 'outpost_agents{state="online"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('Prometheus metrics and health endpoints', () => {
  let site: Site
  let agentPort: number
  const work = mkdtempSync(join(tmpdir(), 'outpost-metrics-'))
  beforeAll(async () => {
    agentPort = await freePort()
    site = await startSite({ agentArgs: ['--metrics-listen', `127.0.0.1:${agentPort}`] })
  })
  afterAll(async () => {
    await site?.stop()
    rmSync(work, { recursive: true, force: true })
  })

  it('exposes agent and fleet series that move when a pipeline runs', async () => {
    const agent = (path: string) => fetch(`http://127.0.0.1:${agentPort}${path}`)
    const cp = (path: string) => fetch(`${site.cp.api}${path}`)
    expect((await agent('/healthz')).status).toBe(200)
    const ready = await waitFor('the agent to be ready', async () => {
      const r = await agent('/readyz')
      return r.status === 200 ? ((await r.json()) as { checks: Record<string, boolean> }) : undefined
    })
    expect(ready.checks).toEqual({ controlPlane: true, nats: true, outboxWithinBudget: true })

    const before = await (await agent('/metrics')).text()
    expect(sample(before, 'outpost_control_plane_connected')).toBe(1)
    expect(sample(before, 'outpost_outbox_batches')).toBe(0)
    expect(sample(before, 'outpost_nats_reconnects')).toBe(0)
    expect(before).toContain('process_cpu_user_seconds_total')
    const fleet = await (await cp('/metrics')).text()
    expect(sample(fleet, 'outpost_agents{state="online"}')).toBe(1)
    expect(sample(fleet, 'outpost_grpc_sync_streams')).toBe(1)

    writeFileSync(join(work, 'a.csv'), 'id\n1\n2\n3\n')
    const spec = {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'scraped' },
      spec: {
        source: { type: 'csv', path: join(work, '*.csv') },
        sinks: [{ type: 'file', path: join(work, 'out') }],
      },
    }
    expect((await api(site.cp.api, 'PUT', '/api/v1/pipelines/scraped', spec)).status).toBe(201)
    await waitFor('the agent to have the pipeline', async () => {
      const a = await api<{ applied: { name: string }[] }>(
        site.cp.api,
        'GET',
        `/api/v1/agents/${site.agentId}`,
      )
      return a.body.applied.some((p) => p.name === 'scraped') ? true : undefined
    })
    expect((await api(site.cp.api, 'POST', '/api/v1/pipelines/scraped/run', {})).status).toBe(202)
    const after = await waitFor('rows read on the agent', async () => {
      const text = await (await agent('/metrics')).text()
      return sample(text, 'outpost_rows_read_total{pipeline="scraped"}') === 3 ? text : undefined
    })
    expect(sample(after, 'outpost_rows_written_total{pipeline="scraped"}')).toBe(3)
    expect(sample(after, 'outpost_runs_total{pipeline="scraped",status="succeeded"}')).toBe(1)
    expect(sample(after, 'outpost_run_duration_seconds_count{pipeline="scraped",status="succeeded"}')).toBe(1)
    // The agent reports its counts to the control plane every 10 s.
    await waitFor(
      'rows read across the fleet',
      async () =>
        sample(await (await cp('/metrics')).text(), 'outpost_fleet_rows_read_total') === 3 ? true : undefined,
      30_000,
    )
  })
})
