// The thresholds of the alert rules in the console (admins change them, with the API's complaint
// next to the field; viewers only read them) and an agent's state timeline, recorded by a real
// control plane while a real agent connects, stops and comes back.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keyboardAudit, launchChromium, screenshot, signIn } from '../helpers/browser.js'
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

interface StateChange {
  state: string
  at: number
  until?: number
  durationMs: number
  reasons: string[]
}

describe('alert rules and state timeline in the console', () => {
  let nats: NatsServer
  let cp: ControlPlaneHandle
  let browser: Browser
  let agent: OutpostProcess | undefined

  beforeAll(async () => {
    nats = await startNats()
    cp = await startControlPlane(nats.url)
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await agent?.stop()
    await cp?.process.stop()
    await nats?.dispose()
  })

  const roleToken = async (name: string, role: string) =>
    (await api<{ token: string }>(cp.api, 'POST', '/api/v1/api-tokens', { name, role })).body.token

  it('lets an admin change a threshold, names a bad value next to its field, and keeps it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(page, cp.api, ADMIN_TOKEN)
    await page.getByText('Alert rules', { exact: true }).click()
    const failures = page.getByLabel('Failed runs in a row')
    await expect.poll(() => failures.inputValue()).toBe('3')
    expect(await page.getByLabel('Agent offline after').inputValue()).toBe('2m')
    expect(await page.getByLabel('Oldest undelivered batch').inputValue()).toBe('15m')
    expect(await page.getByLabel('Outbox share of disk budget').inputValue()).toBe('0.8')

    // Refused values: each named next to its own field, nothing saved.
    await failures.fill('0')
    await page.getByLabel('Agent offline after').fill('soon')
    await page.getByRole('button', { name: 'Save alert rules' }).click()
    const errorOf = (key: string) => page.locator(`[data-field-error="${key}"]`)
    await expect.poll(() => errorOf('runFailuresInARow').textContent()).toContain('>=1')
    expect(await errorOf('agentOfflineAfter').textContent()).toContain('expected a duration')
    expect(await errorOf('diskBudgetRatio').textContent()).toBe('')
    expect(await failures.getAttribute('aria-invalid')).toBe('true')
    const unchanged = await api<{ runFailuresInARow: number }>(cp.api, 'GET', '/api/v1/alerts/settings')
    expect(unchanged.body.runFailuresInARow).toBe(3)
    await screenshot(page, 'alert-rules-errors')

    await failures.fill('5')
    await page.getByLabel('Agent offline after').fill('5m')
    await page.getByRole('button', { name: 'Save alert rules' }).click()
    await expect
      .poll(() => page.getByTestId('alert-settings-notice').textContent())
      .toBe('Alert rules saved.')
    expect(await errorOf('runFailuresInARow').textContent()).toBe('')
    expect(await failures.getAttribute('aria-invalid')).toBe('false')
    const saved = await api<Record<string, unknown>>(cp.api, 'GET', '/api/v1/alerts/settings')
    expect(saved.body).toEqual({
      agentOfflineAfter: '300000ms',
      runFailuresInARow: 5,
      outboxAge: '900000ms',
      diskBudgetRatio: 0.8,
    })
    // The form is reachable and named from the keyboard.
    const audit = await keyboardAudit(page)
    expect(audit.unreached).toEqual([])
    expect(audit.unlabelled).toEqual([])
    expect(audit.noFocusRing).toEqual([])

    // A new page reads them back from the control plane.
    await page.reload()
    await page.getByText('Alert rules', { exact: true }).click()
    await expect.poll(() => page.getByLabel('Failed runs in a row').inputValue()).toBe('5')
    expect(await page.getByLabel('Agent offline after').inputValue()).toBe('5m')
    await page.close()
  }, 60_000)

  it('shows viewers and operators the thresholds without a control to change them', async () => {
    for (const role of ['viewer', 'operator']) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      await signIn(page, cp.api, await roleToken(`rules-${role}`, role))
      await page.getByText('Alert rules', { exact: true }).click()
      await expect.poll(() => page.locator('[data-setting="runFailuresInARow"]').textContent()).toBe('5')
      expect(await page.locator('[data-setting="agentOfflineAfter"]').textContent()).toBe('5m')
      expect(await page.getByRole('button', { name: 'Save alert rules' }).count()).toBe(0)
      expect(await page.locator('op-alert-settings input').count()).toBe(0)
      expect(await page.getByTestId('alert-settings').textContent()).toContain(
        'Only admins can change these.',
      )
      // The API refuses them too.
      const refused = await api(
        cp.api,
        'PUT',
        '/api/v1/alerts/settings',
        { runFailuresInARow: 1 },
        'application/json',
        await roleToken(`rules-${role}-2`, role),
      )
      expect(refused.status).toBe(403)
      await page.close()
    }
  })

  it("records an agent going online, offline when it stops, and online again; the agent's page shows it", async () => {
    const started = await startAgent(cp.grpc, { token: await createToken(cp.api), name: 'timeline-edge' })
    agent = started.process
    await agent.waitForLog((l) => l.msg === 'connected to control plane', 'connect')
    const agentId = String(agent.logs.find((l) => l.msg === 'agent starting')?.agentId)
    const history = async () =>
      (await api<{ items: StateChange[] }>(cp.api, 'GET', `/api/v1/agents/${agentId}/history`)).body.items
    await expect.poll(async () => (await history()).map((e) => e.state)).toEqual(['online'])

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await signIn(page, cp.api, ADMIN_TOKEN)
    await page.goto(`${cp.api}#/agents/${agentId}`)
    const rows = page.getByTestId('detail-states').locator('tbody tr')
    const shown = async () => Promise.all((await rows.all()).map((r) => r.getAttribute('data-state')))
    await expect.poll(shown).toEqual(['online'])
    expect(await rows.first().textContent()).toMatch(/so far/)

    // Stopped: the stream ends, the agent is offline; the open page follows from the live stream.
    await agent.stop()
    await expect.poll(async () => (await history()).map((e) => e.state)).toEqual(['offline', 'online'])
    await expect.poll(shown, { timeout: 10_000 }).toEqual(['offline', 'online'])

    // Started again with its state directory: online again.
    agent = (await startAgent(cp.grpc, { stateDir: started.stateDir, name: 'timeline-edge' })).process
    await agent.waitForLog((l) => l.msg === 'connected to control plane', 'reconnect')
    await expect
      .poll(async () => (await history()).map((e) => e.state))
      .toEqual(['online', 'offline', 'online'])
    await expect.poll(shown, { timeout: 10_000 }).toEqual(['online', 'offline', 'online'])

    // Each change lasted until the next began; the current one is still going.
    const items = await history()
    expect(items[0]?.until).toBeUndefined()
    expect(items[1]?.until).toBe(items[0]?.at)
    expect(items[2]?.until).toBe(items[1]?.at)
    expect(items[1]?.durationMs).toBe((items[0]?.at ?? 0) - (items[1]?.at ?? 0))
    expect(items.every((e) => e.reasons.length === 0)).toBe(true)
    const offlineRow = rows.nth(1)
    expect(await offlineRow.textContent()).toMatch(/offline.*ago.*\d+ (ms|s)/s)
    expect(await offlineRow.textContent()).not.toContain('so far')
    await screenshot(page, 'agent-state-timeline')
    await page.close()
  }, 90_000)
})
