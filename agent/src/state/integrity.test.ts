// Damaged state files are refused with a clear message, and recovery copies what can be read.
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { checkStateFile, recoverStateFile } from './integrity.js'
import { AgentState } from './store.js'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function filledState(entries: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-integrity-'))
  dirs.push(dir)
  const state = AgentState.open(dir)
  await state.setIdentity({
    agentId: 'agt-test',
    credential: 'c',
    name: 'n',
    controlPlane: 'x:1',
    labels: {},
    natsServers: [],
    subjectPrefix: '',
    enrolledAt: 1,
  })
  for (let i = 0; i < entries; i++) {
    state.root.transactionSync(() => {
      state.outbox.put(['nats', i], Buffer.alloc(3000, i % 256))
      state.cursors.put(['p', 'file', String(i)], { offset: i })
    })
  }
  await state.close()
  return dir
}

describe('agent state integrity', () => {
  it('reads a healthy file and opens it without a check after a clean shutdown', async () => {
    const dir = await filledState(50)
    expect(checkStateFile(join(dir, 'state.mdb'))).toEqual({ ok: true, entries: 101 })
    expect(existsSync(join(dir, 'clean-shutdown'))).toBe(true)
    const state = AgentState.open(dir)
    expect(state.identity?.agentId).toBe('agt-test')
    await state.close()
  })

  it('refuses a truncated file after an unclean stop, naming the recovery command', async () => {
    const dir = await filledState(1500)
    rmSync(join(dir, 'clean-shutdown'))
    truncateSync(join(dir, 'state.mdb'), 2_000_000)
    const result = checkStateFile(join(dir, 'state.mdb'))
    expect(result).toEqual({ ok: false, reason: 'reading it crashed with SIGBUS' })
    expect(() => AgentState.open(dir)).toThrow(
      `is damaged (reading it crashed with SIGBUS). Nothing was changed. Back it up, then run \`outpost agent state recover --state-dir ${dir}\``,
    )
    // Refusing it changed nothing.
    expect(existsSync(join(dir, 'state.mdb'))).toBe(true)
  })

  it('refuses a file whose header was overwritten', async () => {
    const dir = await filledState(10)
    const fd = openSync(join(dir, 'state.mdb'), 'r+')
    writeSync(fd, Buffer.alloc(64, 0x41), 0, 64, 0)
    closeSync(fd)
    expect(() => AgentState.open(dir)).toThrow(/is not a valid LMDB file .*outpost agent state recover/)
  })

  it('recovers into a fresh file, keeps the damaged one, and restores the identity from identity.json', async () => {
    const dir = await filledState(1500)
    truncateSync(join(dir, 'state.mdb'), 2_000_000)
    const report = await recoverStateFile(dir)
    expect(existsSync(report.damagedFile)).toBe(true)
    expect(report.identityFromBackup).toBe(true)
    const state = AgentState.open(dir)
    expect(state.identity?.agentId).toBe('agt-test')
    await state.close()
  })

  it('recovers everything from a file that is only missing its clean-shutdown marker', async () => {
    const dir = await filledState(30)
    const report = await recoverStateFile(dir)
    expect(report.databases.find((d) => d.name === 'outbox')).toEqual({
      name: 'outbox',
      copied: 30,
      skipped: 0,
      lostRest: false,
    })
    expect(report.databases.find((d) => d.name === 'cursors')).toMatchObject({ copied: 30, skipped: 0 })
    const state = AgentState.open(dir)
    expect([...state.outbox.getKeys({})].length).toBe(30)
    await state.close()
  })
})
