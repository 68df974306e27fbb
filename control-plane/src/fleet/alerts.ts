/**
 * Alerts, evaluated on the control plane from what it already knows: an agent offline, runs of a
 * pipeline failing N times in a row, a run's data quality below its thresholds, the oldest
 * undelivered batch too old, an outbox near its disk budget, a rollout paused. Each condition is
 * one open alert (by key) that is firing or acknowledged until the condition clears, when it is
 * resolved by itself, or until someone resolves it. Every change is kept in the alert's history,
 * written to the log, and sent to the webhooks (signed, retried).
 */
import { createHmac } from 'node:crypto'
import type { Logger } from '@outpost/agent'
import type { Audit } from '../audit.js'
import type { EventBus } from '../events.js'
import { randomId } from '../grpc/credentials.js'
import type { AlertRecord, AlertRule, AlertSettings, AlertState, RunRecord, Store } from '../store/types.js'
import { EvaluationLoop } from './evaluation-loop.js'
import { isConnected } from './views.js'

interface Condition {
  key: string
  rule: AlertRule
  severity: AlertRecord['severity']
  summary: string
  agentId?: string
  pipeline?: string
  rollout?: string
}

export interface AlertNotification {
  event: `alert.${AlertState}`
  alert: AlertRecord
}

export type Notifier = (n: AlertNotification) => void

export interface RetryOptions {
  attempts?: number
  firstDelayMs?: number
}

/** Tries `send` until it resolves, with exponential backoff; logs each failure and giving up. */
export function deliverWithRetries(
  what: string,
  send: () => Promise<void>,
  log: Logger,
  context: Record<string, unknown>,
  options: RetryOptions = {},
): void {
  const attempts = options.attempts ?? 5
  const firstDelay = options.firstDelayMs ?? 1000
  void (async () => {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await send()
        return
      } catch (error) {
        log.warn(`${what} failed`, { ...context, attempt, error: (error as Error).message })
      }
      if (attempt < attempts) await new Promise((r) => setTimeout(r, firstDelay * 2 ** (attempt - 1)))
    }
    log.error(`${what} gave up`, context)
  })()
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<void> {
  const r = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) })
  if (!r.ok) throw new Error(`HTTP ${r.status}`)
}

/** Posts notifications as JSON, signed with HMAC-SHA256 when a secret is set, retried with backoff. */
export function webhookNotifier(
  url: string,
  secret: string | undefined,
  log: Logger,
  options: RetryOptions = {},
): Notifier {
  return (n) => {
    const body = JSON.stringify(n)
    const delivery = randomId('dlv-', 12)
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'outpost-alerts',
      'x-outpost-event': n.event,
      'x-outpost-delivery': delivery,
      ...(secret
        ? { 'x-outpost-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` }
        : {}),
    }
    const context = { url, delivery, event: n.event, alert: n.alert.id }
    deliverWithRetries('alert webhook', () => post(url, body, headers), log, context, options)
  }
}

/** A title and a body for people: state, severity, rule, what, where, and a link. */
export function alertText(
  n: AlertNotification,
  consoleUrl: string | undefined,
): { title: string; body: string } {
  const a = n.alert
  const state = a.state.toUpperCase()
  const where = [a.agentId ? `agent ${a.agentId}` : '', a.pipeline ? `pipeline ${a.pipeline}` : '']
    .filter(Boolean)
    .join(', ')
  const title = `[Outpost] ${state} ${a.severity}: ${a.rule}${where ? ` (${where})` : ''}`
  const last = a.history.at(-1)
  const body = [
    a.summary,
    '',
    `Alert ${a.id}, ${a.rule}, ${a.severity}, fired ${new Date(a.firedAt).toISOString()}.`,
    ...(last && last.state !== 'firing'
      ? [`${last.state} by ${last.by}${last.note ? `: ${last.note}` : ''}`]
      : []),
    ...(consoleUrl ? [`Console: ${consoleUrl.replace(/\/$/, '')}/#alert=${a.id}`] : []),
  ].join('\n')
  return { title, body }
}

/** Chat webhooks in the Slack format ({"text": …}), which Slack, Mattermost and Rocket.Chat accept. */
export function chatNotifier(
  url: string,
  consoleUrl: string | undefined,
  log: Logger,
  options: RetryOptions = {},
): Notifier {
  return (n) => {
    const { title, body } = alertText(n, consoleUrl)
    const icon =
      n.alert.state !== 'firing'
        ? ':white_check_mark:'
        : n.alert.severity === 'critical'
          ? ':red_circle:'
          : ':warning:'
    const payload = JSON.stringify({ text: `${icon} *${title}*\n${body}` })
    const send = () => post(url, payload, { 'content-type': 'application/json' })
    deliverWithRetries('chat notification', send, log, { url, alert: n.alert.id }, options)
  }
}

export interface EmailSettings {
  /** smtp://user:password@host:587 (STARTTLS when offered; ?requireTLS=true insists) or smtps://… */
  smtpUrl: string
  from: string
  to: string[]
  consoleUrl?: string
}

/** E-mail over SMTP with nodemailer (STARTTLS, authentication), retried with backoff. */
export async function emailNotifier(
  settings: EmailSettings,
  log: Logger,
  options: RetryOptions = {},
): Promise<Notifier> {
  const { createTransport } = await import('nodemailer')
  const transport = createTransport(settings.smtpUrl)
  return (n) => {
    const { title, body } = alertText(n, settings.consoleUrl)
    const send = async () => {
      await transport.sendMail({ from: settings.from, to: settings.to, subject: title, text: body })
    }
    deliverWithRetries('alert e-mail', send, log, { to: settings.to.join(','), alert: n.alert.id }, options)
  }
}

function consecutiveFailures(runs: RunRecord[]): number {
  let n = 0
  for (const r of runs) {
    if (r.status === 'running') continue
    if (r.status !== 'failed') break
    n++
  }
  return n
}

export class AlertManager {
  private readonly loop: EvaluationLoop

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly audit: Audit,
    private readonly log: Logger,
    private readonly notifiers: Notifier[] = [],
    intervalMs = 5000,
  ) {
    this.loop = new EvaluationLoop('alert evaluation', () => this.evaluate(), log, intervalMs)
  }

  start(): void {
    this.loop.start(this.events, ['agent', 'run', 'rollout'])
  }

  stop(): void {
    this.loop.stop()
  }

  schedule(): void {
    this.loop.schedule()
  }

  /** What is wrong right now, one condition per alert key. */
  async conditions(now: number, settings: AlertSettings): Promise<Condition[]> {
    const out: Condition[] = []
    const agents = (await this.store.listAgents()).filter((a) => !a.revokedAt)
    const names = new Map(agents.map((a) => [a.id, a.name]))
    for (const a of agents) {
      const who = `agent ${a.name} (${a.id})`
      const seen = a.lastSeenAt ?? a.enrolledAt
      if (!isConnected(a, now) && now - seen > settings.agentOfflineAfterMs)
        out.push({
          key: `agent_offline/${a.id}`,
          rule: 'agent_offline',
          severity: 'critical',
          agentId: a.id,
          summary: `${who} is offline; last seen ${new Date(seen).toISOString()}`,
        })
      const s = a.status
      if (!s) continue
      if (s.outboxOldestAgeMs > settings.outboxAgeMs)
        out.push({
          key: `outbox_age/${a.id}`,
          rule: 'outbox_age',
          severity: 'warning',
          agentId: a.id,
          summary: `${who}: the oldest undelivered batch is ${Math.round(s.outboxOldestAgeMs / 60_000)} min old (${s.outboxBatches} batches waiting)`,
        })
      if (s.diskBudgetBytes && s.outboxBytes > settings.diskBudgetRatio * s.diskBudgetBytes)
        out.push({
          key: `disk_budget/${a.id}`,
          rule: 'disk_budget',
          severity: 'warning',
          agentId: a.id,
          summary: `${who}: the outbox holds ${Math.round((100 * s.outboxBytes) / s.diskBudgetBytes)} % of its disk budget`,
        })
    }
    // Runs, newest first, per agent and pipeline.
    const series = new Map<string, RunRecord[]>()
    for (const r of await this.store.listRuns({ limit: 1000 })) {
      if (!names.has(r.agentId)) continue
      const key = `${r.agentId}/${r.pipeline}`
      const list = series.get(key) ?? []
      list.push(r)
      series.set(key, list)
    }
    for (const [key, runs] of series) {
      const last = runs.find((r) => r.status !== 'running')
      if (!last) continue
      const who = `agent ${names.get(last.agentId)} (${last.agentId})`
      const failures = consecutiveFailures(runs)
      if (failures >= settings.runFailuresInARow)
        out.push({
          key: `run_failed/${key}`,
          rule: 'run_failed',
          severity: 'critical',
          agentId: last.agentId,
          pipeline: last.pipeline,
          summary: `${failures} runs of ${last.pipeline} on ${who} failed in a row; the last: ${last.errors[0]?.message ?? 'no error recorded'}`,
        })
      const quality = last.quality as { status?: string } | undefined
      if (quality?.status === 'fail') {
        const breach =
          last.errors.find((e) => e.code === 'quality')?.message ?? 'a fail threshold was not met'
        out.push({
          key: `quality/${key}`,
          rule: 'quality',
          severity: 'warning',
          agentId: last.agentId,
          pipeline: last.pipeline,
          summary: `data quality of ${last.pipeline} on ${who} is below its threshold: ${breach}`,
        })
      }
    }
    for (const r of await this.store.listRollouts()) {
      if (r.state !== 'paused') continue
      out.push({
        key: `rollout_paused/${r.id}`,
        rule: 'rollout_paused',
        severity: 'warning',
        pipeline: r.pipeline,
        rollout: r.id,
        summary: `rollout ${r.id} of ${r.pipeline} version ${r.toVersion} is paused: ${r.pausedReason ?? 'no reason given'}`,
      })
    }
    return out
  }

  async evaluate(now = Date.now()): Promise<void> {
    // With several replicas, one evaluates.
    if (this.store.isLeader && !(await this.store.isLeader())) return
    const settings = await this.store.alertSettings()
    const current = await this.conditions(now, settings)
    const keys = new Set(current.map((c) => c.key))
    for (const c of current) {
      if (await this.store.openAlert(c.key)) continue
      const alert: AlertRecord = {
        id: randomId('alr-', 10),
        key: c.key,
        rule: c.rule,
        severity: c.severity,
        ...(c.agentId ? { agentId: c.agentId } : {}),
        ...(c.pipeline ? { pipeline: c.pipeline } : {}),
        ...(c.rollout ? { rollout: c.rollout } : {}),
        summary: c.summary,
        state: 'firing',
        firedAt: now,
        updatedAt: now,
        history: [{ at: now, state: 'firing', by: 'system' }],
      }
      await this.store.putAlert(alert)
      this.publish(alert)
    }
    for (const open of [
      ...(await this.store.listAlerts({ state: 'firing' })),
      ...(await this.store.listAlerts({ state: 'acknowledged' })),
    ]) {
      if (keys.has(open.key)) continue
      await this.change(open.id, 'resolved', 'system', 'the condition cleared', now)
    }
  }

  private publish(alert: AlertRecord): void {
    const level = alert.state === 'firing' ? 'warn' : 'info'
    this.log[level](`alert ${alert.state}`, { alert: alert.id, rule: alert.rule, summary: alert.summary })
    this.events.emit('alert', alert)
    for (const notify of this.notifiers) notify({ event: `alert.${alert.state}`, alert })
  }

  private async change(
    id: string,
    state: AlertState,
    by: string,
    note: string | undefined,
    now = Date.now(),
  ) {
    const alert = await this.store.getAlert(id)
    if (!alert) return undefined
    if (alert.state === 'resolved') return alert
    if (alert.state === state) return alert
    const next: AlertRecord = {
      ...alert,
      state,
      updatedAt: now,
      ...(state === 'acknowledged' ? { acknowledgedAt: now, acknowledgedBy: by } : {}),
      ...(state === 'resolved' ? { resolvedAt: now, resolvedBy: by } : {}),
      history: [...alert.history, { at: now, state, by, ...(note ? { note } : {}) }],
    }
    await this.store.putAlert(next)
    this.publish(next)
    return next
  }

  async acknowledge(id: string, by: string, note?: string): Promise<AlertRecord | undefined> {
    const a = await this.change(id, 'acknowledged', by, note)
    if (a) await this.audit(by, 'alert.acknowledge', id, { rule: a.rule, ...(note ? { note } : {}) })
    return a
  }

  async resolve(id: string, by: string, note?: string): Promise<AlertRecord | undefined> {
    const a = await this.change(id, 'resolved', by, note)
    if (a) await this.audit(by, 'alert.resolve', id, { rule: a.rule, ...(note ? { note } : {}) })
    return a
  }
}
