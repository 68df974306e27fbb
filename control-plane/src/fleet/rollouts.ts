/**
 * Rollouts of pipeline versions. `all` switches every agent at once. `canary` goes in waves (a
 * count or a percentage of the agents the version targets, cumulative): a wave's agents get the
 * new version, and once all of them have applied it and it has soaked for the set time without
 * tripping a gate, the next wave starts; after the last one the version becomes the pipeline's
 * stable version. A wave pauses by itself when one of its agents fails to apply the version, a run
 * of the version fails, or the data quality of its runs falls below the previous version's.
 * Operators pause, resume and abort; rolling back is a new rollout to an earlier version.
 */

import type { Logger } from '@outpost/agent'
import { matchesSelector, parseDuration, type Selector } from '@outpost/shared'
import type { Audit } from '../audit.js'
import type { EventBus } from '../events.js'
import { randomId } from '../grpc/credentials.js'
import type { AgentRecord, RolloutRecord, RunRecord, Store } from '../store/types.js'
import { isActive } from './catalog.js'
import { EvaluationLoop } from './evaluation-loop.js'

export interface RolloutPlan {
  strategy: 'all' | 'canary'
  /** Cumulative wave sizes: counts or percentages ("50%"); the last covers every agent. */
  waves?: (number | string)[]
  soakMs?: number
}

export class RolloutError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message)
  }
}

/** Parses `1,25%,100%` and a soak such as `5m` from text (query strings, CLI flags). */
export function planFrom(
  strategy: string | undefined,
  waves: string | undefined,
  soak: string | undefined,
): RolloutPlan {
  if (strategy !== undefined && strategy !== 'all' && strategy !== 'canary')
    throw new RolloutError(400, `strategy must be all or canary, got ${strategy}`)
  const soakMs = soak === undefined ? undefined : parseDuration(soak)
  if (soak !== undefined && soakMs === undefined)
    throw new RolloutError(400, `soak must be a duration such as 5m, got ${soak}`)
  return {
    strategy: strategy === 'canary' || waves !== undefined ? 'canary' : 'all',
    ...(waves !== undefined ? { waves: waves.split(',').map((w) => w.trim()) } : {}),
    ...(soakMs !== undefined ? { soakMs } : {}),
  }
}

/** Validates wave sizes: positive counts or 1–100 %, never shrinking; ends at 100 %. */
export function normalizeWaves(waves: (number | string)[] | undefined): (number | string)[] {
  const list = waves && waves.length > 0 ? waves : [1, '100%']
  const out: (number | string)[] = []
  for (const w of list) {
    const text = String(w).trim()
    if (/^\d+$/.test(text) && Number(text) >= 1) out.push(Number(text))
    else if (/^\d+(\.\d+)?%$/.test(text) && Number(text.slice(0, -1)) > 0 && Number(text.slice(0, -1)) <= 100)
      out.push(text)
    else
      throw new RolloutError(400, `wave "${text}" is neither a count of agents (1, 5) nor a percentage (25%)`)
  }
  if (out[out.length - 1] !== '100%') out.push('100%')
  return out
}

function target(size: number | string, total: number): number {
  if (typeof size === 'number') return Math.min(size, total)
  return Math.min(total, Math.ceil((Number(size.slice(0, -1)) / 100) * total))
}

export interface AgentRolloutStatus {
  agentId: string
  name: string
  /** Index of the wave the agent is in; null while it waits for a later one. */
  wave: number | null
  desiredVersion: number
  applied?: { version: number; state: string; error?: string }
  status: 'waiting' | 'applying' | 'applied' | 'failed' | 'offline'
}

interface Quality {
  status?: string
  columns?: { validity?: number }[]
}

function validityOf(run: RunRecord): number | undefined {
  const q = run.quality as Quality | undefined
  const values = (q?.columns ?? []).map((c) => c.validity).filter((v): v is number => typeof v === 'number')
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length
}

export class RolloutController {
  private readonly loop: EvaluationLoop

  constructor(
    private readonly store: Store,
    private readonly events: EventBus,
    private readonly audit: Audit,
    private readonly log: Logger,
    intervalMs = 1000,
  ) {
    this.loop = new EvaluationLoop('rollout evaluation', () => this.evaluate(), log, intervalMs)
  }

  start(): void {
    this.loop.start(this.events, ['agent', 'run'])
  }

  stop(): void {
    this.loop.stop()
  }

  schedule(): void {
    this.loop.schedule()
  }

  /** Agents a version targets: not revoked, labels matching its selector. */
  async eligible(selector: Selector | undefined): Promise<AgentRecord[]> {
    return (await this.store.listAgents())
      .filter((a) => !a.revokedAt && matchesSelector(selector, a.labels))
      .sort((a, b) => Number(b.connected) - Number(a.connected) || a.id.localeCompare(b.id))
  }

  /**
   * Starts a rollout of `toVersion` (already stored) from `fromVersion`. `all` switches the
   * stable version at once and records a finished rollout; `canary` starts its first wave.
   */
  async begin(
    pipeline: string,
    fromVersion: number,
    toVersion: number,
    selector: Selector | undefined,
    plan: RolloutPlan,
    actor: string,
  ): Promise<RolloutRecord> {
    const now = Date.now()
    const agents = await this.eligible(selector)
    const canary = plan.strategy === 'canary'
    if (canary && agents.length === 0)
      throw new RolloutError(
        409,
        `no agent matches the selector of ${pipeline} version ${toVersion}; a canary needs at least one`,
      )
    const waves = canary ? normalizeWaves(plan.waves) : ['100%']
    const record: RolloutRecord = {
      id: randomId('rol-', 10),
      pipeline,
      fromVersion,
      toVersion,
      strategy: plan.strategy,
      waves: waves.map((size) => ({ size, agents: [] })),
      currentWave: 0,
      soakMs: canary ? (plan.soakMs ?? 60_000) : 0,
      state: canary ? 'running' : 'completed',
      createdAt: now,
      createdBy: actor,
      updatedAt: now,
      ...(canary ? {} : { finishedAt: now }),
    }
    if (canary) {
      const first = record.waves[0]!
      first.agents = agents.slice(0, Math.max(1, target(first.size, agents.length))).map((a) => a.id)
      first.startedAt = now
    } else {
      record.waves[0]!.agents = agents.map((a) => a.id)
      record.waves[0]!.startedAt = now
      record.waves[0]!.completedAt = now
    }
    const created = await this.store.createRollout(record)
    if ('active' in created)
      throw new RolloutError(
        409,
        `pipeline ${pipeline} already has a ${created.active.state} rollout (${created.active.id}, version ${created.active.toVersion}); abort it or let it finish first`,
      )
    if (!canary) await this.store.setStableVersion(pipeline, toVersion)
    await this.audit(actor, 'rollout.start', pipeline, {
      rollout: record.id,
      from: fromVersion,
      to: toVersion,
      strategy: plan.strategy,
      ...(canary ? { waves, soakMs: record.soakMs } : {}),
    })
    this.changed(record)
    return record
  }

  private changed(r: RolloutRecord): void {
    this.events.emit('pipelines', { name: r.pipeline })
    this.events.emit('rollout', r)
  }

  async pause(id: string, actor: string, reason = 'paused by an operator'): Promise<RolloutRecord> {
    return this.transition(id, actor, 'rollout.pause', (r) => {
      if (r.state !== 'running') throw new RolloutError(409, `rollout ${id} is ${r.state}, not running`)
      return { ...r, state: 'paused', pausedReason: reason }
    })
  }

  async resume(id: string, actor: string): Promise<RolloutRecord> {
    return this.transition(id, actor, 'rollout.resume', (r) => {
      if (r.state !== 'paused') throw new RolloutError(409, `rollout ${id} is ${r.state}, not paused`)
      const { pausedReason: _, ...rest } = r
      // The gates look at what happens from now on.
      const waves = r.waves.map((w, i) => (i === r.currentWave ? { ...w, startedAt: Date.now() } : w))
      return { ...rest, waves, state: 'running' }
    })
  }

  /** Stops a rollout: every agent goes back to the version it ran before. */
  async abort(id: string, actor: string): Promise<RolloutRecord> {
    return this.transition(id, actor, 'rollout.abort', (r) => {
      if (!isActive(r)) throw new RolloutError(409, `rollout ${id} is ${r.state} already`)
      return { ...r, state: 'aborted', finishedAt: Date.now() }
    })
  }

  private async transition(
    id: string,
    actor: string,
    action: string,
    change: (r: RolloutRecord) => RolloutRecord,
  ): Promise<RolloutRecord> {
    let error: RolloutError | undefined
    const updated = await this.store.updateRollout(id, (r) => {
      try {
        return { ...change(r), updatedAt: Date.now() }
      } catch (e) {
        error = e as RolloutError
        return r
      }
    })
    if (!updated) throw new RolloutError(404, `rollout ${id} not found`)
    if (error) throw error
    await this.audit(actor, action, updated.pipeline, {
      rollout: id,
      ...(updated.pausedReason && action === 'rollout.pause' ? { reason: updated.pausedReason } : {}),
    })
    this.changed(updated)
    return updated
  }

  async evaluate(now = Date.now()): Promise<void> {
    // With several replicas, one evaluates.
    if (this.store.isLeader && !(await this.store.isLeader())) return
    for (const r of await this.store.listRollouts()) {
      if (r.state === 'running') await this.step(r, now)
    }
  }

  private async step(r: RolloutRecord, now: number): Promise<void> {
    const wave = r.waves[r.currentWave]
    if (!wave) return
    const cohort = new Set(r.waves.slice(0, r.currentWave + 1).flatMap((w) => w.agents))
    const agents = (await this.store.listAgents()).filter((a) => cohort.has(a.id) && !a.revokedAt)
    const gate = await this.gate(r, agents, wave.startedAt ?? r.createdAt)
    if (gate) {
      this.log.warn('rollout paused by a gate', { rollout: r.id, pipeline: r.pipeline, reason: gate })
      await this.pause(r.id, 'system', gate).catch(() => {})
      return
    }
    const applied = agents.every((a) =>
      a.applied.some((p) => p.name === r.pipeline && p.version === r.toVersion && p.state === 'applied'),
    )
    if (!applied) return
    // The soak starts when the whole wave has applied the version.
    const appliedAt = wave.appliedAt ?? now
    if (wave.appliedAt === undefined) {
      const soaking = await this.save(r.id, (x) => ({
        ...x,
        waves: x.waves.map((w, i) => (i === x.currentWave ? { ...w, appliedAt } : w)),
      }))
      // Followers (the console) learn that the wave has applied and is soaking.
      if (soaking) this.events.emit('rollout', soaking)
    }
    if (now - appliedAt < r.soakMs) return
    const last = r.currentWave === r.waves.length - 1
    if (last) {
      await this.store.setStableVersion(r.pipeline, r.toVersion)
      const done = await this.save(r.id, (x) => ({
        ...x,
        state: 'completed',
        finishedAt: now,
        waves: x.waves.map((w, i) => (i === x.currentWave ? { ...w, completedAt: now } : w)),
      }))
      await this.audit('system', 'rollout.complete', r.pipeline, { rollout: r.id, version: r.toVersion })
      if (done) this.changed(done)
      return
    }
    const selector = await this.selectorOf(r)
    const everyone = await this.eligible(selector)
    const next = r.waves[r.currentWave + 1]!
    const added = everyone
      .filter((a) => !cohort.has(a.id))
      .slice(0, Math.max(0, target(next.size, everyone.length) - cohort.size))
      .map((a) => a.id)
    const advanced = await this.save(r.id, (x) => ({
      ...x,
      currentWave: x.currentWave + 1,
      waves: x.waves.map((w, i) =>
        i === x.currentWave
          ? { ...w, completedAt: now }
          : i === x.currentWave + 1
            ? { ...w, agents: added, startedAt: now }
            : w,
      ),
    }))
    this.log.info('rollout wave started', {
      rollout: r.id,
      pipeline: r.pipeline,
      wave: r.currentWave + 1,
      agents: added.length,
    })
    if (advanced) this.changed(advanced)
  }

  private async save(
    id: string,
    change: (r: RolloutRecord) => RolloutRecord,
  ): Promise<RolloutRecord | undefined> {
    return this.store.updateRollout(id, (r) => ({ ...change(r), updatedAt: Date.now() }))
  }

  private async selectorOf(r: RolloutRecord): Promise<Selector | undefined> {
    const v = await this.store.getPipelineVersion(r.pipeline, r.toVersion)
    return v ? (JSON.parse(v.specJson) as { spec?: { selector?: Selector } }).spec?.selector : undefined
  }

  /** Why the wave must pause, if it must: a failed apply, a failed run, or worse data quality. */
  private async gate(r: RolloutRecord, agents: AgentRecord[], since: number): Promise<string | undefined> {
    for (const a of agents) {
      const p = a.applied.find(
        (x) => x.name === r.pipeline && x.version === r.toVersion && x.state === 'failed',
      )
      if (p)
        return `agent ${a.name} (${a.id}) could not apply version ${r.toVersion}: ${p.error ?? 'no reason given'}`
    }
    const ids = new Set(agents.map((a) => a.id))
    const runs = await this.store.listRuns({ pipeline: r.pipeline, limit: 500 })
    const mine = runs.filter((x) => x.version === r.toVersion && ids.has(x.agentId) && x.startedAt >= since)
    const failed = mine.find((x) => x.status === 'failed')
    if (failed)
      return `run ${failed.id} of version ${r.toVersion} on agent ${failed.agentId} failed: ${failed.errors[0]?.message ?? 'no error recorded'}`
    const baseline = runs.find(
      (x) => x.version === r.fromVersion && x.status !== 'running' && validityOf(x) !== undefined,
    )
    const before = baseline ? validityOf(baseline) : undefined
    for (const run of mine) {
      const after = validityOf(run)
      if (after === undefined) continue
      if (
        (run.quality as Quality).status === 'fail' &&
        (baseline?.quality as Quality | undefined)?.status !== 'fail'
      )
        return `data quality of version ${r.toVersion} failed its thresholds in run ${run.id} (agent ${run.agentId})`
      if (before !== undefined && after < before - 0.001)
        return `data quality of version ${r.toVersion} fell below version ${r.fromVersion}: validity ${after.toFixed(4)} < ${before.toFixed(4)} (run ${run.id})`
    }
    return undefined
  }

  /** Where each agent the version targets stands. */
  async agentStatuses(r: RolloutRecord): Promise<AgentRolloutStatus[]> {
    const everyone = await this.eligible(await this.selectorOf(r))
    const waveOf = new Map<string, number>()
    r.waves.forEach((w, i) => {
      if (i <= r.currentWave || r.state === 'completed') for (const id of w.agents) waveOf.set(id, i)
    })
    return everyone.map((a) => {
      const wave =
        r.state === 'completed' ? (waveOf.get(a.id) ?? r.waves.length - 1) : (waveOf.get(a.id) ?? null)
      const desiredVersion = r.state === 'aborted' || wave === null ? r.fromVersion : r.toVersion
      const applied = a.applied.find((p) => p.name === r.pipeline)
      const status: AgentRolloutStatus['status'] =
        wave === null && r.state !== 'completed'
          ? 'waiting'
          : applied?.version === desiredVersion && applied.state === 'failed'
            ? 'failed'
            : applied?.version === desiredVersion
              ? 'applied'
              : a.connected
                ? 'applying'
                : 'offline'
      return {
        agentId: a.id,
        name: a.name,
        wave,
        desiredVersion,
        ...(applied
          ? {
              applied: {
                version: applied.version,
                state: applied.state,
                ...(applied.error ? { error: applied.error } : {}),
              },
            }
          : {}),
        status,
      }
    })
  }
}
