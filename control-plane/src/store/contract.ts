/**
 * The contract every Store implementation passes (LMDB now, PostgreSQL later): the same
 * behaviour for tokens, agents, pipeline versions, runs and throughput.
 */
import { describe, expect, it } from 'vitest'
import type { AgentRecord, AgentStateRecord, RolloutRecord, RunRecord, Store, TokenRecord } from './types.js'
import { AGENT_HISTORY_LIMIT } from './types.js'

const token = (over: Partial<TokenRecord> = {}): TokenRecord => ({
  id: 'tok-1',
  hash: 'h1',
  description: '',
  labels: { site: 'a' },
  createdAt: 1,
  expiresAt: Date.now() + 60_000,
  maxUses: 2,
  uses: 0,
  ...over,
})

const agent = (id: string): AgentRecord => ({
  id,
  name: id,
  labels: {},
  credentialHash: 'x',
  tokenId: 'tok-1',
  enrolledAt: 1,
  agentVersion: '0.1.0',
  connected: false,
  applied: [],
})

const run = (id: string, status: RunRecord['status'], startedAt: number, pipeline = 'p'): RunRecord => ({
  id,
  agentId: 'a1',
  pipeline,
  version: 1,
  status,
  trigger: 'schedule',
  startedAt,
  counts: {
    rowsRead: 1,
    rowsWritten: 1,
    rowsQuarantined: 0,
    rowsFiltered: 0,
    rowsDropped: 0,
    bytesRead: 1,
    batches: 1,
  },
  errors: [],
  errorsTotal: 0,
  updatedAt: startedAt,
})

export function storeContract(name: string, open: () => Promise<Store>): void {
  describe(`${name} store contract`, () => {
    it('redeems tokens until expired, used up or revoked', async () => {
      const store = await open()
      await store.createToken(token())
      await store.createToken(token({ id: 'tok-2', hash: 'h2', expiresAt: Date.now() - 1 }))
      expect(await store.redeemToken('h1', Date.now())).toMatchObject({ id: 'tok-1', uses: 1 })
      expect(await store.redeemToken('h1', Date.now())).toMatchObject({ uses: 2 })
      expect(await store.redeemToken('h1', Date.now())).toEqual({
        refused: 'enrolment token used up (2 uses)',
      })
      expect(await store.redeemToken('h2', Date.now())).toEqual({ refused: 'enrolment token expired' })
      expect(await store.redeemToken('nope', Date.now())).toEqual({ refused: 'unknown enrolment token' })
      await store.createToken(token({ id: 'tok-3', hash: 'h3' }))
      expect(await store.revokeToken('tok-3', Date.now())).toBe(true)
      expect(await store.redeemToken('h3', Date.now())).toEqual({ refused: 'enrolment token revoked' })
      expect((await store.listTokens()).length).toBe(3)
      await store.close()
    })

    it('stores and updates agents', async () => {
      const store = await open()
      await store.putAgent(agent('a1'))
      await store.putAgent(agent('a2'))
      expect(await store.updateAgent('a1', (a) => ({ ...a, connected: true }))).toMatchObject({
        connected: true,
      })
      expect(await store.updateAgent('missing', (a) => a)).toBeUndefined()
      expect((await store.listAgents()).map((a) => a.id).sort()).toEqual(['a1', 'a2'])
      expect(await store.getAgent('a1')).toMatchObject({ connected: true })
      await store.close()
    })

    it('numbers pipeline versions, refuses stale edits and bumps the revision', async () => {
      const store = await open()
      const r0 = await store.configRevision()
      const v = (specJson: string) => ({
        name: 'p',
        hash: specJson,
        specJson,
        author: 'me',
        createdAt: Date.now(),
      })
      expect(await store.addPipelineVersion(v('a'))).toMatchObject({ record: { version: 1 } })
      expect(await store.addPipelineVersion(v('b'), 1)).toMatchObject({ record: { version: 2 } })
      expect(await store.addPipelineVersion(v('c'), 1)).toEqual({ conflict: 2 })
      expect((await store.listPipelineVersions('p')).map((x) => x.version)).toEqual([1, 2])
      expect(await store.getPipeline('p')).toMatchObject({ latestVersion: 2 })
      expect(await store.configRevision()).toBe(r0 + 2)
      expect(await store.deletePipeline('p')).toBe(true)
      expect(await store.deletePipeline('p')).toBe(false)
      expect(await store.getPipeline('p')).toBeUndefined()
      expect(await store.getPipelineVersion('p', 1)).toMatchObject({ specJson: 'a' })
      await store.close()
    })

    it('never sets a finished run back to running, and lists newest first with filters', async () => {
      const store = await open()
      await store.recordRun(run('r1', 'running', 100))
      await store.recordRun(run('r1', 'succeeded', 100))
      expect(await store.recordRun(run('r1', 'running', 100))).toMatchObject({ status: 'succeeded' })
      await store.recordRun(run('r2', 'failed', 200, 'q'))
      await store.recordRun(run('r3', 'succeeded', 300))
      expect((await store.listRuns({})).map((r) => r.id)).toEqual(['r3', 'r2', 'r1'])
      expect((await store.listRuns({ pipeline: 'p' })).map((r) => r.id)).toEqual(['r3', 'r1'])
      expect((await store.listRuns({ status: 'failed' })).map((r) => r.id)).toEqual(['r2'])
      expect((await store.listRuns({ before: 300, limit: 1 })).map((r) => r.id)).toEqual(['r2'])
      await store.close()
    })

    it('finds API tokens by hash, revokes them, and keeps an audit log newest first', async () => {
      const store = await open()
      await store.createApiToken({
        id: 'k1',
        name: 'ci',
        role: 'operator',
        hash: 'hk1',
        createdAt: 1,
        createdBy: 'x',
      })
      expect(await store.findApiToken('hk1')).toMatchObject({ id: 'k1', role: 'operator' })
      expect(await store.findApiToken('nope')).toBeUndefined()
      expect(await store.revokeApiToken('k1', 5)).toMatchObject({ revokedAt: 5 })
      expect(await store.findApiToken('hk1')).toMatchObject({ revokedAt: 5 })
      expect(await store.revokeApiToken('missing', 5)).toBeUndefined()
      expect((await store.listApiTokens()).map((t) => t.id)).toEqual(['k1'])
      for (const [i, action] of ['pipeline.apply', 'agent.revoke', 'pipeline.delete'].entries())
        await store.appendAudit({
          at: i,
          actor: i === 1 ? 'token:admin' : 'token:ci',
          action,
          target: `t${i}`,
        })
      expect((await store.listAudit({})).map((a) => a.seq)).toEqual([3, 2, 1])
      expect((await store.listAudit({ action: 'pipeline' })).map((a) => a.action)).toEqual([
        'pipeline.delete',
        'pipeline.apply',
      ])
      expect((await store.listAudit({ actor: 'token:admin' })).map((a) => a.target)).toEqual(['t1'])
      expect((await store.listAudit({ before: 3, limit: 1 })).map((a) => a.seq)).toEqual([2])
      await store.close()
    })

    it('keeps one active rollout per pipeline, and a stable version', async () => {
      const store = await open()
      await store.addPipelineVersion({ name: 'p', hash: 'a', specJson: '{}', author: 'x', createdAt: 1 })
      await store.setStableVersion('p', 1)
      expect(await store.getPipeline('p')).toMatchObject({ stableVersion: 1 })
      const rollout = (id: string, createdAt: number): RolloutRecord => ({
        id,
        pipeline: 'p',
        fromVersion: 1,
        toVersion: 2,
        strategy: 'canary',
        waves: [{ size: 1, agents: [] }],
        currentWave: 0,
        soakMs: 0,
        state: 'running',
        createdAt,
        createdBy: 'x',
        updatedAt: createdAt,
      })
      // A new version leaves the stable one alone.
      await store.addPipelineVersion({ name: 'p', hash: 'b', specJson: '{}', author: 'x', createdAt: 2 })
      expect(await store.getPipeline('p')).toMatchObject({ latestVersion: 2, stableVersion: 1 })
      expect(await store.createRollout(rollout('r1', 1))).toMatchObject({ created: { id: 'r1' } })
      expect(await store.createRollout(rollout('r2', 2))).toMatchObject({ active: { id: 'r1' } })
      const r0 = await store.configRevision()
      await store.updateRollout('r1', (r) => ({ ...r, state: 'completed' }))
      expect(await store.configRevision()).toBe(r0 + 1)
      expect(await store.createRollout(rollout('r2', 2))).toMatchObject({ created: { id: 'r2' } })
      expect((await store.listRollouts('p')).map((r) => r.id)).toEqual(['r2', 'r1'])
      expect(await store.listRollouts('other')).toEqual([])
      expect(await store.updateRollout('nope', (r) => r)).toBeUndefined()
      await store.close()
    })

    it('adds throughput into buckets', async () => {
      const store = await open()
      const now = Date.now() - (Date.now() % 10_000)
      await store.addThroughput(now, 10, 5)
      await store.addThroughput(now, 1, 1)
      await store.addThroughput(now - 10_000, 3, 3)
      expect(await store.throughput(now - 60_000)).toEqual([
        { t: now - 10_000, rowsRead: 3, rowsWritten: 3 },
        { t: now, rowsRead: 11, rowsWritten: 6 },
      ])
      await store.close()
    })

    it("keeps each agent's samples apart, adding counters and keeping the latest outbox gauges", async () => {
      const store = await open()
      const now = Date.now() - (Date.now() % 10_000)
      await store.addAgentSample('agt-a', { t: now - 10_000, rowsRead: 4, rowsWritten: 4 })
      await store.addAgentSample('agt-a', {
        t: now,
        rowsRead: 10,
        rowsWritten: 5,
        outboxBatches: 7,
        outboxOldestAgeMs: 3000,
      })
      await store.addAgentSample('agt-a', { t: now, rowsRead: 1, rowsWritten: 1 })
      await store.addAgentSample('agt-a', {
        t: now,
        rowsRead: 0,
        rowsWritten: 0,
        outboxBatches: 2,
        outboxOldestAgeMs: 1000,
      })
      await store.addAgentSample('agt-ab', { t: now, rowsRead: 99, rowsWritten: 99 })
      // Older than the retention: pruned when a newer sample of that agent arrives.
      await store.addAgentSample('agt-a', { t: now - 7 * 3_600_000, rowsRead: 1, rowsWritten: 1 })
      await store.addAgentSample('agt-a', { t: now, rowsRead: 0, rowsWritten: 0 })
      expect(await store.agentSeries('agt-a', 0)).toEqual([
        { t: now - 10_000, rowsRead: 4, rowsWritten: 4 },
        { t: now, rowsRead: 11, rowsWritten: 6, outboxBatches: 2, outboxOldestAgeMs: 1000 },
      ])
      expect(await store.agentSeries('agt-a', now)).toHaveLength(1)
      expect(await store.agentSeries('agt-ab', 0)).toEqual([{ t: now, rowsRead: 99, rowsWritten: 99 }])
      expect(await store.agentSeries('agt-none', 0)).toEqual([])
      await store.close()
    })

    it("keeps each agent's state changes apart, newest first, without repeats, and only the latest ones", async () => {
      const store = await open()
      const state = (agentId: string, at: number, s: AgentStateRecord['state'], causes: string[] = []) => ({
        agentId,
        at,
        state: s,
        causes,
        reasons: causes.map((c) => `because ${c} (${at})`),
      })
      expect(await store.recordAgentState(state('agt-a', 1, 'online'))).toBe(true)
      // The same state again (a heartbeat) adds nothing.
      expect(await store.recordAgentState(state('agt-a', 2, 'online'))).toBe(false)
      expect(await store.recordAgentState(state('agt-a', 3, 'degraded', ['backlog']))).toBe(true)
      // Same causes in other words (the backlog grew older): no new entry.
      expect(await store.recordAgentState(state('agt-a', 4, 'degraded', ['backlog']))).toBe(false)
      expect(await store.recordAgentState(state('agt-a', 5, 'degraded', ['backlog', 'runs_failed']))).toBe(
        true,
      )
      expect(await store.recordAgentState(state('agt-ab', 5, 'revoked'))).toBe(true)
      expect(await store.recordAgentState(state('agt-a', 6, 'offline'))).toBe(true)
      expect(await store.agentStateHistory('agt-a')).toEqual([
        state('agt-a', 6, 'offline'),
        state('agt-a', 5, 'degraded', ['backlog', 'runs_failed']),
        state('agt-a', 3, 'degraded', ['backlog']),
        state('agt-a', 1, 'online'),
      ])
      expect((await store.agentStateHistory('agt-a', 2)).map((e) => e.at)).toEqual([6, 5])
      expect(await store.agentStateHistory('agt-ab')).toEqual([state('agt-ab', 5, 'revoked')])
      expect(await store.agentStateHistory('agt-none')).toEqual([])
      // Bounded: an agent that flaps keeps only its latest changes.
      for (let i = 0; i < AGENT_HISTORY_LIMIT + 20; i++)
        await store.recordAgentState(state('agt-f', 100 + i, i % 2 === 0 ? 'online' : 'offline'))
      const kept = await store.agentStateHistory('agt-f', 1000)
      expect(kept).toHaveLength(AGENT_HISTORY_LIMIT)
      expect(kept[0]?.at).toBe(100 + AGENT_HISTORY_LIMIT + 19)
      expect(kept.at(-1)?.at).toBe(120)
      await store.close()
    })
  })
}
