/** Entry point of a pool thread. Errors cross back as plain objects, recognised by `code`. */
import { existsSync, rmSync } from 'node:fs'
import { serializeError } from '@outpost/shared'
import { move, transferableSymbol, valueSymbol } from 'piscina'
import { CompiledCache } from './compiled.js'
import type { WorkerRequest, WorkerResponse } from './messages.js'
import { processChunk } from './process.js'

const cache = new CompiledCache()

/** A response whose byte arrays are transferred to the main thread, not copied. */
function transferring(value: WorkerResponse, arrays: (Uint8Array | null)[]): unknown {
  const buffers = [...new Set(arrays.filter((a): a is Uint8Array => a !== null).map((a) => a.buffer))]
  if (buffers.length === 0) return value
  return move({ [transferableSymbol]: buffers, [valueSymbol]: value } as never)
}

/**
 * A failpoint for the crash tests: while the file named by OUTPOST_FAILPOINT_WORKER_EXIT exists,
 * the thread removes it and exits in the middle of a batch, as a thread that crashes would.
 */
const crashFile = process.env.OUTPOST_FAILPOINT_WORKER_EXIT

export default async function handle(request: WorkerRequest): Promise<unknown> {
  if (crashFile && existsSync(crashFile)) {
    rmSync(crashFile, { force: true })
    process.exit(70)
  }
  try {
    const result = await processChunk(cache, request)
    return transferring(result, [...result.batches.map((b) => b.bytes), ...result.sinkPayloads])
  } catch (error) {
    return { type: 'error', error: serializeError(error) }
  }
}
