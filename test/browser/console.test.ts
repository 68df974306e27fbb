// The console in a real browser against a real control plane and agent: the agent shows online,
// the applied pipeline and its runs appear, and the fleet throughput chart moves - all live,
// without reloading the page.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { launchChromium, screenshot } from '../helpers/browser.js'
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

describe('console', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let agent: { process: OutpostProcess }
  let browser: Browser
  let work: string

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'outpost-console-'))
    nats = await startNats()
    cp = await startControlPlane(nats.url, { extraArgs: ['--alert-interval', '200ms'] })
    await api(cp.api, 'PUT', '/api/v1/alerts/settings', { agentOfflineAfter: '500ms' })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await agent?.process.stop()
    await cp?.process.stop()
    await nats?.dispose()
    rmSync(work, { recursive: true, force: true })
  })

  it('shows an enrolled agent online, the pipeline, its runs and moving throughput, live', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(cp.api)
    // Signing in: a wrong token is refused with a message, the admin token is accepted.
    await page.getByLabel('API token').fill('opa_wrong')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That token was not accepted.')
    await page.getByLabel('API token').fill(ADMIN_TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByTestId('principal').textContent()).toBe('bootstrap (admin)')
    await expect.poll(() => page.getByTestId('live-status').textContent()).toContain('live')
    await expect.poll(() => page.getByTestId('agent-counts').textContent()).toContain('0 online')

    agent = await startAgent(cp.grpc, { token: await createToken(cp.api), name: 'browser-edge' })
    const row = page.locator('tr', { hasText: 'browser-edge' })
    await expect.poll(() => row.getByTestId('agent-state').textContent(), { timeout: 20_000 }).toBe('online')

    const inbox = join(work, 'in')
    mkdirSync(inbox)
    const lines = ['id,v']
    for (let i = 0; i < 5000; i++) lines.push(`${i},${i * 2}`)
    writeFileSync(join(inbox, 'a.csv'), `${lines.join('\n')}\n`)
    const spec = {
      apiVersion: 'outpost/v1',
      kind: 'Pipeline',
      metadata: { name: 'console-demo' },
      spec: {
        schedule: { every: '2s' },
        source: { type: 'csv', path: join(inbox, '*.csv') },
        sinks: [{ type: 'file', path: join(work, 'out') }],
      },
    }
    // The pipeline is written in the console's editor: an error is shown at its line as you
    // type, and the fixed spec is applied from there.
    const editor = page.getByLabel('Pipeline YAML')
    const yaml = stringify(spec)
    await editor.fill(yaml.replace('type: csv', 'type: cvs'))
    await expect
      .poll(() => page.getByTestId('spec-errors').textContent())
      .toMatch(/spec\.source\.type: unknown type "cvs".*\(line \d+, column \d+\)/)
    await editor.fill(yaml)
    await expect.poll(() => page.getByTestId('spec-errors').textContent()).toContain('Valid.')
    await page.getByRole('button', { name: 'Apply' }).click()
    await expect
      .poll(() => page.getByTestId('apply-result').textContent())
      .toBe('console-demo: version 1 created')
    await screenshot(page, 'console-editor')

    await expect
      .poll(() => page.locator('tr[data-pipeline="console-demo"]').count(), { timeout: 10_000 })
      .toBe(1)
    await expect.poll(() => row.textContent(), { timeout: 20_000 }).toContain('console-demo@1')
    await expect
      .poll(() => page.locator('tr[data-run]', { hasText: 'succeeded' }).count(), { timeout: 20_000 })
      .toBeGreaterThan(0)
    await expect
      .poll(() => page.locator('tr[data-run]', { hasText: '5000 / 5000 / 0' }).count(), { timeout: 20_000 })
      .toBe(1)
    // The agent reports rows written with its metrics; the chart's total moves without a reload.
    await expect
      .poll(() => page.getByTestId('throughput-total').textContent(), { timeout: 30_000 })
      .toContain('5,000 rows written')
    expect(await page.locator('op-throughput-chart canvas').count()).toBeGreaterThan(0)
    await screenshot(page, 'console-fleet-1280')

    await page.setViewportSize({ width: 390, height: 844 })
    await expect.poll(() => row.getByTestId('agent-state').isVisible()).toBe(true)
    await screenshot(page, 'console-fleet-390')

    await page.setViewportSize({ width: 1280, height: 900 })

    // Version 2 as a canary from the editor: its progress shows live; pause, then abort it.
    await editor.fill(yaml.replace('every: 2s', 'every: 3s'))
    await page.getByLabel('Roll out').selectOption('canary')
    await page.getByLabel('waves').fill('1')
    await page.getByLabel('soak').fill('10m')
    await page.getByRole('button', { name: 'Apply' }).click()
    await expect
      .poll(() => page.getByTestId('apply-result').textContent())
      .toMatch(/version 2 applied, canary rollout rol-\w+ started/)
    const rollout = page.locator('article[data-rollout]')
    await expect.poll(() => rollout.getByTestId('rollout-state').textContent()).toBe('running')
    await expect
      .poll(() => rollout.locator('tr[data-agent]').textContent(), { timeout: 20_000 })
      .toContain('applied')
    await rollout.getByRole('button', { name: 'Pause' }).click()
    await expect.poll(() => rollout.getByTestId('rollout-state').textContent()).toBe('paused')
    await rollout.getByRole('button', { name: 'Abort' }).click()
    await expect.poll(() => rollout.getByTestId('rollout-state').textContent()).toBe('aborted')
    await screenshot(page, 'console-rollout-aborted')

    // Version 3 to everyone, then back to version 1 from the version list: a new rollout.
    await editor.fill(yaml.replace('every: 2s', 'every: 4s'))
    await page.getByLabel('Roll out').selectOption('all')
    await page.getByRole('button', { name: 'Apply' }).click()
    await expect.poll(() => page.getByTestId('apply-result').textContent()).toMatch(/version 3 applied/)
    await expect.poll(() => row.textContent(), { timeout: 20_000 }).toContain('console-demo@3')
    await page.getByRole('button', { name: 'Roll back to v1' }).click()
    await expect
      .poll(() => page.getByTestId('apply-result').textContent())
      .toMatch(/console-demo: rollout rol-\w+ back to version 1 started/)
    await expect.poll(() => row.textContent(), { timeout: 20_000 }).toContain('console-demo@1')
    await agent.process.stop()
    await expect.poll(() => row.getByTestId('agent-state').textContent(), { timeout: 20_000 }).toBe('offline')

    // The stopped agent raises an alert, live; an operator acknowledges it from the console.
    const alert = page.locator('tr[data-rule="agent_offline"]')
    await expect
      .poll(() => alert.getByTestId('alert-state').textContent(), { timeout: 20_000 })
      .toBe('firing')
    expect(await alert.textContent()).toContain('browser-edge')
    await alert.getByRole('button', { name: /^Acknowledge/ }).click()
    await expect.poll(() => alert.getByTestId('alert-state').textContent()).toBe('acknowledged')
    expect(await alert.textContent()).toContain('acknowledged by token:bootstrap')
    await screenshot(page, 'console-alert-acknowledged')

    // The REST API reference, from the OpenAPI document.
    await page.getByRole('button', { name: 'API reference' }).click()
    await expect.poll(() => page.getByTestId('api-reference').locator('tbody tr').count()).toBeGreaterThan(40)
    expect(await page.getByTestId('api-reference').textContent()).toContain('POST /pipelines/{name}/rollouts')

    // A viewer sees the alert but no control that changes anything.
    const viewer = await api<{ token: string }>(cp.api, 'POST', '/api/v1/api-tokens', {
      name: 'watcher',
      role: 'viewer',
    })
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await other.goto(cp.api)
    await other.getByLabel('API token').fill(viewer.body.token)
    await other.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => other.getByTestId('principal').textContent()).toBe('watcher (viewer)')
    await expect.poll(() => other.locator('tr[data-rule="agent_offline"]').count()).toBe(1)
    expect(await other.getByRole('button', { name: /Acknowledge|Resolve/ }).count()).toBe(0)
    await other.close()
    await page.close()
  })
})
