/** Keys of rows as text: equal exactly when the key values are equal (dedupe, lookup). */
import { createHash } from 'node:crypto'
import { bytesToBase64, type Value } from '@outpost/shared/batch'

/** Keys longer than this are kept as their sha256 (LMDB keys have a size limit). */
const MAX_KEY_LENGTH = 400

function part(v: Value): string {
  if (v === null) return '\u0000'
  if (typeof v === 'string') return `s${v}`
  if (typeof v === 'number' || typeof v === 'bigint') return `n${v}`
  if (typeof v === 'boolean') return `b${v}`
  return `x${bytesToBase64(v)}`
}

export function rowKey(row: readonly Value[], indices: readonly number[]): string {
  const key =
    indices.length === 1 ? part(row[indices[0]!]!) : indices.map((i) => part(row[i]!)).join('\u0001')
  return key.length <= MAX_KEY_LENGTH ? key : `h${createHash('sha256').update(key).digest('base64')}`
}
