// An agent's page and a run's page in a real browser, against a real control plane and a real
// agent: health, desired against applied versions, its own charts, runs, history, probes at the
// site, labels, revocation behind a confirmation; the run's counts, quality report, quarantined
// rows and replay. Viewers and operators see only what their role may do; every control is
// reachable and named from the keyboard, and nothing scrolls sideways at 390 px.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { horizontalOverflow, keyboardAudit, launchChromium, screenshot, signIn } from '../helpers/browser.js'
import { type NatsServer, startNats } from '../helpers/nats.js'
import {
  ADMIN_TOKEN,
  api,
  type ControlPlaneHandle,
  createToken,
  type OutpostProcess,
  startAgent,
  startControlPlane,
} from '../helpers/outpost.js'
import { waitFor } from '../helpers/wait.js'

interface RunBody {
  id: string
  status: string
}

describe('agent and run detail', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let agent: OutpostProcess
  let agentId: string
  let runId: string
  let browser: Browser
  let work: string

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-detail-'))
    nats = await startNats()
    cp = await startControlPlane(nats.url)
    browser = await launchChromium()
    ;({ process: agent } = await startAgent(cp.grpc, {
      token: await createToken(cp.api),
      name: 'detail-edge',
      labels: ['site=lab'],
    }))
    await agent.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
    agentId = String(agent.logs.find((l) => l.msg === 'agent starting')?.agentId)

    // 200 rows, 3 of them breaking a rule: they stay in the agent's quarantine.
    const inbox = join(work, 'in')
    mkdirSync(inbox)
    const lines = ['id,v']
    for (let i = 0; i < 200; i++) lines.push(`${i},${i % 70 === 5 ? -i : i}`)
    writeFileSync(join(inbox, 'a.csv'), `${lines.join('\n')}\n`)
    const applied = await api(cp.api, 'PUT', '/api/v1/pipelines/detail-demo', {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'detail-demo' },
      spec: {
        schedule: 'manual',
        source: { type: 'csv', path: join(inbox, '*.csv') },
        transforms: [{ cast: { id: 'int', v: 'int' } }],
        validate: { rules: [{ range: 'v', min: 0 }] },
        sinks: [{ type: 'file', path: join(work, 'out') }],
      },
    })
    expect(applied.status).toBeLessThan(300)
    await waitFor(
      'the agent to run detail-demo',
      async () =>
        (await api<{ items: { ok: boolean }[] }>(cp.api, 'POST', '/api/v1/pipelines/detail-demo/run', {}))
          .body.items?.[0]?.ok,
      20_000,
      500,
    )
    const run = await waitFor(
      'the run to succeed',
      async () => {
        const runs = await api<{ items: RunBody[] }>(cp.api, 'GET', '/api/v1/runs?pipeline=detail-demo')
        return runs.body.items.find((r) => r.status === 'succeeded')
      },
      20_000,
    )
    runId = run.id
  })

  afterAll(async () => {
    await browser?.close()
    await agent?.stop()
    await cp?.process.stop()
    await nats?.dispose()
    rmSync(work, { recursive: true, force: true })
  })

  const roleToken = async (name: string, role: string) =>
    (await api<{ token: string }>(cp.api, 'POST', '/api/v1/api-tokens', { name, role })).body.token

  it('shows an agent: health, versions, charts, runs, history, probes and labels', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(page, cp.api, ADMIN_TOKEN)
    // From the fleet table, by keyboard.
    const link = page.locator(`tr[data-agent-id="${agentId}"]`).getByRole('link', { name: 'detail-edge' })
    await link.focus()
    await page.keyboard.press('Enter')
    await expect.poll(() => page.evaluate('location.hash')).toBe(`#/agents/${agentId}`)
    await expect.poll(() => page.getByTestId('detail-title').textContent()).toContain('detail-edge')
    expect(await page.getByTestId('detail-state').textContent()).toBe('online')
    const row = page.getByTestId('detail-pipelines').locator('tr[data-pipeline="detail-demo"]')
    await expect.poll(() => row.textContent()).toMatch(/detail-demo\s*v1\s*v1\s*in sync/)

    // Its own rows and outbox, from the metrics it sent.
    await expect
      .poll(() => page.getByTestId('detail-rows-total').textContent(), { timeout: 40_000 })
      .toBe('197 rows written')
    expect(await page.locator('op-agent-detail op-series-chart canvas').count()).toBe(3)
    await expect.poll(() => page.getByTestId('detail-history').textContent()).toContain('agent.enroll')
    expect(await page.locator(`op-agent-detail tr[data-run="${runId}"]`).textContent()).toContain(
      '200 / 197 / 3',
    )

    // Probes at the site: preview rows after the transforms, and a connection test.
    await page.getByLabel('Probe kind').selectOption('preview')
    await page.getByLabel('Rows to preview').fill('5')
    await page.getByRole('button', { name: 'Run probe' }).click()
    const probe = page.getByTestId('probe-result')
    await expect.poll(() => probe.locator('tbody tr').count(), { timeout: 30_000 }).toBe(5)
    expect(await probe.locator('thead').textContent()).toMatch(/id\s*int.*v\s*int/s)
    await page.getByLabel('Probe kind').selectOption('test_connection')
    await page.getByRole('button', { name: 'Run probe' }).click()
    await expect.poll(() => probe.textContent(), { timeout: 30_000 }).toContain('1 file(s) match')
    await screenshot(page, 'agent-detail-1280')

    // Labels: a malformed entry is named; a good one is saved, and the fleet table follows.
    const labels = page.getByLabel('Labels (key=value, comma-separated)')
    await labels.fill('site=lab, tier')
    await page.getByRole('button', { name: 'Save labels' }).click()
    await expect.poll(() => page.locator('#labels-error').textContent()).toBe('"tier" is not key=value')
    await labels.fill('site=lab, bad key=x')
    await page.getByRole('button', { name: 'Save labels' }).click()
    await expect.poll(() => page.locator('#labels-error').textContent()).toContain('labels')
    await labels.fill('site=lab, tier=gold')
    await page.getByRole('button', { name: 'Save labels' }).click()
    await expect.poll(() => page.getByTestId('detail-labels').textContent()).toBe('site=lab, tier=gold')
    expect(await page.locator('#labels-error').textContent()).toBe('')
    await expect.poll(() => page.getByTestId('detail-history').textContent()).toContain('agent.update')

    // Every control is reachable by Tab, has a name and shows where focus is.
    const audit = await keyboardAudit(page)
    expect(audit.unreached).toEqual([])
    expect(audit.unlabelled).toEqual([])
    expect(audit.noFocusRing).toEqual([])
    expect(audit.controls).toBeGreaterThan(10)

    await page.setViewportSize({ width: 390, height: 844 })
    await expect.poll(() => horizontalOverflow(page)).toBe(0)
    await screenshot(page, 'agent-detail-390')
    await page.close()
  }, 120_000)

  it("shows a run's counts, quality and quarantined rows, and replays them", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(page, cp.api, ADMIN_TOKEN)
    // From the runs list.
    await page.getByRole('link', { name: 'Runs', exact: true }).click()
    await page.locator(`op-runs-view tr[data-run="${runId}"]`).getByRole('link').click()
    await expect.poll(() => page.getByTestId('run-title').textContent()).toBe('Run of detail-demo@1')
    expect(await page.getByTestId('run-status').textContent()).toBe('succeeded')
    expect(await page.getByTestId('run-counts').textContent()).toBe(
      '200 read, 197 written, 3 quarantined, 0 filtered, 0 dropped',
    )
    expect(await page.getByTestId('run-duration').textContent()).toMatch(/\d+(\.\d)? (ms|s)/)
    expect(await page.getByTestId('quality-status').textContent()).toBe('ok')
    expect(await page.getByTestId('quality-rules').textContent()).toMatch(/range\(v\)\s*error\s*3/)
    await expect
      .poll(() => page.getByTestId('quarantine-total').textContent(), { timeout: 20_000 })
      .toContain('3 rows of this run')
    expect(await page.getByTestId('quarantine-rows').locator('tbody tr').count()).toBe(3)
    expect(await page.getByTestId('quarantine-rows').textContent()).toContain('v -5 is below 0')
    await screenshot(page, 'run-detail-1280')
    await page.getByRole('button', { name: /^Replay this run's rows/ }).click()
    // The spec still refuses them: replayed, quarantined again, still there.
    await expect
      .poll(() => page.getByTestId('replay-result').textContent(), { timeout: 60_000 })
      .toMatch(/replayed 3 rows: 0 written, \d+ left in quarantine/)
    const audit = await keyboardAudit(page)
    expect(audit.unreached).toEqual([])
    expect(audit.unlabelled).toEqual([])
    expect(audit.noFocusRing).toEqual([])
    await page.setViewportSize({ width: 390, height: 844 })
    await expect.poll(() => horizontalOverflow(page)).toBe(0)
    await page.close()
  }, 120_000)

  it('overview: every control reachable by keyboard, named and with a focus ring, at 1280 and 390 px', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(page, cp.api, ADMIN_TOKEN)
    await expect.poll(() => page.locator(`tr[data-agent-id="${agentId}"]`).count()).toBe(1)
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 })
      const audit = await keyboardAudit(page)
      expect(audit.unreached).toEqual([])
      expect(audit.unlabelled).toEqual([])
      expect(audit.noFocusRing).toEqual([])
      expect(audit.controls).toBeGreaterThan(15)
      expect(await horizontalOverflow(page)).toBe(0)
    }
    await page.close()
  })

  it('shows viewers and operators only the controls their role allows', async () => {
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(viewer, cp.api, await roleToken('detail-viewer', 'viewer'))
    await viewer.goto(`${cp.api}#/agents/${agentId}`)
    await expect.poll(() => viewer.getByTestId('detail-title').textContent()).toContain('detail-edge')
    for (const name of ['Run probe', 'Save labels', 'Revoke agent…'])
      expect(await viewer.getByRole('button', { name }).count()).toBe(0)
    await viewer.goto(`${cp.api}#/runs/${runId}`)
    await expect.poll(() => viewer.getByTestId('run-counts').textContent()).toContain('3 quarantined')
    expect(await viewer.getByRole('button', { name: /Replay/ }).count()).toBe(0)
    await viewer.close()

    const operator = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(operator, cp.api, await roleToken('detail-operator', 'operator'))
    await operator.goto(`${cp.api}#/agents/${agentId}`)
    await expect.poll(() => operator.getByRole('button', { name: 'Run probe' }).count()).toBe(1)
    expect(await operator.getByRole('button', { name: 'Save labels' }).count()).toBe(0)
    expect(await operator.getByRole('button', { name: 'Revoke agent…' }).count()).toBe(0)
    await operator.close()
  })

  it('revokes an agent only after confirmation', async () => {
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(page, cp.api, ADMIN_TOKEN)
    await page.goto(`${cp.api}#/agents/${agentId}`)
    await expect.poll(() => page.getByTestId('detail-state').textContent()).toBe('online')
    await page.getByRole('button', { name: 'Revoke agent…' }).click()
    const dialog = page.getByRole('dialog')
    await expect.poll(() => dialog.isVisible()).toBe(true)
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await expect.poll(() => dialog.isVisible()).toBe(false)
    expect(await page.getByTestId('detail-state').textContent()).toBe('online')

    await page.getByRole('button', { name: 'Revoke agent…' }).click()
    await dialog.getByRole('button', { name: 'Revoke', exact: true }).click()
    await expect.poll(() => page.getByTestId('detail-state').textContent()).toBe('revoked')
    expect(await page.getByTestId('detail-notice').textContent()).toContain('Agent revoked')
    // The state timeline starts with the revocation.
    await expect
      .poll(() => page.getByTestId('detail-states').locator('tbody tr').first().getAttribute('data-state'))
      .toBe('revoked')
    // The control plane refuses the agent from then on.
    const stored = await api<{ state: string }>(cp.api, 'GET', `/api/v1/agents/${agentId}`)
    expect(stored.body.state).toBe('revoked')
    await page.goto(`${cp.api}#/`)
    await expect
      .poll(() => page.locator(`tr[data-agent-id="${agentId}"]`).getByTestId('agent-state').textContent())
      .toBe('revoked')
    await page.close()
  })
})
