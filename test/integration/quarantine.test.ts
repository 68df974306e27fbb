// Quarantine with replay, the way an operator uses it: rows that fail a cast or a rule stay at the
// site; `outpost quarantine list` shows why; after a fix is pushed, `outpost quarantine replay`
// sends them through the new version, and each replayed row lands exactly once.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, type ControlPlaneHandle, runCli, type Site, startSite } from '../helpers/outpost.js'
import { createDatabase, type TestDatabase } from '../helpers/postgres.js'
import { waitFor } from '../helpers/wait.js'

interface Run {
  id: string
  status: string
  trigger: string
  version: number
  counts: { rowsRead: number; rowsWritten: number; rowsQuarantined: number }
}

describe('quarantine and replay', () => {
  let site: Site
  let cp: ControlPlaneHandle
  let db: TestDatabase
  let agentId: string
  let work: string
  let env: Record<string, string>

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-quarantine-'))
    db = await createDatabase()
    site = await startSite()
    ;({ cp, agentId } = site)
    env = { OUTPOST_SERVER: cp.api }
  })

  afterAll(async () => {
    await site?.stop()
    await db?.drop()
    rmSync(work, { recursive: true, force: true })
  })

  const spec = (version: string, min: number) => ({
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: 'sales', labels: { fix: version } },
    spec: {
      source: { type: 'csv', path: join(work, '*.csv') },
      transforms: [{ cast: { id: 'int', amount: 'decimal' } }],
      validate: {
        rules: [
          { range: 'amount', min },
          { not_null: 'id', severity: 'warn' },
        ],
      },
      sinks: [{ type: 'postgres', url: db.url, table: 'sales' }],
    },
  })

  const runs = async () =>
    (await api<{ items: Run[] }>(cp.api, 'GET', '/api/v1/runs?pipeline=sales')).body.items
  const ids = async () =>
    (await db.query<{ id: string }>('SELECT id FROM sales ORDER BY id')).map((r) => Number(r.id))
  const applied = (version: number) =>
    waitFor(`agent to apply version ${version}`, async () => {
      const a = await api<{ applied: { name: string; version: number }[] }>(
        cp.api,
        'GET',
        `/api/v1/agents/${agentId}`,
      )
      return a.body.applied.some((p) => p.name === 'sales' && p.version === version) ? true : undefined
    })

  it('keeps rejected rows at the site, lists them, and replays them exactly once after a fix', async () => {
    writeFileSync(join(work, 'day1.csv'), 'id,amount\n1,10\n2,-5\n3,N/A\n4,20\n5,7\n')
    expect((await api(cp.api, 'PUT', '/api/v1/pipelines/sales', spec('v1', 0))).status).toBe(201)
    await applied(1)
    expect((await api(cp.api, 'POST', '/api/v1/pipelines/sales/run', {})).status).toBe(202)
    const first = await waitFor('the first run', async () =>
      (await runs()).find((r) => r.status !== 'running'),
    )
    expect(first).toMatchObject({
      status: 'succeeded',
      counts: { rowsRead: 5, rowsWritten: 3, rowsQuarantined: 2 },
    })
    expect(
      await waitFor('rows in the table', async () => ((await ids()).length === 3 ? ids() : undefined)),
    ).toEqual([1, 4, 5])

    // What was rejected and why, from the site.
    const listed = await api<{
      total: number
      items: {
        agentId: string
        total: number
        byRule: Record<string, number>
        entries: Record<string, unknown>[]
      }[]
    }>(cp.api, 'GET', '/api/v1/pipelines/sales/quarantine')
    expect(listed.body.total).toBe(2)
    expect(listed.body.items[0]).toMatchObject({ agentId, total: 2, byRule: { 'range(amount)': 1, cast: 1 } })
    expect(listed.body.items[0]?.entries).toEqual([
      expect.objectContaining({
        runId: first.id,
        record: 2,
        rule: 'range(amount)',
        reason: 'range(amount): amount -5 is below 0',
        row: { id: '2', amount: '-5' },
      }),
      expect.objectContaining({
        runId: first.id,
        record: 3,
        rule: 'cast',
        column: 'amount',
        value: 'N/A',
        row: { id: '3', amount: 'N/A' },
      }),
    ])
    const cliList = await runCli(['quarantine', 'list', 'sales'], env)
    expect(cliList.code).toBe(0)
    expect(cliList.stdout).toContain(`agent ${agentId}: 2 rows quarantined (2 replayable)`)
    expect(cliList.stdout).toMatch(/day1\.csv:3\s+cast\s+cannot convert "N\/A" in column amount to decimal/)

    // The quality report is kept with the run and shown by the CLI.
    const described = await runCli(['describe', 'run', first.id], env)
    expect(described.code).toBe(0)
    expect(described.stdout).toContain('rows: 5 read, 3 written, 2 quarantined')
    expect(described.stdout).toContain('  range(amount): amount -5 is below 0\n')
    // The rows that reached the rules: the one that failed its cast never did.
    expect(described.stdout).toMatch(/quality: ok \(4 rows checked\)/)
    expect(described.stdout).toMatch(/amount\s+decimal\s+100\.0%\s+100\.0%~?\s+75\.0%\s+-5\s+20\s+8/)
    expect(described.stdout).toMatch(/range\(amount\)\s+error\s+1/)

    // The fix: negative amounts are allowed now. N/A still is not a number.
    expect((await api(cp.api, 'PUT', '/api/v1/pipelines/sales', spec('v2', -100))).status).toBe(200)
    await applied(2)
    const replay = await runCli(['quarantine', 'replay', 'sales'], env)
    expect(replay.stderr).toBe('')
    expect(replay.code).toBe(0)
    expect(replay.stdout).toMatch(
      new RegExp(
        `agent ${agentId}: replayed 2 rows in run \\S+ \\(version 2\\): 1 written, 0 filtered, 1 quarantined again; 1 left`,
      ),
    )
    expect(
      await waitFor('the replayed row', async () => ((await ids()).length === 4 ? ids() : undefined)),
    ).toEqual([1, 2, 4, 5])
    const replayRun = await waitFor('the replay run', async () =>
      (await runs()).find((r) => r.trigger === 'replay' && r.status !== 'running'),
    )
    expect(replayRun).toMatchObject({
      version: 2,
      counts: { rowsRead: 2, rowsWritten: 1, rowsQuarantined: 1 },
    })

    // Replaying again touches only what is still quarantined: nothing lands twice.
    const again = await api<{ items: { ok: boolean; replayed: number; written: number; left: number }[] }>(
      cp.api,
      'POST',
      '/api/v1/pipelines/sales/quarantine/replay',
      {},
    )
    expect(again.body.items[0]).toMatchObject({ ok: true, replayed: 1, written: 0, left: 1 })
    // The old run's entries are gone; the row that failed again is kept under the replay's run.
    const byRun = await api<{ items: { total: number; entries: { runId: string; record: number }[] }[] }>(
      cp.api,
      'GET',
      `/api/v1/pipelines/sales/quarantine?run=${first.id}`,
    )
    expect(byRun.body.items[0]?.total).toBe(0)
    const left = await api<{
      items: { total: number; entries: { runId: string; record: number; source: string }[] }[]
    }>(cp.api, 'GET', '/api/v1/pipelines/sales/quarantine')
    expect(left.body.items[0]?.entries).toEqual([
      expect.objectContaining({ record: 3, source: join(work, 'day1.csv') }),
    ])
    expect(left.body.items[0]?.entries[0]?.runId).not.toBe(first.id)
    await new Promise((r) => setTimeout(r, 500))
    expect(await ids()).toEqual([1, 2, 4, 5])
  })

  it('refuses to replay into a sink that replaces its table, and names an unknown pipeline', async () => {
    const replace = spec('v3', 0)
    replace.metadata.name = 'snapshot'
    replace.spec.sinks = [{ type: 'postgres', url: db.url, table: 'snap', mode: 'replace' } as never]
    expect((await api(cp.api, 'PUT', '/api/v1/pipelines/snapshot', replace)).status).toBe(201)
    await waitFor('agent to apply snapshot', async () => {
      const a = await api<{ applied: { name: string }[] }>(cp.api, 'GET', `/api/v1/agents/${agentId}`)
      return a.body.applied.some((p) => p.name === 'snapshot') ? true : undefined
    })
    const refused = await runCli(['quarantine', 'replay', 'snapshot'], env)
    expect(refused.code).toBe(1)
    expect(refused.stdout).toContain('sinks[0] replaces its table on every run')
    const unknown = await runCli(['quarantine', 'list', 'nope'], env)
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain('pipeline nope')
  })
})
