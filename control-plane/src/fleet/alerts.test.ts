import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createLogger } from '@outpost/agent'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ControlPlaneContext } from '../context.js'
import type { AgentRecord, RunRecord } from '../store/types.js'
import { testContext } from '../test-context.js'
import { AlertManager, type AlertNotification, webhookNotifier } from './alerts.js'

const log = createLogger({ level: 'error', write: () => {} })

function agent(id: string, over: Partial<AgentRecord> = {}): AgentRecord {
  return {
    id,
    name: id,
    labels: {},
    credentialHash: 'x',
    tokenId: 't',
    enrolledAt: 1,
    agentVersion: '0',
    connected: true,
    lastSeenAt: Date.now(),
    applied: [],
    ...over,
  }
}

let seq = 0
function run(agentId: string, status: RunRecord['status'], quality?: unknown): RunRecord {
  const startedAt = Date.now() + ++seq
  return {
    id: `r${seq}`,
    agentId,
    pipeline: 'sales',
    version: 1,
    status,
    trigger: 'schedule',
    startedAt,
    counts: {
      rowsRead: 0,
      rowsWritten: 0,
      rowsQuarantined: 0,
      rowsFiltered: 0,
      rowsDropped: 0,
      bytesRead: 0,
      batches: 0,
    },
    errors: quality
      ? [
          {
            stage: 'validate',
            code: 'quality',
            message: 'completeness of amount is 0.5, below the fail threshold 0.9',
          },
        ]
      : status === 'failed'
        ? [{ stage: 'extract', code: 'source_failed', message: `connection refused (${seq})` }]
        : [],
    errorsTotal: 0,
    ...(quality ? { quality } : {}),
    updatedAt: startedAt,
  }
}

describe('alerts', () => {
  let ctx: ControlPlaneContext & { close(): Promise<void> }
  let server: Server
  let received: { body: AlertNotification; signature: string | undefined; raw: string }[]
  let failFirst: boolean
  let alerts: AlertManager
  beforeEach(async () => {
    ctx = testContext()
    received = []
    failFirst = true
    server = createServer((req, res) => {
      let raw = ''
      req.on('data', (d) => (raw += d))
      req.on('end', () => {
        // The first delivery fails: the notifier must try again.
        if (failFirst) {
          failFirst = false
          res.writeHead(503).end()
          return
        }
        received.push({
          body: JSON.parse(raw) as AlertNotification,
          signature: req.headers['x-outpost-signature'] as string,
          raw,
        })
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    alerts = new AlertManager(ctx.store, ctx.events, ctx.audit, log, [
      webhookNotifier(url, 's3cret', log, { firstDelayMs: 20 }),
    ])
  })
  afterEach(async () => {
    server.close()
    await ctx.close()
  })

  it('fires one alert per condition, with a clear summary, and resolves it when the condition clears', async () => {
    const now = Date.now()
    await ctx.store.putAgent(agent('gone', { connected: false, lastSeenAt: now - 10 * 60_000 }))
    await ctx.store.putAgent(
      agent('full', {
        status: {
          runsActive: 0,
          outboxBatches: 40,
          outboxBytes: 900,
          outboxOldestAgeMs: 20 * 60_000,
          natsConnected: false,
          runsFailedRecently: 0,
          diskBudgetBytes: 1000,
        },
      }),
    )
    await ctx.store.putAgent(agent('flaky'))
    for (let i = 0; i < 3; i++) await ctx.store.recordRun(run('flaky', 'failed'))
    await ctx.store.putAgent(agent('sloppy'))
    await ctx.store.recordRun(run('sloppy', 'failed', { status: 'fail' }))
    await alerts.evaluate(now)
    await alerts.evaluate(now)
    const firing = await ctx.store.listAlerts({ state: 'firing' })
    expect(firing.map((a) => a.key).sort()).toEqual([
      'agent_offline/gone',
      'disk_budget/full',
      'outbox_age/full',
      'quality/sloppy/sales',
      'run_failed/flaky/sales',
    ])
    const byRule = Object.fromEntries(firing.map((a) => [a.rule, a.summary]))
    expect(byRule.run_failed).toBe(
      '3 runs of sales on agent flaky (flaky) failed in a row; the last: connection refused (3)',
    )
    expect(byRule.disk_budget).toBe('agent full (full): the outbox holds 90 % of its disk budget')
    expect(byRule.quality).toContain('below its threshold: completeness of amount is 0.5')
    expect(byRule.agent_offline).toMatch(/^agent gone \(gone\) is offline; last seen 20\d\d-/)

    // Acknowledged, an alert stays quiet while its condition holds; it resolves when it clears.
    const offline = firing.find((a) => a.rule === 'agent_offline')!
    await alerts.acknowledge(offline.id, 'token:ops', 'looking into it')
    await alerts.evaluate(now)
    expect(await ctx.store.getAlert(offline.id)).toMatchObject({
      state: 'acknowledged',
      acknowledgedBy: 'token:ops',
    })
    await ctx.store.updateAgent('gone', (a) => ({ ...a, connected: true, lastSeenAt: now }))
    await ctx.store.recordRun(run('flaky', 'succeeded'))
    await alerts.evaluate(now)
    const resolved = await ctx.store.getAlert(offline.id)
    expect(resolved?.history.map((h) => `${h.state} by ${h.by}${h.note ? `: ${h.note}` : ''}`)).toEqual([
      'firing by system',
      'acknowledged by token:ops: looking into it',
      'resolved by system: the condition cleared',
    ])
    expect((await ctx.store.listAlerts({ state: 'resolved' })).map((a) => a.rule).sort()).toEqual([
      'agent_offline',
      'run_failed',
    ])
    expect((await ctx.store.listAudit({ action: 'alert' })).map((a) => a.action)).toEqual([
      'alert.acknowledge',
    ])

    // Webhooks: every change, signed, retried after a refusal.
    await expect.poll(() => received.length, { timeout: 5000 }).toBe(5 + 1 + 2)
    for (const r of received)
      expect(r.signature).toBe(`sha256=${createHmac('sha256', 's3cret').update(r.raw).digest('hex')}`)
    expect(
      received
        .filter((r) => r.body.event === 'alert.resolved')
        .map((r) => r.body.alert.rule)
        .sort(),
    ).toEqual(['agent_offline', 'run_failed'])
  })
})
