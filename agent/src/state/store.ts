/**
 * The agent's local state, one LMDB environment in the state directory: identity, the desired
 * pipelines (last-known-good), source cursors, the outbox and the quarantine. Writes that belong
 * together (a batch and the cursor after it) happen in one transaction.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { StateError } from '@outpost/shared'
import type { Column } from '@outpost/shared/batch'
import { type Database, open, type RootDatabase } from 'lmdb'
import type { AggregatePartial } from '../transforms/aggregate-state.js'
import { checkStateFile, IDENTITY_FILE, readIdentityBackup } from './integrity.js'

export interface AgentIdentity {
  agentId: string
  credential: string
  name: string
  controlPlane: string
  labels: Record<string, string>
  natsServers: string[]
  subjectPrefix: string
  natsUser?: string
  natsPassword?: string
  /** The agent's own NATS user nkey seed; only its public half leaves the site. */
  natsSeed?: string
  /** The last NATS user JWT the control plane issued for it, so NATS works while the control plane is away. */
  natsJwt?: string
  natsInboxPrefix?: string
  enrolledAt: number
}

/** The agent's TLS client certificate issued at enrolment (PEM), and its key made at the site. */
export interface ClientCertificateFiles {
  cert: Buffer
  key: Buffer
}

/** Files in the state directory, mode 0600 like identity.json. */
export const CLIENT_CERT_FILE = 'tls-client.pem'
export const CLIENT_KEY_FILE = 'tls-client.key'

/** Writes a file only the agent's user may read, whole or not at all. */
function writePrivateFile(path: string, data: string | Buffer): void {
  const temp = `${path}.tmp`
  writeFileSync(temp, data, { mode: 0o600 })
  renameSync(temp, path)
}

export interface StoredPipeline {
  name: string
  version: number
  hash: string
  specJson: string
}

export interface StoredDesiredState {
  revision: number
  pipelines: StoredPipeline[]
  receivedAt: number
}

export interface QuarantineEntry {
  pipeline: string
  version: number
  runId: string
  source: string
  record: number
  reason: string
  rule: string
  column?: string
  value?: string
  /** The row as read from the source, column → value, so it can be replayed. */
  row: Record<string, unknown>
  /** The row's columns and their types as read (absent in entries from before replay existed). */
  columns?: Column[]
  at: number
}

export type CursorKey = (string | number)[]

export class AgentState {
  readonly root: RootDatabase
  readonly meta: Database<unknown, string>
  readonly cursors: Database<unknown, CursorKey>
  readonly quarantine: Database<QuarantineEntry, (string | number)[]>
  readonly outbox: Database<Buffer, [string, number]>
  readonly specs: Database<StoredPipeline, [string, number]>
  /** Partial aggregates not emitted yet: [pipeline, run, seq] → partial, written with the cursor. */
  readonly aggregates: Database<AggregatePartial, [string, string, number]>
  /** Keys a dedupe step let through: [pipeline, key] → when, and in which run. */
  readonly dedupe: Database<{ at: number; run: string }, [string, string]>
  private readonly lockPath: string

  /** Directories open in this process: a second open of the same one is refused like another process's. */
  private static readonly openDirs = new Set<string>()

  private constructor(
    readonly dir: string,
    root: RootDatabase,
    lockPath: string,
  ) {
    this.root = root
    this.lockPath = lockPath
    this.meta = root.openDB({ name: 'meta' })
    this.cursors = root.openDB({ name: 'cursors' })
    this.quarantine = root.openDB({ name: 'quarantine' })
    this.outbox = root.openDB({ name: 'outbox', encoding: 'binary' })
    this.specs = root.openDB({ name: 'specs' })
    this.dedupe = root.openDB({ name: 'dedupe' })
    this.aggregates = root.openDB({ name: 'aggregates' })
  }

  /**
   * Opens (or creates) the state directory. Refuses a directory another live agent holds, and a
   * damaged LMDB file, with a message that says what to do; it never starts over silently.
   */
  static open(dir: string, options: { lock?: boolean; verify?: boolean } = {}): AgentState {
    try {
      mkdirSync(dir, { recursive: true })
    } catch (error) {
      throw new StateError(`state directory ${dir} cannot be created: ${(error as Error).message}`)
    }
    const lockPath = join(dir, 'agent.pid')
    const key = resolve(dir)
    if (AgentState.openDirs.has(key))
      throw new StateError(`state directory ${dir} is already open in this process`)
    if (options.lock !== false) acquirePidLock(lockPath, dir)
    const dbPath = join(dir, 'state.mdb')
    const cleanMarker = join(dir, 'clean-shutdown')
    try {
      checkLmdbFile(dbPath)
      // After a crash (no clean-shutdown marker), read the whole file in a child process first:
      // a damaged file must be refused here, not crash the agent later.
      if (options.verify !== false && existsSync(dbPath) && !existsSync(cleanMarker)) {
        const check = checkStateFile(dbPath)
        if (!check.ok) {
          throw new StateError(
            `agent state in ${dbPath} is damaged (${check.reason}). Nothing was changed. ` +
              `Back it up, then run \`outpost agent state recover --state-dir ${dir}\` to copy what can be read into a fresh file.`,
          )
        }
      }
      rmSync(cleanMarker, { force: true })
      const root = open({ path: dbPath, maxDbs: 16, compression: false })
      const state = new AgentState(dir, root, options.lock === false ? '' : lockPath)
      state.meta.get('identity')
      AgentState.openDirs.add(key)
      return state
    } catch (error) {
      if (options.lock !== false) rmSync(lockPath, { force: true })
      if (error instanceof StateError) throw error
      throw new StateError(
        `agent state in ${dbPath} is unreadable (${(error as Error).message}). Nothing was changed. ` +
          `Back it up, then run \`outpost agent state recover --state-dir ${dir}\` to copy what can be read into a fresh file.`,
        { cause: error },
      )
    }
  }

  get identity(): AgentIdentity | undefined {
    return (
      (this.meta.get('identity') as AgentIdentity | undefined) ??
      (readIdentityBackup(this.dir) as AgentIdentity | undefined)
    )
  }

  /** Stores the identity in LMDB and in identity.json (mode 0600), which survives a lost state file. */
  async setIdentity(identity: AgentIdentity): Promise<void> {
    this.root.transactionSync(() => this.meta.put('identity', identity))
    writePrivateFile(join(this.dir, IDENTITY_FILE), JSON.stringify(identity))
  }

  /** The TLS client certificate and key from enrolment, when the control plane issued one. */
  get clientCertificate(): ClientCertificateFiles | undefined {
    try {
      return {
        cert: readFileSync(join(this.dir, CLIENT_CERT_FILE)),
        key: readFileSync(join(this.dir, CLIENT_KEY_FILE)),
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new StateError(`cannot read the agent's TLS client certificate: ${(error as Error).message}`)
    }
  }

  /** Stores the key first: a certificate without its key would be useless. */
  setClientCertificate(files: ClientCertificateFiles): void {
    writePrivateFile(join(this.dir, CLIENT_KEY_FILE), files.key)
    writePrivateFile(join(this.dir, CLIENT_CERT_FILE), files.cert)
  }

  get desired(): StoredDesiredState | undefined {
    return this.meta.get('desired') as StoredDesiredState | undefined
  }

  /** Stores the desired state durably (flushed to disk) before the agent acknowledges it. */
  async setDesired(desired: StoredDesiredState): Promise<void> {
    this.root.transactionSync(() => {
      this.meta.put('desired', desired)
      for (const p of desired.pipelines) this.specs.put([p.name, p.version], p)
    })
  }

  async close(): Promise<void> {
    AgentState.openDirs.delete(resolve(this.dir))
    // lmdb-js 3.5: close() never settles after a transactionSync unless the flush is awaited first.
    await this.root.flushed
    await this.root.close()
    writeFileSync(join(this.dir, 'clean-shutdown'), new Date().toISOString())
    if (this.lockPath) rmSync(this.lockPath, { force: true })
  }
}

/** LMDB files start with a fixed magic number; a truncated or overwritten file is caught before LMDB maps it. */
function checkLmdbFile(path: string): void {
  let size: number
  try {
    size = statSync(path).size
  } catch {
    return
  }
  if (size === 0) throw new StateError(`agent state file ${path} is empty (truncated?)`)
  const head = Buffer.alloc(64)
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, 64, 0)
  } finally {
    closeSync(fd)
  }
  // The first meta page carries the magic 0xBEEFC0DE right after the page header.
  if (head.indexOf(Buffer.from([0xde, 0xc0, 0xef, 0xbe])) < 0) {
    throw new StateError(
      `agent state file ${path} is not a valid LMDB file (damaged or truncated). Nothing was changed. ` +
        `Back it up, then run \`outpost agent state recover --state-dir ${path.replace(/\/state\.mdb$/, '')}\`.`,
    )
  }
}

function acquirePidLock(lockPath: string, dir: string): void {
  try {
    writeFileSync(lockPath, String(process.pid), { flag: 'wx' })
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new StateError(`state directory ${dir} is not writable: ${(error as Error).message}`)
    }
  }
  const other = Number(readFileSync(lockPath, 'utf8').trim())
  if (Number.isInteger(other) && other > 0 && other !== process.pid && isAlive(other)) {
    throw new StateError(
      `another agent (pid ${other}) is using state directory ${dir}; stop it first or use another --state-dir`,
    )
  }
  writeFileSync(lockPath, String(process.pid))
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
