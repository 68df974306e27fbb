/**
 * The agent's disk budget for undelivered data. When the outbox is full, each pipeline's policy
 * decides: `block` pauses its extraction until batches are delivered; `drop_oldest` drops its own
 * oldest undelivered batches, and says exactly how many rows that was.
 */
import { SinkError } from '@outpost/shared'
import type { Logger } from '../log.js'
import type { Outbox } from './outbox.js'

export interface Dropped {
  batches: number
  rows: number
}

export interface OutboxBudget {
  readonly limitBytes: number
  /** Waits for (block) or makes (drop_oldest) room for `bytes` more. */
  reserve(
    pipeline: string,
    policy: 'block' | 'drop_oldest',
    bytes: number,
    signal: AbortSignal,
  ): Promise<Dropped>
}

export class DiskBudget implements OutboxBudget {
  constructor(
    private readonly outbox: Outbox,
    readonly limitBytes: number,
    private readonly log: Logger,
  ) {}

  async reserve(
    pipeline: string,
    policy: 'block' | 'drop_oldest',
    bytes: number,
    signal: AbortSignal,
  ): Promise<Dropped> {
    if (bytes > this.limitBytes) {
      throw new SinkError(
        `a batch of ${bytes} bytes does not fit in the outbox's whole disk budget of ${this.limitBytes} bytes`,
        false,
      )
    }
    const dropped: Dropped = { batches: 0, rows: 0 }
    let paused = false
    while (this.outbox.totalBytes() + bytes > this.limitBytes) {
      if (policy === 'drop_oldest') {
        const freed = this.outbox.dropOldest(pipeline, this.outbox.totalBytes() + bytes - this.limitBytes)
        dropped.batches += freed.batches
        dropped.rows += freed.rows
        if (freed.batches > 0) {
          this.log.warn('outbox full: dropped the oldest undelivered batches', {
            pipeline,
            batches: freed.batches,
            rows: freed.rows,
          })
          continue
        }
        // Nothing of this pipeline left to drop: the rest belongs to others; wait like block.
      }
      if (!paused) {
        paused = true
        this.log.warn('outbox full: extraction paused until batches are delivered', {
          pipeline,
          outboxBytes: this.outbox.totalBytes(),
          budgetBytes: this.limitBytes,
        })
      }
      await this.outbox.nextRemoval(signal, 1000)
      if (signal.aborted) throw signal.reason
    }
    if (paused) this.log.info('outbox has room again: extraction resumes', { pipeline })
    return dropped
  }
}
