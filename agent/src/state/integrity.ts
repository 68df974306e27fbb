/**
 * Checking and recovering the agent's LMDB file. A damaged file can crash the process that reads
 * it (a truncated file is a SIGBUS), so both run in a child process: the check reads every entry;
 * the recovery copies every entry it can read into a fresh file, skipping (and counting) the ones
 * that crash it, and keeps the damaged file beside it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { open } from 'lmdb'

export const STATE_DATABASES = [
  { name: 'meta', encoding: 'msgpack' },
  { name: 'cursors', encoding: 'msgpack' },
  { name: 'quarantine', encoding: 'msgpack' },
  { name: 'dedupe', encoding: 'msgpack' },
  { name: 'aggregates', encoding: 'msgpack' },
  { name: 'outbox', encoding: 'binary' },
  { name: 'specs', encoding: 'msgpack' },
] as const

export const IDENTITY_FILE = 'identity.json'

export function readIdentityBackup(dir: string): unknown {
  try {
    return JSON.parse(readFileSync(join(dir, IDENTITY_FILE), 'utf8'))
  } catch {
    return undefined
  }
}

function lmdbUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('lmdb')).href
}

// Output goes through writeSync: a process killed by SIGBUS loses whatever stdout still buffers.
const CHECK = `
import { writeSync } from 'node:fs'
const { open } = await import(process.env.OUTPOST_LMDB_URL)
const root = open({ path: process.argv[1], readOnly: true, maxDbs: 16, compression: false })
let entries = 0
const names = new Set(root.getKeys({}))
for (const { name, encoding } of JSON.parse(process.env.OUTPOST_DBS)) {
  if (!names.has(name)) continue
  const db = root.openDB({ name, encoding })
  for (const { value } of db.getRange({})) { entries++; if (value === undefined) throw new Error('unreadable entry in ' + name) }
}
writeSync(1, String(entries))
`

export type CheckResult = { ok: true; entries: number } | { ok: false; reason: string }

/** Reads every entry of the file in a child process; a crash or an error means damage. */
export function checkStateFile(path: string): CheckResult {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHECK, path], {
    encoding: 'utf8',
    env: { ...process.env, OUTPOST_LMDB_URL: lmdbUrl(), OUTPOST_DBS: JSON.stringify(STATE_DATABASES) },
    timeout: 15 * 60_000,
  })
  if (r.status === 0) return { ok: true, entries: Number(r.stdout) }
  const why = r.signal
    ? `reading it crashed with ${r.signal}`
    : (r.stderr
        .trim()
        .split('\n')
        .find((l) => l.includes('Error')) ??
      r.stderr.trim().split('\n')[0] ??
      `exit ${r.status}`)
  return { ok: false, reason: why }
}

// Lists a database's keys (one JSON line each) until the end or until the file breaks the reader.
const KEYS = `
import { writeSync } from 'node:fs'
const { open } = await import(process.env.OUTPOST_LMDB_URL)
const [from, name, encoding] = process.argv.slice(1)
const root = open({ path: from, readOnly: true, maxDbs: 16, compression: false })
if ([...root.getKeys({})].includes(name)) {
  for (const key of root.openDB({ name, encoding }).getKeys({})) writeSync(1, JSON.stringify(key) + '\\n')
}
writeSync(1, 'DONE\\n')
`

// Copies the listed keys from index argv[5] on, committing each before reading the next, so that
// when a damaged page kills the process the parent knows exactly which entry broke it.
const COPY = `
import { readFileSync, writeSync } from 'node:fs'
const { open } = await import(process.env.OUTPOST_LMDB_URL)
const [from, to, name, encoding, keysFile, startText] = process.argv.slice(1)
const keys = readFileSync(keysFile, 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l))
const targetRoot = open({ path: to, maxDbs: 16, compression: false, noSync: true })
const target = targetRoot.openDB({ name, encoding })
const source = open({ path: from, readOnly: true, maxDbs: 16, compression: false }).openDB({ name, encoding })
for (let i = Number(startText); i < keys.length; i++) {
  writeSync(1, 'T ' + i + '\\n')
  const value = source.get(keys[i])
  if (value !== undefined) targetRoot.transactionSync(() => target.put(keys[i], value))
  writeSync(1, 'C ' + i + '\\n')
}
writeSync(1, 'DONE\\n')
`

export interface RecoveryReport {
  damagedFile: string
  /** The identity came back from identity.json because the state file had lost it. */
  identityFromBackup: boolean
  databases: { name: string; copied: number; skipped: number; lostRest: boolean }[]
}

/**
 * Moves the damaged file aside and copies what can be read into a fresh state.mdb. Entries that
 * crash the reader are skipped and counted; nothing is deleted.
 */
export async function recoverStateFile(dir: string): Promise<RecoveryReport> {
  const path = join(dir, 'state.mdb')
  if (!existsSync(path)) throw new Error(`no state file at ${path}`)
  const damaged = join(dir, `state.mdb.damaged-${new Date().toISOString().replaceAll(':', '-')}`)
  renameSync(path, damaged)
  rmSync(`${path}-lock`, { force: true })
  const report: RecoveryReport = { damagedFile: damaged, identityFromBackup: false, databases: [] }
  const env = { ...process.env, OUTPOST_LMDB_URL: lmdbUrl() }
  const keysFile = join(dir, '.recover-keys')
  for (const { name, encoding } of STATE_DATABASES) {
    const listing = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', KEYS, damaged, name, encoding],
      { encoding: 'utf8', env, maxBuffer: 1 << 30 },
    )
    const lines = listing.stdout.split('\n').filter(Boolean)
    const lostRest = lines.at(-1) !== 'DONE'
    const keys = lostRest ? lines : lines.slice(0, -1)
    writeFileSync(keysFile, `${keys.join('\n')}\n`)
    let copied = 0
    let skipped = 0
    let at = 0
    // Skip one entry after a crash, doubling while crashes come without progress: a damaged
    // region costs a few attempts, not one per entry.
    let skip = 1
    for (let attempt = 0; at < keys.length && attempt < 1000; attempt++) {
      const r = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', COPY, damaged, path, name, encoding, keysFile, String(at)],
        {
          encoding: 'utf8',
          env,
          maxBuffer: 1 << 30,
          timeout: 15 * 60_000,
        },
      )
      const out = r.stdout.split('\n').filter(Boolean)
      const done = out.filter((l) => l.startsWith('C ')).length
      copied += done
      if (out.at(-1) === 'DONE') break
      const broken = Number(out.at(-1)?.slice(2) ?? at)
      skip = done > 0 ? 1 : skip * 2
      const next = Math.min(keys.length, broken + skip)
      skipped += next - broken
      at = next
    }
    report.databases.push({ name, copied, skipped, lostRest })
  }
  rmSync(keysFile, { force: true })
  // The fresh file exists even when nothing could be copied, and gets the identity back from its
  // separate copy when it was lost with the rest.
  const root = open({ path, maxDbs: 16, compression: false })
  const meta = root.openDB({ name: 'meta' })
  const backup = readIdentityBackup(dir)
  if (!meta.get('identity') && backup) {
    root.transactionSync(() => meta.put('identity', backup))
    report.identityFromBackup = true
  }
  root.transactionSync(() => meta.put('recoveredAt', Date.now()))
  await root.flushed
  await root.close()
  return report
}
