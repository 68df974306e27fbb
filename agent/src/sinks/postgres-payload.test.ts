import type { RowBatch } from '@outpost/shared/batch'
import { describe, expect, it } from 'vitest'
import { binaryRows } from '../db/copy-binary.js'
import { copyText } from '../db/copy-text.js'
import { decodePgPayload, encodePgPayload } from './postgres.js'

const batch: RowBatch = {
  columns: [
    { name: 'id', type: 'int' },
    { name: 'at', type: 'timestamp' },
    { name: 'name', type: 'string' },
    { name: 'amount', type: 'decimal' },
  ],
  rows: [
    [1, 1_735_689_600_000_000, 'Anna Müller', '12.50'],
    [2, null, 'tab\there', null],
  ],
}
const names = batch.columns.map((c) => c.name)

describe('postgres sink payload (worker → outbox → sink)', () => {
  it('carries the rows columnar: binary COPY from the bytes, COPY text of the same rows when asked', () => {
    const load = decodePgPayload(encodePgPayload(batch))
    expect(load.columns).toEqual(batch.columns)
    const copy = typeof load.copy === 'function' ? load.copy() : load.copy
    expect(copy).toBe(copyText(batch.columns, batch.rows, names))
    const binary = load.binary?.()
    expect(binary).toBeDefined()
    // Two rows of four fields: 2 + 4 × 4 bytes each, plus the values.
    expect(binaryRows(binary!).length).toBe(2 * (2 + 16) + (8 + 8 + 12 + 12) + (8 + 8))
  })

  it('sends rows of text only as COPY text, as it read them', () => {
    const strings: RowBatch = {
      columns: [{ name: 'a', type: 'string' }],
      rows: [['x\ty'], [null]],
    }
    const load = decodePgPayload(encodePgPayload(strings))
    expect(load.binary).toBeUndefined()
    expect(new TextDecoder().decode(load.copy as Uint8Array)).toBe('x\\ty\n\\N\n')
  })

  it('still reads a payload of the earlier format (COPY text) left in an outbox across an upgrade', () => {
    const text = copyText(batch.columns, batch.rows, names)
    const head = new TextEncoder().encode(JSON.stringify({ columns: batch.columns }))
    const body = new TextEncoder().encode(text)
    const old = new Uint8Array(4 + head.length + body.length)
    new DataView(old.buffer).setUint32(0, head.length, true)
    old.set(head, 4)
    old.set(body, 4 + head.length)
    const load = decodePgPayload(old)
    expect(load.columns).toEqual(batch.columns)
    expect(new TextDecoder().decode(load.copy as Uint8Array)).toBe(text)
    expect(load.binary).toBeUndefined()
  })
})
