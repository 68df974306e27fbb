import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ControlPlaneContext } from '../context.js'
import type { AgentRecord, RunRecord } from '../store/types.js'
import { testContext } from '../test-context.js'
import { normalizeWaves } from './rollouts.js'

const spec = (v: number) =>
  JSON.stringify({
    apiVersion: 'outpost/v1',
    kind: 'Pipeline',
    metadata: { name: 'p' },
    spec: { selector: { role: 'pos' }, v },
  })

function agent(id: string, role = 'pos'): AgentRecord {
  return {
    id,
    name: id,
    labels: { role },
    credentialHash: 'x',
    tokenId: 't',
    enrolledAt: 1,
    agentVersion: '0',
    connected: true,
    applied: [],
  }
}

function run(
  id: string,
  agentId: string,
  version: number,
  status: RunRecord['status'],
  validity?: number,
): RunRecord {
  return {
    id,
    agentId,
    pipeline: 'p',
    version,
    status,
    trigger: 'schedule',
    startedAt: Date.now(),
    counts: {
      rowsRead: 1,
      rowsWritten: 1,
      rowsQuarantined: 0,
      rowsFiltered: 0,
      rowsDropped: 0,
      bytesRead: 1,
      batches: 1,
    },
    errors:
      status === 'failed' ? [{ stage: 'extract', code: 'source_failed', message: 'connection refused' }] : [],
    errorsTotal: 0,
    ...(validity !== undefined ? { quality: { status: 'ok', columns: [{ validity }] } } : {}),
    updatedAt: Date.now(),
  }
}

describe('rollouts', () => {
  let ctx: ControlPlaneContext & { close(): Promise<void> }
  beforeEach(async () => {
    ctx = testContext()
    for (let v = 1; v <= 2; v++)
      await ctx.store.addPipelineVersion({
        name: 'p',
        hash: `h${v}`,
        specJson: spec(v),
        author: 'x',
        createdAt: v,
      })
    await ctx.store.setStableVersion('p', 1)
    for (const id of ['a1', 'a2', 'a3', 'a4']) await ctx.store.putAgent(agent(id))
    await ctx.store.putAgent(agent('kiosk', 'kiosk'))
  })
  afterEach(() => ctx.close())

  const apply = (ids: string[], version: number, state: 'applied' | 'failed' = 'applied', error?: string) =>
    Promise.all(
      ids.map((id) =>
        ctx.store.updateAgent(id, (a) => ({
          ...a,
          applied: [{ name: 'p', version, hash: `h${version}`, state, ...(error ? { error } : {}) }],
        })),
      ),
    )
  const versionsOf = async () => {
    const out: Record<string, number | undefined> = {}
    for (const id of ['a1', 'a2', 'a3', 'a4', 'kiosk']) {
      const a = (await ctx.store.getAgent(id))!
      out[id] = (await ctx.catalog.assignmentsFor(a)).find((x) => x.name === 'p')?.version
    }
    return out
  }

  it('reads wave sizes, refusing what is not a count or a percentage', () => {
    expect(normalizeWaves(undefined)).toEqual([1, '100%'])
    expect(normalizeWaves([1, '25%'])).toEqual([1, '25%', '100%'])
    expect(() => normalizeWaves(['half'])).toThrow(
      'wave "half" is neither a count of agents (1, 5) nor a percentage (25%)',
    )
    expect(() => normalizeWaves(['150%'])).toThrow('wave "150%"')
  })

  it('moves wave by wave once the wave has applied and soaked, then makes the version stable', async () => {
    const r = await ctx.rollouts.begin(
      'p',
      1,
      2,
      { role: 'pos' },
      { strategy: 'canary', waves: [1, '50%'], soakMs: 1000 },
      'token:t',
    )
    expect(r.waves.map((w) => w.size)).toEqual([1, '50%', '100%'])
    expect(r.waves[0]!.agents).toEqual(['a1'])
    expect(await versionsOf()).toEqual({ a1: 2, a2: 1, a3: 1, a4: 1, kiosk: undefined })
    const now = Date.now()
    await ctx.rollouts.evaluate(now)
    expect((await ctx.store.getRollout(r.id))?.currentWave).toBe(0)
    await apply(['a1'], 2)
    await ctx.rollouts.evaluate(now)
    await ctx.rollouts.evaluate(now + 500)
    expect((await ctx.store.getRollout(r.id))?.currentWave).toBe(0)
    await ctx.rollouts.evaluate(now + 1000)
    const second = (await ctx.store.getRollout(r.id))!
    expect(second.currentWave).toBe(1)
    expect(second.waves[1]!.agents).toEqual(['a2'])
    expect(await versionsOf()).toMatchObject({ a1: 2, a2: 2, a3: 1, a4: 1 })
    const statuses = await ctx.rollouts.agentStatuses(second)
    expect(statuses.map((s) => `${s.agentId}:${s.wave}:${s.status}`)).toEqual([
      'a1:0:applied',
      'a2:1:applying',
      'a3:null:waiting',
      'a4:null:waiting',
    ])
    await apply(['a2'], 2)
    await ctx.rollouts.evaluate(now + 2000)
    await ctx.rollouts.evaluate(now + 3000)
    await apply(['a3', 'a4'], 2)
    await ctx.rollouts.evaluate(now + 4000)
    await ctx.rollouts.evaluate(now + 5000)
    expect(await ctx.store.getRollout(r.id)).toMatchObject({ state: 'completed' })
    expect(await ctx.store.getPipeline('p')).toMatchObject({ stableVersion: 2 })
    expect(await versionsOf()).toEqual({ a1: 2, a2: 2, a3: 2, a4: 2, kiosk: undefined })
  })

  it('pauses a wave when an agent cannot apply, a run fails, or data quality drops; abort goes back', async () => {
    const plan = { strategy: 'canary' as const, waves: [2], soakMs: 0 }
    let r = await ctx.rollouts.begin('p', 1, 2, { role: 'pos' }, plan, 'token:t')
    await apply(['a1'], 2, 'failed', 'unknown source type')
    await ctx.rollouts.evaluate()
    expect(await ctx.store.getRollout(r.id)).toMatchObject({
      state: 'paused',
      pausedReason: 'agent a1 (a1) could not apply version 2: unknown source type',
    })
    await ctx.rollouts.abort(r.id, 'token:t')
    expect(await versionsOf()).toMatchObject({ a1: 1, a2: 1 })

    r = await ctx.rollouts.begin('p', 1, 2, { role: 'pos' }, plan, 'token:t')
    await apply(['a1', 'a2'], 2)
    await ctx.store.recordRun(run('r-bad', 'a2', 2, 'failed'))
    await ctx.rollouts.evaluate()
    expect((await ctx.store.getRollout(r.id))?.pausedReason).toBe(
      'run r-bad of version 2 on agent a2 failed: connection refused',
    )
    await expect(ctx.rollouts.pause(r.id, 'token:t')).rejects.toThrow(
      `rollout ${r.id} is paused, not running`,
    )
    await ctx.rollouts.abort(r.id, 'token:t')

    await ctx.store.recordRun({
      ...run('r-base', 'a3', 1, 'succeeded', 0.99),
      startedAt: Date.now() - 10_000,
    })
    r = await ctx.rollouts.begin('p', 1, 2, { role: 'pos' }, plan, 'token:t')
    await apply(['a1', 'a2'], 2)
    await ctx.store.recordRun(run('r-worse', 'a1', 2, 'succeeded', 0.9))
    await ctx.rollouts.evaluate()
    expect((await ctx.store.getRollout(r.id))?.pausedReason).toBe(
      'data quality of version 2 fell below version 1: validity 0.9000 < 0.9900 (run r-worse)',
    )
    // Resumed, the gates look only at what happens from then on.
    await ctx.rollouts.resume(r.id, 'token:t')
    await ctx.rollouts.evaluate(Date.now() + 10)
    expect(await ctx.store.getRollout(r.id)).toMatchObject({ state: 'running', currentWave: 1 })
    const audit = await ctx.store.listAudit({ action: 'rollout' })
    expect(audit.map((a) => `${a.actor} ${a.action}`)).toContain(`system rollout.pause`)
  })

  it('refuses a canary to no agent and a second rollout while one is active', async () => {
    await expect(
      ctx.rollouts.begin('p', 1, 2, { role: 'none' }, { strategy: 'canary' }, 'token:t'),
    ).rejects.toThrow('no agent matches the selector of p version 2; a canary needs at least one')
    await ctx.rollouts.begin('p', 1, 2, { role: 'pos' }, { strategy: 'canary' }, 'token:t')
    await expect(
      ctx.rollouts.begin('p', 1, 2, { role: 'pos' }, { strategy: 'all' }, 'token:t'),
    ).rejects.toThrow(/already has a running rollout/)
  })
})
