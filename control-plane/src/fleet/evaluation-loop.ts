/**
 * Runs an evaluation (rollout gates, alert rules) on a timer and when events say something
 * changed: one at a time, and at most one a second, since thousands of agents send events.
 */
import type { Logger } from '@outpost/agent'
import type { ControlPlaneEvents, EventBus } from '../events.js'

const MIN_GAP_MS = 1000

export class EvaluationLoop {
  private timer: NodeJS.Timeout | undefined
  private chain: Promise<void> = Promise.resolve()
  private pending = false
  private lastEvaluation = 0

  constructor(
    private readonly what: string,
    private readonly evaluate: () => Promise<void>,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(events: EventBus, triggers: (keyof ControlPlaneEvents)[]): void {
    const poke = () => this.schedule()
    for (const name of triggers) events.on(name, poke)
    this.timer = setInterval(poke, this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }

  /** Runs an evaluation soon: at most one at a time, and at most one a second. */
  schedule(): void {
    if (this.pending) return
    this.pending = true
    this.chain = this.chain
      .then(async () => {
        const wait = this.lastEvaluation + MIN_GAP_MS - Date.now()
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
        this.pending = false
        this.lastEvaluation = Date.now()
        await this.evaluate()
      })
      .catch((error) => this.log.error(`${this.what} failed`, { error: (error as Error).message }))
  }
}
