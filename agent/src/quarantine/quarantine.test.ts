import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AgentState, type QuarantineEntry } from '../state/store.js'
import { listQuarantine, quarantineReader } from './quarantine.js'

const dir = mkdtempSync(join(tmpdir(), 'outpost-quarantine-'))
const state = AgentState.open(dir, { lock: false })
afterAll(async () => {
  await state.close()
  rmSync(dir, { recursive: true, force: true })
})

const big = 'z'.repeat(3 * 1024 * 1024)
const entry = (record: number): QuarantineEntry => ({
  pipeline: 'p',
  version: 1,
  runId: 'r1',
  source: '/in/a.ndjson',
  record,
  reason: `column "note" holds ${big.length} bytes; max_field_bytes is 1048576`,
  rule: 'max_field_bytes',
  column: 'note',
  value: big,
  row: { id: record, note: big },
  columns: [
    { name: 'id', type: 'float' },
    { name: 'note', type: 'string' },
  ],
  at: 0,
})

describe('quarantine of rows quarantined for their size', () => {
  it('lists them with long text cut, so a listing stays small', async () => {
    await state.quarantine.put(['p', 'r1', 1], entry(1))
    const listing = listQuarantine(state, 'p')
    const clipped = `${'z'.repeat(1000)}… (${big.length} characters)`
    expect(listing.entries[0]).toMatchObject({ value: clipped, row: { id: 1, note: clipped } })
    expect(JSON.stringify(listing).length).toBeLessThan(10_000)
  })

  it('replays them in chunks of a few MiB, not thousands of such rows at once', async () => {
    for (let seq = 2; seq <= 5; seq++) await state.quarantine.put(['p', 'r1', seq], entry(seq))
    const rows: number[] = []
    for await (const chunk of quarantineReader(state, 'p', {}, 'r2').chunks(AbortSignal.timeout(10_000))) {
      rows.push(chunk.replay?.keys.length ?? 0)
      expect(chunk.bytes.length).toBeLessThan(8 * 1024 * 1024)
    }
    expect(rows).toEqual([2, 2, 1])
  })
})
