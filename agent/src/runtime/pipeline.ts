import { createHash } from 'node:crypto'
import { normalizeSchedule, type Pipeline, type Schedule, validatePipeline } from '@outpost/shared'
import type { StoredPipeline } from '../state/store.js'

/** A pipeline version ready to run on this agent. */
export interface RunnablePipeline {
  name: string
  version: number
  hash: string
  specJson: string
  pipeline: Pipeline
  schedule: Schedule
  /** Cache key for the compiled form in workers. */
  key: string
}

export function specHash(specJson: string): string {
  return createHash('sha256').update(specJson).digest('hex')
}

/** Validates a stored assignment; a spec this agent cannot run comes back as an error message. */
export function toRunnable(stored: StoredPipeline): RunnablePipeline | { error: string } {
  let document: unknown
  try {
    document = JSON.parse(stored.specJson)
  } catch (error) {
    return { error: `spec is not JSON: ${(error as Error).message}` }
  }
  const parsed = validatePipeline(document)
  if (!parsed.ok) return { error: parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ') }
  const pipeline = parsed.value.pipeline
  return {
    name: stored.name,
    version: stored.version,
    hash: stored.hash,
    specJson: stored.specJson,
    pipeline,
    schedule: normalizeSchedule(pipeline.spec.schedule),
    key: `${stored.name}@${stored.hash.slice(0, 16)}`,
  }
}
