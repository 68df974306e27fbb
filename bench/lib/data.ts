/**
 * Deterministic benchmark data: a seeded CSV with ten mixed columns (integers, timestamps, text
 * with quotes and commas, emails, decimals, booleans, nulls, JSON text, floats). The same seed
 * gives the same bytes on every machine.
 */
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

export const HEADER = 'id,created_at,customer,email,amount,active,note,attrs,qty,score'

/** mulberry32: small, fast, good enough for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FIRST = [
  'Anna',
  'Bruno',
  'Chloé',
  'Dmitri',
  'Eva',
  'Farid',
  'Greta',
  'Hiro',
  'Inès',
  'Jonas',
  'Kofi',
  'Lena',
]
const LAST = ['Müller', 'Dubois', "O'Neil", 'Rossi', 'Nowak', 'García', 'Smith, Jr.', 'Silva', 'Kim', 'Novak']

export function row(i: number, rand: () => number): string {
  const first = FIRST[Math.floor(rand() * FIRST.length)] as string
  const last = LAST[Math.floor(rand() * LAST.length)] as string
  const customer = last.includes(',') ? `"${first} ${last}"` : `${first} ${last}`
  const created = new Date(Date.UTC(2025, 0, 1) + Math.floor(rand() * 300 * 86_400_000)).toISOString()
  const email = `${first.toLowerCase().replace(/[^a-z]/g, 'x')}.${i}@example.com`
  const amount = (rand() * 2000 - 100).toFixed(2)
  const active = rand() < 0.7 ? 'true' : 'false'
  const note = rand() < 0.2 ? '' : `note ${Math.floor(rand() * 1000)}`
  const attrs = `"{""tier"":${Math.floor(rand() * 4)},""tags"":[""a"",""b""]}"`
  const qty = Math.floor(rand() * 50)
  const score = (rand() * 100).toFixed(4)
  return `${i},${created},${customer},${email},${amount},${active},${note},${attrs},${qty},${score}`
}

/** Writes (once) and returns the path of a CSV with `rows` rows. */
export async function benchCsv(
  dir: string,
  rows: number,
): Promise<{ path: string; bytes: number; rows: number }> {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `bench-${rows}.csv`)
  if (!existsSync(path)) {
    const rand = prng(20261122)
    const out = createWriteStream(`${path}.tmp`)
    out.write(`${HEADER}\n`)
    let buffer: string[] = []
    for (let i = 1; i <= rows; i++) {
      buffer.push(row(i, rand))
      if (buffer.length === 10_000) {
        if (!out.write(`${buffer.join('\n')}\n`)) await new Promise<void>((r) => out.once('drain', () => r()))
        buffer = []
      }
    }
    if (buffer.length) out.write(`${buffer.join('\n')}\n`)
    await new Promise<void>((resolve) => out.end(() => resolve()))
    const { renameSync } = await import('node:fs')
    renameSync(`${path}.tmp`, path)
  }
  return { path, bytes: statSync(path).size, rows }
}
