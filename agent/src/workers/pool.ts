/** The piscina pool that parses, transforms and encodes; the main thread only does I/O. */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { OutpostError, type SerializedError } from '@outpost/shared'
import { Piscina } from 'piscina'
import type { ProcessRequest, ProcessResult, WorkerResponse } from './messages.js'

/** An error thrown in a worker, recreated on the main thread with its code and retryable flag. */
export class WorkerTaskError extends OutpostError {
  readonly code: string
  readonly retryable: boolean
  constructor(error: SerializedError) {
    super(error.message)
    this.name = error.name
    this.code = error.code
    this.retryable = error.retryable
  }
}

/** Young generation of a pool thread: three 64 MiB semi-spaces (see the constructor). */
const YOUNG_GENERATION_MB = 3 * 64

/** Times a chunk is tried again after the thread processing it died. */
const MAX_CRASH_RETRIES = 2

export interface PoolOptions {
  threads?: number
  maxQueue?: number
}

function workerEntry(): { filename: string; execArgv: string[] } {
  // From source (tests), run worker.ts under tsx. Bundled builds ship worker.js beside the entry
  // point; this code may sit in a split chunk one directory below it.
  const here = import.meta.url
  if (here.endsWith('.ts'))
    return { filename: fileURLToPath(new URL('./worker.ts', here)), execArgv: ['--import', 'tsx'] }
  const candidates = [new URL('./worker.js', here), new URL('../worker.js', here)].map((u) =>
    fileURLToPath(u),
  )
  const filename = candidates.find((c) => existsSync(c))
  if (!filename) throw new Error(`worker.js not found beside the bundle (looked at ${candidates.join(', ')})`)
  return { filename, execArgv: [] }
}

export class WorkerPool {
  private readonly pool: Piscina

  constructor(options: PoolOptions = {}) {
    // Two cores: one thread beside the main thread does not oversubscribe the machine.
    const threads = options.threads ?? Math.max(1, availableParallelism() - 1)
    const entry = workerEntry()
    this.pool = new Piscina({
      filename: entry.filename,
      execArgv: entry.execArgv,
      // No thread while idle (an idle agent stays small); the first run starts one.
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: 30_000,
      maxQueue: options.maxQueue ?? 64,
      // A chunk's rows stay alive while it is processed, and with V8's default 16 MiB semi-spaces
      // every scavenge copied them again: on issue 5's chain, 1.6 s of scavenges per million rows
      // (of 6 s); with 64 MiB semi-spaces, 0.3 s. The thread's heap peaks 30-40 MiB higher, only
      // while it runs (threads end when idle).
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    })
  }

  get threads(): number {
    return this.pool.threads.length
  }

  /**
   * Processes a chunk in a pool thread. A thread that dies with the chunk (a crash, not an error
   * the chunk caused) is replaced and the chunk tried again, up to twice; the result then says so.
   */
  async process(request: ProcessRequest): Promise<ProcessResult> {
    const crashes: string[] = []
    for (;;) {
      // The bytes are transferred, so each attempt but the last sends a copy.
      const bytes = crashes.length < MAX_CRASH_RETRIES ? request.bytes.slice() : request.bytes
      let response: WorkerResponse
      try {
        response = (await this.pool.run(
          { ...request, bytes },
          { transferList: [bytes.buffer as ArrayBuffer] },
        )) as WorkerResponse
      } catch (error) {
        if (crashes.length >= MAX_CRASH_RETRIES || this.closing) throw error
        crashes.push((error as Error).message)
        continue
      }
      if (response.type === 'error') throw new WorkerTaskError(response.error)
      return crashes.length > 0 ? { ...response, workerCrashes: crashes } : response
    }
  }

  private closing = false

  async close(): Promise<void> {
    this.closing = true
    await this.pool.close({ force: false })
  }
}
