/**
 * The keys a dedupe step has let through, per pipeline, in the agent's LMDB: written in the same
 * transaction as the batch that carries their rows, so a key is "seen" exactly when its row is on
 * its way. Keys older than the window are pruned after each run.
 */
import type { Pipeline } from '@outpost/shared'
import type { AgentState } from '../state/store.js'

export interface SeenKey {
  at: number
  run: string
}

/** How long keys are remembered: milliseconds, or `run` for one run only. */
export type DedupeWindow = number | 'run'

export function dedupeWindow(pipeline: Pipeline): DedupeWindow | undefined {
  for (const t of pipeline.spec.transforms) if ('dedupe' in t) return t.dedupe.window
  return undefined
}

export class DedupeKeys {
  private readonly cutoff: number

  constructor(
    private readonly state: AgentState,
    private readonly pipeline: string,
    private readonly runId: string,
    private readonly window: DedupeWindow,
    now: number,
  ) {
    this.cutoff = window === 'run' ? Number.POSITIVE_INFINITY : now - window
  }

  /** The keys among these that an earlier batch of this run, or a run within the window, let through. */
  seen(keys: readonly string[]): string[] {
    return keys.filter((key) => {
      if (!key) return false
      const entry = this.state.dedupe.get([this.pipeline, key])
      return entry !== undefined && (entry.run === this.runId || entry.at >= this.cutoff)
    })
  }

  /** Inside the commit transaction. */
  record(keys: readonly string[], at: number): void {
    const value: SeenKey = { at, run: this.runId }
    for (const key of keys) if (key) this.state.dedupe.put([this.pipeline, key], value)
  }

  /** Forgets keys that left the window (with `run`, every other run's keys). */
  async prune(now: number): Promise<number> {
    const limit = this.window === 'run' ? Number.POSITIVE_INFINITY : now - this.window
    const stale: [string, string][] = []
    for (const { key, value } of this.state.dedupe.getRange({ start: [this.pipeline] })) {
      const k = key as [string, string]
      if (k[0] !== this.pipeline) break
      const seen = value as SeenKey
      if (seen.at < limit && seen.run !== this.runId) stale.push(k)
    }
    for (let i = 0; i < stale.length; i += 10_000) {
      const slice = stale.slice(i, i + 10_000)
      await this.state.root.transaction(() => {
        for (const k of slice) this.state.dedupe.remove(k)
      })
    }
    return stale.length
  }
}
