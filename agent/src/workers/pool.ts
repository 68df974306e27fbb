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
    })
  }

  get threads(): number {
    return this.pool.threads.length
  }

  async process(request: ProcessRequest): Promise<ProcessResult> {
    const response = (await this.pool.run(request, {
      transferList: [request.bytes.buffer as ArrayBuffer],
    })) as WorkerResponse
    if (response.type === 'error') throw new WorkerTaskError(response.error)
    return response
  }

  async close(): Promise<void> {
    await this.pool.close({ force: false })
  }
}
