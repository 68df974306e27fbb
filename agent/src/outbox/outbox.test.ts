import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AgentState } from '../state/store.js'
import { NATS_LANE, Outbox, sinkLane } from './outbox.js'

const dirs: string[] = []
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'outpost-outbox-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const entry = (lane: string, id: string, size = 10) => ({
  lane,
  header: { id, kind: 'data' as const, createdAt: Date.now(), subject: 's' },
  payload: new Uint8Array(size).fill(1),
})

describe('outbox', () => {
  it('keeps lanes in order, counts bytes, and removes only what was acknowledged', async () => {
    const state = AgentState.open(stateDir())
    const outbox = new Outbox(state)
    await outbox.append([entry(NATS_LANE, 'a'), entry(sinkLane('p', 0), 'b'), entry(NATS_LANE, 'c', 100)])
    expect(outbox.read(NATS_LANE, 0, 10).map((r) => r.header.id)).toEqual(['a', 'c'])
    expect(outbox.read(sinkLane('p', 0), 0, 10).map((r) => r.header.id)).toEqual(['b'])
    const stats = outbox.stats()
    expect(stats.batches).toBe(3)
    expect(stats.lanes[NATS_LANE]?.batches).toBe(2)
    const [first] = outbox.read(NATS_LANE, 0, 1)
    expect(new Uint8Array(first!.payload)).toEqual(new Uint8Array(10).fill(1))
    await outbox.remove([first!])
    expect(outbox.read(NATS_LANE, 0, 10).map((r) => r.header.id)).toEqual(['c'])
    expect(outbox.stats().batches).toBe(2)
    await state.close()
  })

  it('never reuses a sequence number, even after a full drain and a restart', async () => {
    const dir = stateDir()
    let state = AgentState.open(dir)
    let outbox = new Outbox(state)
    await outbox.append([entry(NATS_LANE, 'a'), entry(NATS_LANE, 'b')])
    const seqs = outbox.read(NATS_LANE, 0, 10).map((r) => r.seq)
    await outbox.remove(outbox.read(NATS_LANE, 0, 10))
    await state.close()
    state = AgentState.open(dir)
    outbox = new Outbox(state)
    expect(outbox.stats().batches).toBe(0)
    await outbox.append([entry(NATS_LANE, 'c')])
    const [c] = outbox.read(NATS_LANE, 0, 10)
    expect(c!.seq).toBeGreaterThan(Math.max(...seqs))
    await state.close()
  })

  it('commits entries together with other writes of the same transaction, or not at all', async () => {
    const state = AgentState.open(stateDir())
    const outbox = new Outbox(state)
    expect(() =>
      state.root.transactionSync(() => {
        outbox.appendInTransaction([entry(NATS_LANE, 'x')])
        state.cursors.put(['p', 'k'], 1)
        throw new Error('boom')
      }),
    ).toThrow('boom')
    expect(outbox.read(NATS_LANE, 0, 10)).toEqual([])
    expect(state.cursors.get(['p', 'k'])).toBeUndefined()
    await state.close()
  })
})

describe('agent state directory', () => {
  it('refuses a directory another live agent holds', async () => {
    const dir = stateDir()
    const state = AgentState.open(dir)
    expect(() => AgentState.open(dir)).toThrow(/is already open in this process/)
    await state.close()
    const again = AgentState.open(dir)
    await again.close()
  })
})
