import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'

function base32(value: number, length: number): string {
  let out = ''
  let v = value
  for (let i = 0; i < length; i++) {
    out = ALPHABET[v % 32]! + out
    v = Math.floor(v / 32)
  }
  return out
}

/** Time-ordered id: 10 characters of milliseconds, then `randomChars` random ones (lowercase, subject-safe). */
export function sortableId(prefix: string, randomChars = 8, now = Date.now()): string {
  const bytes = randomBytes(randomChars)
  let rand = ''
  for (const b of bytes) rand += ALPHABET[b % 32]
  return `${prefix}${base32(now, 10)}${rand}`
}

export const newRunId = (now?: number) => sortableId('r', 8, now)
