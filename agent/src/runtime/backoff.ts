/** Exponential backoff with full jitter: retries spread out instead of arriving together. */
export class Backoff {
  private attempt = 0
  constructor(
    private readonly initialMs = 1000,
    private readonly maxMs = 30_000,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt)
    this.attempt++
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
  }

  reset(): void {
    this.attempt = 0
  }

  get attempts(): number {
    return this.attempt
  }
}
